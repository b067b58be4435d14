"""Exact draws of the random effects and the missing cells given the model parameters.

For each retained draw of ``(B, Sigma, Psi)`` from the collapsed sampler (standardised
scale), this module draws from the full conditionals (shared/design, "Exact draws"):

1. ``u_j | y_obs ~ N(M_j^{-1} b_j, M_j^{-1})``;
2. ``y_mis,i | y_obs,i, u_j ~ N(mu_m + S_mo S_oo^{-1} (y_o - mu_o), S_mm - S_mo S_oo^{-1} S_om)``
   with ``mu = B' x_i + U_j' z_i``.

Together with the NUTS chain over the parameters this samples the joint posterior of
parameters, random effects and missing cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jmimpute.design import Design
from jmimpute.suffstats import PatternStats


@dataclass(frozen=True)
class MissingGroup:
    """Rows sharing one missingness pattern with at least one missing target."""

    rows: np.ndarray  # (n_g,)
    observed: np.ndarray  # (n_o,) column indices
    missing: np.ndarray  # (n_m,) column indices
    cells: np.ndarray  # (n_g, n_m) positions in the cell vector


def missing_groups(design: Design) -> list[MissingGroup]:
    """Group the rows with missing targets by pattern; cells in ``np.nonzero`` order."""
    miss = np.isnan(design.y)
    cell_index = np.full(miss.shape, -1, dtype=np.int64)
    cell_index[miss] = np.arange(int(miss.sum()))
    keys, inverse = np.unique(miss, axis=0, return_inverse=True)
    groups = []
    for g, key in enumerate(keys):
        if not key.any():
            continue
        rows = np.flatnonzero(inverse.ravel() == g)
        missing = np.flatnonzero(key)
        groups.append(
            MissingGroup(
                rows=rows,
                observed=np.flatnonzero(~key),
                missing=missing,
                cells=cell_index[np.ix_(rows, missing)],
            )
        )
    return groups


def _pattern_precisions(sigma: np.ndarray, masks: np.ndarray) -> np.ndarray:
    p = sigma.shape[0]
    prec = np.zeros((masks.shape[0], p, p))
    for k, mask in enumerate(masks):
        o = np.flatnonzero(mask)
        prec[k][np.ix_(o, o)] = np.linalg.inv(sigma[np.ix_(o, o)])
    return prec


def random_effect_conditional(
    stats: PatternStats, beta: np.ndarray, sigma: np.ndarray, psi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and precision factor of every cluster's random effects given the observed data.

    Parameters
    ----------
    stats : PatternStats
    beta : ndarray, shape (q, p)
    sigma : ndarray, shape (p, p)
    psi : ndarray, shape (d, d)
        Random-effect covariance, effect-major order.

    Returns
    -------
    mean : ndarray, shape (J, d)
        ``M_j^{-1} b_j``.
    chol : ndarray, shape (J, d, d)
        Lower Cholesky factor of the conditional precision ``M_j``.
    """
    n_cl, _, p, r = stats.syz.shape
    d = r * p
    prec = _pattern_precisions(sigma, stats.masks)
    m_mat = np.linalg.inv(psi)[None] + np.einsum("jklm,kab->jlamb", stats.zz, prec).reshape(
        n_cl, d, d
    )
    resid = stats.syz - np.einsum("qa,jkql->jkal", beta, stats.sxz)
    b_vec = np.einsum("kab,jkbl->jla", prec, resid).reshape(n_cl, d)
    chol = np.linalg.cholesky(m_mat)
    mean = np.linalg.solve(m_mat, b_vec[..., None])[..., 0]
    return mean, chol


def draw_random_effects(
    stats: PatternStats,
    beta: np.ndarray,
    sigma: np.ndarray,
    psi: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw every cluster's random effects from their conditional given the observed data.

    Returns
    -------
    ndarray, shape (J, r, p)
        ``U_j``; row ``l`` holds the effects of random-design column ``l``.
    """
    n_cl, _, p, r = stats.syz.shape
    mean, chol = random_effect_conditional(stats, beta, sigma, psi)
    # L^{-T} e has covariance (L L')^{-1} = M^{-1}
    noise = np.linalg.solve(np.swapaxes(chol, -1, -2), rng.standard_normal((n_cl, r * p, 1)))
    return (mean + noise[..., 0]).reshape(n_cl, r, p)


def missing_conditional(
    design: Design, group: MissingGroup, beta: np.ndarray, sigma: np.ndarray, effects: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(n_g, n_m)`` and covariance factor ``(n_m, n_m)`` of a group's missing cells."""
    rows = group.rows
    mu = design.x[rows] @ beta + np.einsum(
        "nl,nlp->np", design.z[rows], effects[design.cluster[rows]]
    )
    s_mm = sigma[np.ix_(group.missing, group.missing)]
    mean = mu[:, group.missing]
    if group.observed.size:
        s_oo = sigma[np.ix_(group.observed, group.observed)]
        s_mo = sigma[np.ix_(group.missing, group.observed)]
        coef = np.linalg.solve(s_oo, s_mo.T).T  # S_mo S_oo^{-1}
        resid = design.y[np.ix_(rows, group.observed)] - mu[:, group.observed]
        mean = mean + resid @ coef.T
        s_mm = s_mm - coef @ s_mo.T
    return mean, np.linalg.cholesky(s_mm)


def draw_missing(
    design: Design,
    groups: list[MissingGroup],
    beta: np.ndarray,
    sigma: np.ndarray,
    effects: np.ndarray,
    rng: np.random.Generator,
    n_cells: int,
) -> np.ndarray:
    """Draw every missing cell from its conditional given the row's observed cells.

    Returns
    -------
    ndarray, shape (n_cells,)
        Standardised values in cell order.
    """
    out = np.empty(n_cells)
    for g in groups:
        mean, chol = missing_conditional(design, g, beta, sigma, effects)
        draws = mean + rng.standard_normal(mean.shape) @ chol.T
        out[g.cells.ravel()] = draws.ravel()
    return out
