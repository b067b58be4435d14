"""Exact draws of the random effects, level-2 residuals and missing cells given a posterior draw.

For each retained draw of the parameters (and of the latent values of observed
categories), this module draws from the full conditionals
(docs/design/collapsed-likelihood.md, "Exact draws after sampling"):

1. ``u_j | y_obs, w_obs ~ N(M_j^{-1} b_j, M_j^{-1})`` with
   ``M_j = Lambda_g(j) + sum_k zz_jk kron P_k`` and ``b_j = h_j + sum_k P_k R_jk``;
2. the missing level-2 residuals ``f_m | u_j, f_o`` from the joint normal ``Psi``;
3. each row's missing cells ``| y_obs, u_j`` from ``Sigma`` (or its cluster's ``Sigma_j``);
4. categorical targets from their drawn latent values.

An optional :class:`Shift` (delta adjustment, a pattern-mixture sensitivity analysis) moves
the drawn missing cells of chosen dimensions by a fixed amount and the other missing cells
of the same unit by the conditional regression on them, before categories are decoded.

Together with the NUTS chain this samples the joint posterior of parameters, random
effects and missing values. Everything works on the standardised scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jmimpute.design.standardised import Design, Targets
from jmimpute.design.suffstats import PatternStats, compute_stats


@dataclass(frozen=True)
class DrawParams:
    """One posterior draw on the standardised scale."""

    beta: np.ndarray  # (q, p)
    sigma: np.ndarray  # (p, p)
    psi: np.ndarray  # (d + p2, d + p2)
    gamma: np.ndarray | None  # (q2, p2)
    thresholds: dict[str, np.ndarray]
    latent: np.ndarray  # level-1 latent values, np.nonzero order of the latent mask
    latent2: np.ndarray  # level-2 latent values
    sigma_cluster: np.ndarray | None = None  # (J, p, p) with cluster-specific covariances

    def level1_covariance(self) -> np.ndarray:
        """``Sigma`` (p, p), or each cluster's ``Sigma_j`` (J, p, p) where the model has them."""
        return self.sigma if self.sigma_cluster is None else self.sigma_cluster


@dataclass(frozen=True)
class MissingGroup:
    """Rows sharing one pattern of observed dimensions, with at least one unobserved."""

    rows: np.ndarray
    observed: np.ndarray
    missing: np.ndarray


def missing_groups(observed: np.ndarray) -> list[MissingGroup]:
    """Group the units with unobserved dimensions by their observed pattern."""
    keys, inverse = np.unique(observed, axis=0, return_inverse=True)
    groups = []
    for g, key in enumerate(keys):
        if key.all():
            continue
        groups.append(
            MissingGroup(
                rows=np.flatnonzero(inverse.ravel() == g),
                observed=np.flatnonzero(key),
                missing=np.flatnonzero(~key),
            )
        )
    return groups


