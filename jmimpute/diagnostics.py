"""Convergence diagnostics of the imputation model: R-hat and ESS per parameter and group.

Rank-normalised split R-hat, bulk ESS and tail ESS (the minimum over the 5% and 95%
quantiles) follow Vehtari et al. (2021), computed by ArviZ (arviz-stats) on the
posterior on the data's scale. Every unique element of ``B``, ``Sigma`` and ``Psi`` is a
parameter (covariances as variances and covariances, as pan, jomo and Blimp report them);
entries fixed by construction (the unit scales of latent dimensions, jomo's fixed
correlations of a nominal target, the first threshold) are left out. The groups of the
report are declared by the imputation model, as attributes of the posterior's variables.

:class:`ConvergenceReport` adds what the sampler itself reports (divergent transitions and
transitions that stopped at the maximum tree depth, from ``sample_stats``), a verdict, and
advice with the setting to change when a check fails.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr


class ConvergenceWarning(UserWarning):
    """The imputation model's chains have not converged or mix too slowly for ``m``."""


RHAT_MAX = 1.01
"""Largest acceptable rank-normalised R-hat (Vehtari et al. 2021)."""
ESS_MIN = 400
"""Smallest acceptable bulk and tail ESS (100 per chain for 4 chains)."""


def unique_parameters(posterior: xr.Dataset) -> dict[str, tuple[str, np.ndarray]]:
    """``{parameter name: (group, draws (chain, draw))}`` of the unique free parameters.

    Every variable of the posterior is a parameter: its convergence group is its ``group``
    attribute, declared by the model (:class:`jmimpute.models.protocol.ParameterGroup`), or
    its own name if it has none, so that no parameter escapes the checks.

    Parameters
    ----------
    posterior : xarray.Dataset
        The imputation model's parameters with dims ``chain``, ``draw``; a variable with
        the attribute ``symmetric`` set is a symmetric matrix (its lower triangle counts).

    Returns
    -------
    dict
        Names like ``"sigma[iqv, lpo]"`` mapped to the group and the draws.
    """
    out: dict[str, tuple[str, np.ndarray]] = {}
    for var in posterior.data_vars:
        da = posterior[var]
        group = str(da.attrs.get("group", var))
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        values = da.transpose("chain", "draw", *dims).to_numpy()
        labels = [da.coords[d].to_numpy() for d in dims]
        symmetric = len(dims) == 2 and bool(da.attrs.get("symmetric", 0))
        for idx in np.ndindex(*values.shape[2:]):
            if symmetric and idx[1] > idx[0]:
                continue
            draws = values[(slice(None), slice(None), *idx)]
            # fixed by construction (latent scales, thresholds); on the data's scale a
            # fixed entry can carry rounding noise from the back-transformation
            if np.ptp(draws) <= 1e-10 * max(1.0, float(np.abs(draws).max())):
                continue
            name = (
                f"{var}[{', '.join(str(labels[k][i]) for k, i in enumerate(idx))}]"
                if idx
                else str(var)
            )
            out[name] = (group, draws)
    return out


