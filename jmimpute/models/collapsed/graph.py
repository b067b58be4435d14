"""The collapsed log-likelihood of the level-1 joint model, as a PyTensor graph.

The same quantity as :func:`jmimpute._kernels.kernel.collapsed_value_and_grad`, written with
PyTensor operations so that PyTensor differentiates it: the tested reference for the
kernel's hand-derived gradient, and the fallback where the kernel's Op has no
implementation (JAX without the XLA FFI target). It is much slower: in JAX it compiles to
hundreds of tiny kernels, and the rows holding latent values enter through dense one-hot
matrices.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.linalg import logdet_and_inverse, logdet_and_quad
from jmimpute.design.suffstats import ClusterSums, LatentRows, PatternStats

LOG_2PI = float(np.log(2.0 * np.pi))


def pattern_precisions(
    sigma: TensorVariable, masks: np.ndarray
) -> tuple[TensorVariable, TensorVariable]:
    """Per-pattern ``P_k = S_k' (S_k Sigma S_k')^{-1} S_k`` and ``log|S_k Sigma S_k'|``.

    The observed block of each pattern is factorised in place: with ``D_k`` the diagonal
    observed indicator, ``D_k Sigma D_k + (I - D_k)`` is block diagonal (after a
    permutation) with blocks ``Sigma_oo`` and ``I``, so its inverse masked by ``D_k`` is
    ``P_k`` and its log-determinant is ``log|Sigma_oo|``.

    Parameters
    ----------
    sigma : TensorVariable
        Level-1 covariance, shape (p, p), or one per cluster, shape (J, p, p).
    masks : ndarray of bool, shape (K, p)

    Returns
    -------
    tuple of TensorVariable
        ``(P, logdet)`` of shapes (K, p, p) and (K,), or (J, K, p, p) and (J, K).
    """
    p = masks.shape[1]
    m = masks.astype(float)
    outer = m[:, :, None] * m[:, None, :]
    fill = np.eye(p)[None] * (1.0 - m)[:, None, :]
    a = sigma[..., None, :, :] * outer + fill
    logdet, inverse = logdet_and_inverse(a, p)
    return inverse * outer, logdet


def _with_latent_rows(
    stats: PatternStats,
    latent: LatentRows,
    lat_cells: tuple[np.ndarray, np.ndarray],
    zvals: TensorVariable,
) -> tuple[TensorVariable, TensorVariable, TensorVariable]:
    """``syy``, ``syx`` and ``syz`` with the latent rows' current values added."""
    n_cl, n_pat = stats.n_jk.shape
    syy = pt.as_tensor(stats.syy)
    syx = pt.as_tensor(stats.syx)
    syz = pt.as_tensor(stats.syz)
    if latent.n_rows == 0:
        return syy, syx, syz
    local = {int(r): i for i, r in enumerate(latent.rows)}
    p_dims = latent.y.shape[1]
    lat_pos = np.array([local[int(r)] * p_dims + int(c) for r, c in zip(*lat_cells, strict=True)])
    flat = pt.set_subtensor(pt.as_tensor(latent.y).ravel()[lat_pos], zvals)
    y = flat.reshape(latent.y.shape)
    one_k = (latent.pattern[None, :] == np.arange(n_pat)[:, None]).astype(float)  # (K, R)
    pair = latent.cluster * n_pat + latent.pattern
    one_jk = (pair[None, :] == np.arange(n_cl * n_pat)[:, None]).astype(float)  # (JK, R)
    yy = y[:, :, None] * y[:, None, :]
    yx = y[:, :, None] * latent.x[:, None, :]
    yz = (y[:, :, None] * latent.z[:, None, :]).reshape((latent.n_rows, -1))
    syy = syy + pt.tensordot(one_k, yy, axes=1)
    syx = syx + pt.tensordot(one_k, yx, axes=1)
    p, r = latent.y.shape[1], latent.z.shape[1]
    syz = syz + (one_jk @ yz).reshape((n_cl, n_pat, p, r))
    return syy, syx, syz


