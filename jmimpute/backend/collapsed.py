"""The collapsed log-likelihood of the level-1 joint model, as a PyTensor graph.

Random effects and missing cells are integrated out analytically (Woodbury identity and
matrix determinant lemma; shared/design/collapsed-likelihood.md), so NUTS only sees the
model parameters. The graph reads per-pattern and per-(cluster, pattern) sufficient
statistics: one evaluation costs O(J K d^2 + K p^3) whatever the number of rows.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from jmimpute.backend.linalg import logdet_and_inverse, logdet_and_quad
from jmimpute.suffstats import PatternStats

LOG_2PI = float(np.log(2.0 * np.pi))


def pattern_precisions(
    sigma: TensorVariable, masks: np.ndarray
) -> tuple[TensorVariable, TensorVariable]:
    """Per-pattern ``P_k = S_k' (S_k Sigma S_k')^{-1} S_k`` and ``log|S_k Sigma S_k'|``.

    The observed block of each pattern is factorised in place: with ``D_k`` the diagonal
    observed indicator, ``D_k Sigma D_k + (I - D_k)`` is block diagonal (after a
    permutation) with blocks ``Sigma_oo`` and ``I``, so its inverse masked by ``D_k`` is
    ``P_k`` and its log-determinant is ``log|Sigma_oo|``. This batches all patterns into
    one factorisation of K same-sized matrices.

    Parameters
    ----------
    sigma : TensorVariable
        Level-1 covariance, shape (p, p).
    masks : ndarray of bool, shape (K, p)

    Returns
    -------
    tuple of TensorVariable
        ``(P, logdet)`` of shapes (K, p, p) and (K,).
    """
    p = masks.shape[1]
    m = masks.astype(float)
    outer = m[:, :, None] * m[:, None, :]
    fill = np.eye(p)[None] * (1.0 - m)[:, None, :]
    a = sigma[None, :, :] * outer + fill
    logdet, inverse = logdet_and_inverse(a, p)
    return inverse * outer, logdet


def collapsed_loglik(
    beta: TensorVariable,
    sigma: TensorVariable,
    psi_inv: TensorVariable,
    psi_logdet: TensorVariable,
    stats: PatternStats,
) -> TensorVariable:
    """Log-likelihood of the observed targets with random effects and missing cells integrated out.

    Parameters
    ----------
    beta : TensorVariable
        Fixed effects, shape (q, p).
    sigma : TensorVariable
        Level-1 covariance, shape (p, p).
    psi_inv : TensorVariable
        Inverse of the random-effect covariance, shape (d, d) with ``d = r p`` and the
        random effects ordered effect-major (``l * p + v``).
    psi_logdet : TensorVariable
        ``log|Psi|``.
    stats : PatternStats
        Sufficient statistics of the data.

    Returns
    -------
    TensorVariable
        Scalar log-likelihood.
    """
    n_clusters, _, p, r = stats.syz.shape
    d = r * p
    prec, sig_logdet = pattern_precisions(sigma, stats.masks)

    # sum_i r_i' Sigma_o^{-1} r_i = sum_k tr(P_k C_k(B))
    cross = pt.as_tensor(stats.syx) @ beta
    centred = (
        pt.as_tensor(stats.syy)
        - cross
        - cross.transpose(0, 2, 1)
        + beta.T @ pt.as_tensor(stats.sxx) @ beta
    )
    resid_quad = (prec * centred).sum()

    # M_j = Psi^{-1} + sum_k (zz_jk kron P_k);   b_j = vec_r((sum_k P_k R_jk)')
    zz = pt.as_tensor(stats.zz)
    kron = (zz[:, :, :, None, :, None] * prec[None, :, None, :, None, :]).sum(axis=1)
    m_mat = psi_inv[None, :, :] + kron.reshape((n_clusters, d, d))
    resid_jk = pt.as_tensor(stats.syz) - beta.T @ pt.as_tensor(stats.sxz)
    b_vec = (prec[None] @ resid_jk).sum(axis=1).transpose(0, 2, 1).reshape((n_clusters, d))
    m_logdet, m_quad = logdet_and_quad(m_mat, b_vec, d)

    return -0.5 * (
        stats.n_obs * LOG_2PI
        + (pt.as_tensor(stats.n_k) * sig_logdet).sum()
        + resid_quad
        + n_clusters * psi_logdet
        + m_logdet.sum()
        - m_quad.sum()
    )