def parameter_table(posterior: xr.Dataset) -> pd.DataFrame:
    """R-hat, bulk ESS and tail ESS of every imputation-model parameter.

    Parameters
    ----------
    posterior : xarray.Dataset
        The imputation model's parameters, with dims ``chain``, ``draw`` (see
        :func:`unique_parameters`).

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter, with columns ``group``, ``mean``, ``sd``, ``r_hat``,
        ``ess_bulk``, ``ess_tail``.
    """
    # arviz-stats loads JAX (through arviz-base's NumPyro reader): imported when first needed
    from arviz_stats.base import array_stats

    rows = []
    for name, (group, draws) in unique_parameters(posterior).items():
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
    columns = ["parameter", "group", "mean", "sd", "r_hat", "ess_bulk", "ess_tail"]
    return pd.DataFrame(rows, columns=columns).set_index("parameter")


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
    columns = [
        "group", "n_parameters", "max_r_hat", "worst_r_hat", "min_ess_bulk", "worst_ess_bulk",
        "min_ess_tail", "worst_ess_tail", "ok",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("group")


# -- the convergence report -------------------------------------------------------------
_DEPTH_FLAGS = ("maxdepth_reached", "reached_max_treedepth")  # nutpie, PyMC
_DEPTHS = ("depth", "tree_depth")


@dataclass(frozen=True, eq=False)
class SamplerStats:
    """Divergences and tree-depth saturation counted from a run's ``sample_stats``.

    Attributes
    ----------
    transitions : int
        Post-warm-up transitions (chains x draws).
    divergent : int or None
        Divergent transitions; None where the sampler did not record them.
    max_depth_hits : int or None
        Transitions that stopped at the maximum tree depth; None where not recorded.
    max_depth : int or None
        The maximum tree depth, where the sampler recorded it.
    """

    transitions: int
    divergent: int | None
    max_depth_hits: int | None
    max_depth: int | None = None


def sampler_stats(stats: xr.Dataset | None, transitions: int) -> SamplerStats:
    """Count divergences and tree-depth saturation (nutpie's or PyMC's sample stats).

    Parameters
    ----------
    stats : xarray.Dataset or None
        The ``sample_stats`` group: nutpie's ``diverging``, ``maxdepth_reached``,
        ``depth`` or PyMC's ``diverging``, ``reached_max_treedepth``, ``tree_depth``.
    transitions : int
        Post-warm-up transitions, used where ``stats`` is empty.

    Returns
    -------
    SamplerStats
    """
    if stats is None or not stats.data_vars:
        return SamplerStats(transitions, None, None)
    max_depth = _max_depth(stats.attrs)
    divergent = int(stats["diverging"].sum()) if "diverging" in stats else None
    hits: int | None = None
    flag = next((f for f in _DEPTH_FLAGS if f in stats), None)
    depth = next((d for d in _DEPTHS if d in stats), None)
    if flag is not None:
        hits = int(stats[flag].sum())
    elif depth is not None and max_depth is not None:
        hits = int((stats[depth] >= max_depth).sum())
    sizes = [int(stats.sizes[d]) for d in ("chain", "draw") if d in stats.sizes]
    return SamplerStats(int(np.prod(sizes)) if sizes else transitions, divergent, hits, max_depth)


def _max_depth(attrs: dict) -> int | None:
    """The maximum tree depth: nutpie records its settings as JSON (PyMC does not)."""
    raw = attrs.get("inference_library_settings")
    if raw is None:
        return None
    try:
        settings = json.loads(raw) if isinstance(raw, str) else dict(raw)
        value = settings.get("settings", settings).get("maxdepth")
    except (TypeError, ValueError, AttributeError):
        return None
    return None if value is None else int(value)


@dataclass(frozen=True, eq=False)
class ConvergenceReport:
    """Convergence of the imputation model, per parameter group, with a verdict and advice.

    Blimp's PSR table in spirit: for each group (fixed effects, level-1 covariance, cluster
    covariance, level-2 fixed effects, thresholds) the largest rank-normalised R-hat and the
    smallest bulk and tail ESS, each with the parameter that attains it; then the divergent
    transitions and those that stopped at the maximum tree depth. Create it with
    :meth:`jmimpute.Imputation.convergence_report` or :func:`convergence_report`.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by group: ``n_parameters``, ``max_r_hat``, ``worst_r_hat``,
        ``min_ess_bulk``, ``worst_ess_bulk``, ``min_ess_tail``, ``worst_ess_tail``, ``ok``.
    chains, draws : int
        Chains and post-warm-up draws per chain.
    stats : SamplerStats
        Divergences and tree-depth saturation.
    tune : int or None
        Warm-up iterations per chain, where known (sharpens the advice).
    target_accept : float or None
        The run's NUTS target acceptance rate, where known.
    rhat_max, ess_min : float
        The thresholds.

    Examples
    --------
    >>> report = imp.convergence_report()  # doctest: +SKIP
    >>> report.ok, report.advice  # doctest: +SKIP
    """

    table: pd.DataFrame
    chains: int
    draws: int
    stats: SamplerStats
    tune: int | None = None
    target_accept: float | None = None
    rhat_max: float = RHAT_MAX
    ess_min: float = ESS_MIN

    @property
    def max_r_hat(self) -> float:
        """The largest R-hat over all parameters (inf where one is undefined)."""
        return float(self.table["max_r_hat"].max()) if len(self.table) else math.nan

    @property
    def min_ess(self) -> float:
        """The smallest bulk or tail ESS over all parameters."""
        if not len(self.table):
            return math.nan
        return float(min(self.table["min_ess_bulk"].min(), self.table["min_ess_tail"].min()))

    @property
    def converged(self) -> bool:
        """Whether every parameter meets the R-hat and ESS thresholds."""
        return bool(len(self.table)) and bool(self.table["ok"].all())

    @property
    def ok(self) -> bool:
        """Converged, no divergent transitions and none at the maximum tree depth."""
        return self.converged and not self.stats.divergent and not self.stats.max_depth_hits

    @property
    def advice(self) -> tuple[str, ...]:
        """One sentence per missed threshold: what went wrong and what to change."""
        out = []
        table = self.table
        if len(table) and (table["max_r_hat"] > self.rhat_max).any():
            row = table.iloc[int(np.argmax(table["max_r_hat"].to_numpy()))]
            tune = (
                "`tune` and `draws`"
                if self.tune is None
                else f"`tune` (now {self.tune}; try {max(2 * self.tune, 1000)}) and `draws`"
            )
            out.append(
                f"R-hat {_num(float(row['max_r_hat']), 3)} > {self.rhat_max} at "
                f"{row['worst_r_hat']} ({row.name}): the chains disagree, so they "
                f"have not converged. Raise {tune}, and check the trace with "
                "jm.plots.plot_trace(imp) and jm.plots.plot_rank(imp)."
            )
        ess = self.min_ess
        if len(table) and not ess >= self.ess_min:
            bulk = table["min_ess_bulk"].min() <= table["min_ess_tail"].min()
            column = "min_ess_bulk" if bulk else "min_ess_tail"
            row = table.iloc[int(np.argmin(table[column].to_numpy()))]
            worst = row["worst_ess_bulk" if bulk else "worst_ess_tail"]
            needed = _round_up(self.draws * self.ess_min / max(ess, 1.0))
            out.append(
                f"{'Bulk' if bulk else 'Tail'} ESS {_num(ess, 0)} < {self.ess_min:g} at {worst} "
                f"({row.name}): too few effectively independent draws to trust R-hat and the "
                f"spread of the imputations. Raise `draws` from {self.draws} to about "
                f"{needed} per chain ({self.draws} x {self.ess_min:g} / {_num(ess, 0)})."
            )
        n, total = self.stats.divergent, self.stats.transitions
        if n:
            now = "" if self.target_accept is None else f" (now {self.target_accept:g})"
            target = 0.99 if (self.target_accept or 0.0) >= 0.95 else 0.95
            out.append(
                f"{n} of {total} transitions after warm-up diverged ({n / total:.1%}): the "
                "sampler could not follow the posterior's curvature there and the draws may "
                f"be biased. Rerun with `target_accept={target}`{now}, or a tighter prior "
                "(e.g. `priors=jm.Priors(psi_sd=0.5)` for small cluster variances)."
            )
        hits = self.stats.max_depth_hits
        if hits:
            depth = "" if self.stats.max_depth is None else f" ({self.stats.max_depth})"
            out.append(
                f"{hits} of {total} transitions ({hits / total:.1%}) stopped at the maximum "
                f"tree depth{depth}: NUTS cut its trajectories short, so the chains explore "
                "slowly (an efficiency problem, not a bias). Expect low ESS and raise `draws`; "
                "persistent saturation points to strongly correlated or weakly identified "
                "parameters."
            )
        return tuple(out)

    @property
    def notes(self) -> tuple[str, ...]:
        """What could not be checked."""
        out = []
        if not len(self.table):
            out.append("No imputation-model parameters to check.")
        if self.stats.divergent is None:
            out.append("Divergences were not recorded by the sampler: not checked.")
        if self.stats.max_depth_hits is None:
            out.append("Tree depths were not recorded by the sampler: not checked.")
        return tuple(out)

    def verdict(self) -> str:
        """One line: converged or not, and why."""
        if self.ok:
            return (
                f"Converged: every R-hat <= {self.rhat_max}, every bulk and tail ESS >= "
                f"{self.ess_min:g}, no divergent transitions and none at the maximum tree depth."
            )
        if self.converged:
            return (
                f"Converged by R-hat (<= {self.rhat_max}) and ESS (>= {self.ess_min:g}), but "
                "the sampler reported problems: follow the advice before trusting the "
                "imputations."
            )
        groups = self.table.index[~self.table["ok"]].tolist() if len(self.table) else []
        return (
            f"NOT converged in {', '.join(map(str, groups)) or 'the imputation model'} "
            f"(R-hat > {self.rhat_max} or ESS < {self.ess_min:g}): do not trust the "
            "imputations before following the advice."
        )

    def _header(self) -> str:
        tune = "" if self.tune is None else f" after {self.tune} warm-up"
        accept = "" if self.target_accept is None else f", target_accept = {self.target_accept:g}"
        return (
            f"Convergence of the imputation model: {self.chains} chains x {self.draws} draws"
            f"{tune}{accept}"
        )

    def _display_table(self) -> pd.DataFrame:
        t = self.table
        return pd.DataFrame(
            {
                "n": t["n_parameters"],
                "max R-hat": t["max_r_hat"].map(lambda v: _num(v, 3)),
                "at": t["worst_r_hat"],
                "min bulk ESS": t["min_ess_bulk"].map(lambda v: _num(v, 0)),
                "at ": t["worst_ess_bulk"],
                "min tail ESS": t["min_ess_tail"].map(lambda v: _num(v, 0)),
                "at  ": t["worst_ess_tail"],
                "ok": t["ok"].map({True: "yes", False: "NO"}),
            },
            index=t.index,
        )

    def _sampler_lines(self) -> list[str]:
        total = self.stats.transitions
        depth = "" if self.stats.max_depth is None else f" ({self.stats.max_depth})"
        div, hits = self.stats.divergent, self.stats.max_depth_hits
        return [
            f"Divergent transitions: {'not recorded' if div is None else f'{div} of {total}'}",
            f"At the maximum tree depth{depth}: "
            + ("not recorded" if hits is None else f"{hits} of {total}"),
        ]

    def __str__(self) -> str:
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            table = self._display_table().to_string() if len(self.table) else "(no parameters)"
        lines = [self._header(), table, *self._sampler_lines(), "", self.verdict()]
        lines += [f"  - {a}" for a in self.advice] + [f"  ({n})" for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(a)}</li>" for a in self.advice)
        notes = "".join(f"<li><i>{html.escape(n)}</i></li>" for n in self.notes)
        colour = "green" if self.ok else "#b00"
        return (
            f"<p><b>{html.escape(self._header())}</b></p>"
            f"{self._display_table().to_html()}"
            f"<p>{'<br>'.join(html.escape(s) for s in self._sampler_lines())}</p>"
            f"<p style='color:{colour}'><b>{html.escape(self.verdict())}</b></p>"
            + (f"<ul>{items}{notes}</ul>" if items or notes else "")
        )


def convergence_report(
    tree: xr.DataTree,
    *,
    params: pd.DataFrame | None = None,
    tune: int | None = None,
    target_accept: float | None = None,
) -> ConvergenceReport:
    """The convergence report of a result tree.

    Parameters
    ----------
    tree : xarray.DataTree
        With groups ``posterior`` (``beta``, ``sigma``, ``psi``, ...; dims ``chain``,
        ``draw``) and, optionally, ``sample_stats``.
    params : pandas.DataFrame, optional
        :func:`parameter_table` of ``tree["posterior"]``, if already computed.
    tune : int, optional
        Warm-up iterations per chain, named in the advice.
    target_accept : float, optional
        The run's target acceptance rate, named in the advice.

    Returns
    -------
    ConvergenceReport

    Examples
    --------
    >>> from jmimpute.diagnostics import convergence_report
    >>> report = convergence_report(imp.tree, tune=1000)  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    """
    if "posterior" not in tree.children:
        raise ValueError(
            f"`tree` must have a 'posterior' group; got groups {sorted(tree.children)}. "
            "Pass the result's tree, `imp.tree`."
        )
    posterior = tree["posterior"].to_dataset()
    if params is None:
        params = parameter_table(posterior)
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    stats = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
    return ConvergenceReport(
        table=group_table(params),
        chains=chains,
        draws=draws,
        stats=sampler_stats(stats, chains * draws),
        tune=tune,
        target_accept=target_accept,
    )


def _num(value: float, digits: int) -> str:
    return "nan" if math.isnan(value) else "inf" if math.isinf(value) else f"{value:.{digits}f}"


def _round_up(draws: float) -> int:
    """Up to the next hundred: advice should read as a setting, not a computation."""
    return int(math.ceil(draws / 100.0) * 100)