def cluster_priors(
    psi: TensorVariable,
    resid2: TensorVariable,
    d: int,
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
) -> tuple[TensorVariable, TensorVariable, TensorVariable]:
    """Each cluster's Gaussian prior on its random effects, given its observed level-2 values.

    For the clusters of level-2 pattern g (observed level-2 dimensions ``o``), with
    ``S = Psi[(u, o), (u, o)]`` and ``Q = S^{-1}``: ``Lambda_g = Q_uu``,
    ``h_j = -Q_uo f_o,j`` and the term ``-1/2 [log|S| + f_o' Q_oo f_o + |o| log 2 pi]``,
    which is the level-2 density plus the prior's own part of the collapsed likelihood.

    Returns
    -------
    lam : TensorVariable, shape (G, d, d)
    h : TensorVariable, shape (J, d)
    term : TensorVariable
    """
    n_cl = l2_pattern.shape[0]
    lams, term = [], pt.as_tensor(0.0)
    h = pt.zeros((n_cl, d))
    for g, mask in enumerate(l2_masks):
        obs = np.flatnonzero(mask)
        idx = np.concatenate([np.arange(d), d + obs]).astype(np.int64)
        members = np.flatnonzero(l2_pattern == g)
        chol = pt.linalg.cholesky(psi[idx][:, idx])
        inv_chol = pt.linalg.solve_triangular(chol, pt.eye(idx.size), lower=True)
        q = inv_chol.T @ inv_chol
        lams.append(q[:d, :d])
        logdet = 2.0 * pt.log(pt.diagonal(chol)).sum()
        term = term - 0.5 * members.size * logdet
        if obs.size and members.size:
            f_o = resid2[members][:, obs]
            h = pt.set_subtensor(h[members], -(f_o @ q[:d, d:].T))
            quad = ((f_o @ q[d:, d:]) * f_o).sum()
            term = term - 0.5 * (quad + members.size * obs.size * LOG_2PI)
    return pt.stack(lams), h, term


def collapsed_loglik(
    beta: TensorVariable,
    sigma: TensorVariable,
    psi: TensorVariable,
    resid2: TensorVariable,
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
    stats: PatternStats,
    latent: LatentRows,
    lat_cells: tuple[np.ndarray, np.ndarray],
    zvals: TensorVariable,
) -> TensorVariable:
    """Joint log-likelihood of the observed level-1 and level-2 data (the kernel's value).

    Parameters
    ----------
    beta : TensorVariable
        Fixed effects, shape (q, p).
    sigma : TensorVariable
        Level-1 covariance, shape (p, p).
    psi : TensorVariable
        Joint covariance of random effects and level-2 residuals, shape (d + p2, d + p2).
    resid2 : TensorVariable
        Level-2 residuals, shape (J, p2).
    l2_masks, l2_pattern : ndarray
        Level-2 observed patterns and each cluster's pattern.
    stats : PatternStats
        Sums over the rows without latent values.
    latent : LatentRows
    lat_cells : tuple of ndarray
        Rows and dimensions of the latent values.
    zvals : TensorVariable
        The latent values.

    Returns
    -------
    TensorVariable
        Scalar; see :mod:`jmimpute._kernels.kernel` for the formula.
    """
    _, _, p, r = stats.syz.shape
    d = r * p
    lam, h, prior_term = cluster_priors(psi, resid2, d, l2_masks, l2_pattern)
    prec, sig_logdet = pattern_precisions(sigma, stats.masks)
    syy, syx, syz = _with_latent_rows(stats, latent, lat_cells, zvals)

    # sum_i r_i' Sigma_o^{-1} r_i = sum_k tr(P_k C_k(B))
    cross = syx @ beta
    centred = syy - cross - cross.transpose(0, 2, 1) + beta.T @ pt.as_tensor(stats.sxx) @ beta
    resid_quad = (prec * centred).sum()

    effects = _effects_term(prec[None], lam, h, l2_pattern, stats, beta, syz)
    return prior_term - 0.5 * (
        stats.n_obs * LOG_2PI + (pt.as_tensor(stats.n_k) * sig_logdet).sum() + resid_quad + effects
    )


