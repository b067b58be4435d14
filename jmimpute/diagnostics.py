"""Convergence diagnostics of the imputation model: R-hat and ESS per parameter and group.

Rank-normalised split R-hat, bulk ESS and tail ESS (the minimum over the 5% and 95%
quantiles) follow Vehtari et al. (2021), computed by ArviZ (arviz-stats) on the
posterior on the data's scale. Every unique element of ``B``, ``Sigma`` and ``Psi`` is a
parameter (covariances as variances and covariances, as pan, jomo and Blimp report them);
entries fixed by construction (the unit scales of latent dimensions, jomo's fixed
correlations of a nominal target, the first threshold) are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.base import array_stats

RHAT_MAX = 1.01
"""Largest acceptable rank-normalised R-hat (Vehtari et al. 2021)."""
ESS_MIN = 400
"""Smallest acceptable bulk and tail ESS (100 per chain for 4 chains)."""

GROUPS = {
    "beta": "fixed effects",
    "sigma": "level-1 covariance",
    "psi": "cluster covariance",
    "gamma": "level-2 fixed effects",
    "thresholds": "thresholds",
}


def _flatten(posterior: xr.Dataset) -> dict[str, tuple[str, np.ndarray]]:
    """``{parameter name: (group, draws (chain, draw))}`` of the unique parameters."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    for var in posterior.data_vars:
        group = GROUPS.get(str(var).split("_")[0])
        if group is None:
            continue
        da = posterior[var]
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        values = da.transpose("chain", "draw", *dims).to_numpy()
        labels = [da.coords[d].to_numpy() for d in dims]
        symmetric = len(dims) == 2 and var != "beta"
        for idx in np.ndindex(*values.shape[2:]):
            if symmetric and idx[1] > idx[0]:
                continue
            draws = values[(slice(None), slice(None), *idx)]
            if np.ptp(draws) == 0.0:  # fixed by construction (latent scales, thresholds)
                continue
            name = f"{var}[{', '.join(str(labels[k][i]) for k, i in enumerate(idx))}]"
            out[name] = (group, draws)
    return out


def parameter_table(posterior: xr.Dataset) -> pd.DataFrame:
    """R-hat, bulk ESS and tail ESS of every imputation-model parameter.

    Parameters
    ----------
    posterior : xarray.Dataset
        With variables ``beta``, ``sigma``, ``psi`` and dims ``chain``, ``draw``.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter, with columns ``group``, ``mean``, ``sd``, ``r_hat``,
        ``ess_bulk``, ``ess_tail``.
    """
    rows = []
    for name, (group, draws) in _flatten(posterior).items():
        rows.append(
            {
                "parameter": name,
                "group": group,
                "mean": float(draws.mean()),
                "sd": float(draws.std(ddof=1)),
                "r_hat": float(array_stats.rhat(draws, chain_axis=0, draw_axis=1)),
                "ess_bulk": float(array_stats.ess(draws, chain_axis=0, draw_axis=1, method="bulk")),
                "ess_tail": float(
                    array_stats.ess(draws, chain_axis=0, draw_axis=1, method="tail", prob=0.05)
                ),
            }
        )
    return pd.DataFrame(rows).set_index("parameter")


def group_table(params: pd.DataFrame) -> pd.DataFrame:
    """Worst R-hat and ESS per parameter group, naming the parameter that attains each.

    Parameters
    ----------
    params : pandas.DataFrame
        From :func:`parameter_table`.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``max_r_hat``, ``worst_r_hat``, ``min_ess_bulk``,
        ``worst_ess_bulk``, ``min_ess_tail``, ``worst_ess_tail``, ``ok``.
    """
    rows = []
    for group, sub in params.groupby("group", sort=False):
        r_hat = sub["r_hat"].fillna(np.inf)
        bulk = sub["ess_bulk"].fillna(0.0)
        tail = sub["ess_tail"].fillna(0.0)
        rows.append(
            {
                "group": group,
                "n_parameters": len(sub),
                "max_r_hat": float(r_hat.max()),
                "worst_r_hat": r_hat.idxmax(),
                "min_ess_bulk": float(bulk.min()),
                "worst_ess_bulk": bulk.idxmin(),
                "min_ess_tail": float(tail.min()),
                "worst_ess_tail": tail.idxmin(),
                "ok": bool(
                    r_hat.max() <= RHAT_MAX and bulk.min() >= ESS_MIN and tail.min() >= ESS_MIN
                ),
            }
        )
    return pd.DataFrame(rows).set_index("group")