def _pattern_precisions(sigma: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``P_k`` (K, p, p) of ``sigma`` (p, p), or ``P_jk`` (J, K, p, p) of ``sigma`` (J, p, p)."""
    p = sigma.shape[-1]
    batch = sigma.shape[:-2]
    prec = np.zeros((*batch, masks.shape[0], p, p))
    for k, mask in enumerate(masks):
        o = np.flatnonzero(mask)
        prec[..., k, o[:, None], o[None, :]] = np.linalg.inv(sigma[..., o[:, None], o[None, :]])
    return prec


def cluster_priors(
    design: Design,
    psi: np.ndarray,
    resid2: np.ndarray | None,
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """NumPy twin of :func:`jmimpute.models.collapsed.graph.cluster_priors`: ``Lambda_j``, ``h_j``.

    Returns
    -------
    lam : ndarray, shape (J, d, d)
    h : ndarray, shape (J, d)
    """
    d, n_cl = design.d, design.n_clusters
    lam = np.zeros((n_cl, d, d))
    h = np.zeros((n_cl, d))
    for g, mask in enumerate(l2_masks):
        obs = np.flatnonzero(mask)
        idx = np.concatenate([np.arange(d), d + obs])
        members = np.flatnonzero(l2_pattern == g)
        q = np.linalg.inv(psi[np.ix_(idx, idx)])
        lam[members] = q[:d, :d]
        if obs.size and members.size and resid2 is not None:
            h[members] = -(resid2[np.ix_(members, obs)] @ q[:d, d:].T)
    return lam, h


def random_effect_conditional(
    stats: PatternStats,
    beta: np.ndarray,
    sigma: np.ndarray,
    lam: np.ndarray,
    h: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and precision factor of every cluster's random effects given the observed data.

    Parameters
    ----------
    stats : PatternStats
        Statistics of all observed cells (latent values included as data).
    beta : ndarray, shape (q, p)
    sigma : ndarray, shape (p, p) or (J, p, p)
        The level-1 covariance, or one per cluster.
    lam : ndarray, shape (J, d, d)
        Prior precision of each cluster's random effects.
    h : ndarray, shape (J, d)
        Prior information shift of each cluster.

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
    per_cluster = "j" if prec.ndim == 4 else ""  # one Sigma_j per cluster, or one Sigma
    m_mat = lam + np.einsum(f"jklm,{per_cluster}kab->jlamb", stats.zz, prec).reshape(n_cl, d, d)
    resid = stats.syz - np.einsum("qa,jkql->jkal", beta, stats.sxz)
    b_vec = h + np.einsum(f"{per_cluster}kab,jkbl->jla", prec, resid).reshape(n_cl, d)
    chol = np.linalg.cholesky(m_mat)
    mean = np.linalg.solve(m_mat, b_vec[..., None])[..., 0]
    return mean, chol


def _draw_normal_precision(
    mean: np.ndarray, chol: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draws from ``N(mean, (L L')^{-1})``, batched: ``L^{-T} e`` has that covariance."""
    noise = np.linalg.solve(np.swapaxes(chol, -1, -2), rng.standard_normal((*mean.shape, 1)))
    return mean + noise[..., 0]


def conditional_normal(
    values: np.ndarray,
    mu: np.ndarray,
    cov: np.ndarray,
    group: MissingGroup,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(n_g, n_m)`` and covariance factor of a group's unobserved dimensions.

    ``cov`` is one covariance (p, p), or one per unit of the group (n_g, p, p); the factor
    is then (n_g, n_m, n_m).
    """
    rows, obs, mis = group.rows, group.observed, group.missing
    if cov.ndim == 2:
        s_mm = cov[np.ix_(mis, mis)]
        mean = mu[np.ix_(rows, mis)]
        if obs.size:
            s_oo = cov[np.ix_(obs, obs)]
            s_mo = cov[np.ix_(mis, obs)]
            coef = np.linalg.solve(s_oo, s_mo.T).T  # S_mo S_oo^{-1}
            mean = mean + (values[np.ix_(rows, obs)] - mu[np.ix_(rows, obs)]) @ coef.T
            s_mm = s_mm - coef @ s_mo.T
        return mean, np.linalg.cholesky(s_mm)
    s_mm = cov[:, mis[:, None], mis[None, :]]
    mean = mu[np.ix_(rows, mis)]
    if obs.size:
        s_oo = cov[:, obs[:, None], obs[None, :]]
        s_om = cov[:, obs[:, None], mis[None, :]]
        coef = np.swapaxes(np.linalg.solve(s_oo, s_om), 1, 2)  # (n_g, n_m, n_o)
        dev = values[np.ix_(rows, obs)] - mu[np.ix_(rows, obs)]
        mean = mean + np.einsum("gmo,go->gm", coef, dev)
        s_mm = s_mm - coef @ s_om
    return mean, np.linalg.cholesky(s_mm)


def _draw_group(mean: np.ndarray, chol: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mean + chol e`` per unit, with one factor (n_m, n_m) or one per unit."""
    noise = rng.standard_normal(mean.shape)
    if chol.ndim == 2:
        return mean + noise @ chol.T
    return mean + np.einsum("gij,gj->gi", chol, noise)


def _covariance(chol: np.ndarray) -> np.ndarray:
    return chol @ np.swapaxes(chol, -1, -2)


def _fill(targets: Targets, latent_values: np.ndarray) -> np.ndarray:
    """Observed values with the latent values in place (NaN where unobserved)."""
    values = np.where(targets.observed & ~targets.latent, targets.values, np.nan)
    values[targets.latent_cells] = latent_values
    return values


def decode_targets(
    targets: Targets, values: np.ndarray, thresholds: dict[str, np.ndarray]
) -> np.ndarray:
    """Per-unit, per-variable value: continuous standardised values, category codes."""
    out = np.empty((values.shape[0], len(targets.variables)))
    for i, var in enumerate(targets.variables):
        cols = targets.columns(var.name)
        out[:, i] = var.behaviour.decode(values[:, cols], thresholds.get(var.name))
    return out


@dataclass(frozen=True)
class Shift:
    """Delta adjustment of the missing cells, on the standardised (or latent) scale.

    Attributes
    ----------
    level1 : ndarray, shape (n, p), or None
        Shift of each row's level-1 dimensions (used only where the cell is missing).
    level2 : ndarray, shape (J, p2), or None
        Shift of each cluster's level-2 dimensions.
    dims1, dims2 : ndarray of bool, shapes (p,) and (p2,)
        Dimensions that are shifted; the other missing dimensions of a unit move by their
        conditional regression on the shifted ones.
    """

    level1: np.ndarray | None
    level2: np.ndarray | None
    dims1: np.ndarray
    dims2: np.ndarray


def shift_missing(
    draws: np.ndarray, cov: np.ndarray, shift: np.ndarray, dims: np.ndarray
) -> np.ndarray:
    """Add a delta adjustment to a group's drawn missing cells, consistently with the joint.

    Parameters
    ----------
    draws : ndarray, shape (n_g, n_m)
        The drawn missing cells of the group's units.
    cov : ndarray, shape (n_m, n_m) or (n_g, n_m, n_m)
        Their conditional covariance given the observed cells (one per unit, with
        cluster-specific covariances).
    shift : ndarray, shape (n_g, n_m)
        Shift of each cell; only the columns in ``dims`` are used.
    dims : ndarray of bool, shape (n_m,)
        The shifted missing dimensions ``S``. The others, ``O``, move by
        ``Cov(O, S) Cov(S, S)^{-1} shift_S``: the change of their conditional mean when the
        shifted cells are moved, so that the row stays a draw of the joint model.
    """
    s_idx, o_idx = np.flatnonzero(dims), np.flatnonzero(~dims)
    if not s_idx.size:
        return draws
    out = draws.copy()
    s_val = shift[:, s_idx]
    out[:, s_idx] += s_val
    if o_idx.size:
        if cov.ndim == 2:
            coef = np.linalg.solve(cov[np.ix_(s_idx, s_idx)], cov[np.ix_(s_idx, o_idx)])
            out[:, o_idx] += s_val @ coef
        else:
            coef = np.linalg.solve(
                cov[:, s_idx[:, None], s_idx[None, :]], cov[:, s_idx[:, None], o_idx[None, :]]
            )
            out[:, o_idx] += np.einsum("gs,gso->go", s_val, coef)
    return out


@dataclass(frozen=True)
class Draw:
    """One imputation: completed values per unit and variable (standardised, or codes)."""

    level1: np.ndarray  # (n, n_vars1)
    level2: np.ndarray | None  # (J, n_vars2)
    effects: np.ndarray  # (J, r, p)


def draw_imputation(
    design: Design,
    params: DrawParams,
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
    rng: np.random.Generator,
    shift: Shift | None = None,
) -> Draw:
    """Draw random effects, level-2 residuals and missing values for one posterior draw.

    ``shift`` (delta adjustment) moves the missing cells after they are drawn; it uses no
    random numbers, so the same ``rng`` state gives the same draws up to the shift.
    """
    l1, l2 = design.level1, design.level2
    y = _fill(l1, params.latent)
    stats, _ = compute_stats(y, design.x, design.z, design.cluster, design.n_clusters)

    resid2 = w = None
    if l2 is not None:
        assert params.gamma is not None
        w = _fill(l2.targets, params.latent2)
        resid2 = np.nan_to_num(w) - l2.v @ params.gamma
    lam, h = cluster_priors(design, params.psi, resid2, l2_masks, l2_pattern)
    sigma = params.level1_covariance()
    mean, chol = random_effect_conditional(stats, params.beta, sigma, lam, h)
    u = _draw_normal_precision(mean, chol, rng)
    effects = u.reshape(design.n_clusters, design.r, design.p)

    level2 = None
    if l2 is not None:
        assert w is not None and resid2 is not None and params.gamma is not None
        d = design.d
        joint = np.column_stack([u, resid2])  # (J, d + p2); unobserved residuals unused
        observed = np.column_stack([np.ones((design.n_clusters, d), bool), l2.targets.observed])
        for group in missing_groups(observed):
            m_, c_ = conditional_normal(joint, np.zeros_like(joint), params.psi, group)
            draws = m_ + rng.standard_normal(m_.shape) @ c_.T
            if shift is not None and shift.level2 is not None:
                mis2 = group.missing - d  # random effects are always "observed" here
                draws = shift_missing(
                    draws, c_ @ c_.T, shift.level2[np.ix_(group.rows, mis2)], shift.dims2[mis2]
                )
            joint[np.ix_(group.rows, group.missing)] = draws
        w_full = l2.v @ params.gamma + joint[:, d:]
        w = np.where(l2.targets.observed, w, w_full)
        level2 = decode_targets(l2.targets, w, params.thresholds)

    mu = design.x @ params.beta + np.einsum("nl,nlp->np", design.z, effects[design.cluster])
    for group in missing_groups(l1.observed):
        cov = sigma if sigma.ndim == 2 else sigma[design.cluster[group.rows]]
        m_, c_ = conditional_normal(y, mu, cov, group)
        draws = _draw_group(m_, c_, rng)
        if shift is not None and shift.level1 is not None:
            draws = shift_missing(
                draws,
                _covariance(c_),
                shift.level1[np.ix_(group.rows, group.missing)],
                shift.dims1[group.missing],
            )
        y[np.ix_(group.rows, group.missing)] = draws
    return Draw(level1=decode_targets(l1, y, params.thresholds), level2=level2, effects=effects)