def _effects_term(
    prec: TensorVariable,
    lam: TensorVariable,
    h: TensorVariable,
    l2_pattern: np.ndarray,
    stats: PatternStats,
    beta: TensorVariable,
    syz: TensorVariable,
) -> TensorVariable:
    """``sum_j [log|M_j| - b_j' M_j^{-1} b_j]``, the random effects' part of the likelihood.

    ``M_j = Lambda_g(j) + sum_k (zz_jk kron P_jk)`` and ``b_j = h_j + vec_r((sum_k P_jk
    R_jk)')`` with ``R_jk = syz_jk - B' sxz_jk``. ``prec`` is (J, K, p, p), or (1, K, p, p)
    when all clusters share ``Sigma``. Broadcast products and tensordot only: batched
    matmuls take minutes to compile with Numba.
    """
    n_clusters, _, p, r = stats.syz.shape
    d = r * p
    zz = pt.as_tensor(stats.zz)
    kron = (zz[:, :, :, None, :, None] * prec[:, :, None, :, None, :]).sum(axis=1)
    m_mat = lam[np.asarray(l2_pattern, dtype=np.int64)] + kron.reshape((n_clusters, d, d))
    fitted = pt.tensordot(pt.as_tensor(stats.sxz), beta, axes=[[2], [0]])  # (J, K, r, p)
    resid_jk = syz - fitted.transpose(0, 1, 3, 2)  # (J, K, p, r)
    pr = (prec[:, :, :, :, None] * resid_jk[:, :, None, :, :]).sum(axis=3)  # P_jk R_jk
    b_vec = h + pr.sum(axis=1).transpose(0, 2, 1).reshape((n_clusters, d))
    m_logdet, m_quad = logdet_and_quad(m_mat, b_vec, d)
    return m_logdet.sum() - m_quad.sum()


def collapsed_loglik_clusters(
    beta: TensorVariable,
    sigma: TensorVariable,
    psi: TensorVariable,
    resid2: TensorVariable,
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
    stats: PatternStats,
    sums: ClusterSums,
) -> TensorVariable:
    """:func:`collapsed_loglik` with one level-1 covariance per cluster.

    The same formula with ``Sigma_j`` in place of ``Sigma``: the pattern precisions
    ``P_jk``, their log-determinants and the residual quadratic form are per
    (cluster, pattern), from the split sums of :class:`ClusterSums`. Continuous level-1
    targets only (no latent rows).

    Parameters
    ----------
    beta : TensorVariable
        Fixed effects, shape (q, p).
    sigma : TensorVariable
        Level-1 covariances, shape (J, p, p).
    psi, resid2, l2_masks, l2_pattern :
        As in :func:`collapsed_loglik`.
    stats : PatternStats
    sums : ClusterSums
        The per-(cluster, pattern) second moments.

    Returns
    -------
    TensorVariable
        Scalar.
    """
    _, _, p, r = stats.syz.shape
    d = r * p
    lam, h, prior_term = cluster_priors(psi, resid2, d, l2_masks, l2_pattern)
    prec, sig_logdet = pattern_precisions(sigma, stats.masks)  # (J, K, p, p), (J, K)

    # tensordot and broadcast sums only: batched matmuls take minutes to compile in Numba
    cross = pt.tensordot(pt.as_tensor(sums.syx), beta, axes=[[3], [0]])  # (J, K, p, p)
    sxx_b = pt.tensordot(pt.as_tensor(sums.sxx), beta, axes=[[3], [0]])  # (J, K, q, p)
    bsb = pt.tensordot(sxx_b, beta, axes=[[2], [0]])  # B' S_xx B, symmetric
    centred = pt.as_tensor(sums.syy) - cross - cross.transpose(0, 1, 3, 2) + bsb
    resid_quad = (prec * centred).sum()

    effects = _effects_term(prec, lam, h, l2_pattern, stats, beta, pt.as_tensor(stats.syz))
    return prior_term - 0.5 * (
        stats.n_obs * LOG_2PI + (pt.as_tensor(stats.n_jk) * sig_logdet).sum() + resid_quad + effects
    )
