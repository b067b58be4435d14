"""The random effects given the parameters and the completed data, drawn per cluster (Numba).

The same conditional as :func:`jmimpute.models.joint.conditional.random_effect_conditional`
(precision ``M_j = Lambda_j + sum_k Z'Z_jk (x) P_k``, information
``b_j = h_j + sum_k P_k (S_yz - B' S_xz)_jk``), read from the compiled kernel's statistics
(clusters last) and drawn as ``M_j^-1 b_j + L_j^-T e`` with ``L_j`` the Cholesky factor of
``M_j``: the latent move draws it at every iteration, where NumPy's batched version spent
more time in its overhead than in the arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def draw_effects(
    lam: np.ndarray,
    h: np.ndarray,
    zz_t: np.ndarray,
    syz_t: np.ndarray,
    sxz_t: np.ndarray,
    prec: np.ndarray,
    beta: np.ndarray,
    normals: np.ndarray,
    out: np.ndarray,
) -> None:
    """Draw every cluster's random effects into ``out``.

    Parameters
    ----------
    lam, h : ndarray, shapes (J, d, d) and (J, d)
        Each cluster's prior precision and information shift (``d = r p``, effect-major:
        index ``e p + a`` is effect ``e`` of dimension ``a``).
    zz_t, syz_t, sxz_t : ndarray, shapes (K, r, r, J), (K, p, r, J), (K, q, r, J)
        The kernel's per-(pattern, cluster) statistics.
    prec : ndarray, shape (K, p, p)
        Each pattern's ``P_k`` (the inverse of its observed block, zero elsewhere).
    beta : ndarray, shape (q, p)
    normals : ndarray, shape (J, d)
        Standard normals, one row per cluster.
    out : ndarray, shape (J, r, p)
    """
    n_pat, p, r, n_cl = syz_t.shape
    q = sxz_t.shape[1]
    d = r * p
    m_mat = np.empty((d, d))
    b_vec = np.empty(d)
    resid = np.empty(p)
    for j in range(n_cl):
        m_mat[:, :] = lam[j]
        b_vec[:] = h[j]
        for k in range(n_pat):
            rows = 0.0  # the pattern's rows in the cluster add nothing if none (or z = 0)
            for e in range(r):
                rows += zz_t[k, e, e, j]
            if rows == 0.0:
                continue
            for e in range(r):
                for m in range(r):
                    zz = zz_t[k, e, m, j]
                    if zz == 0.0:
                        continue
                    for a in range(p):
                        for c in range(p):
                            m_mat[e * p + a, m * p + c] += zz * prec[k, a, c]
                for c in range(p):
                    v = syz_t[k, c, e, j]
                    for t in range(q):
                        v -= beta[t, c] * sxz_t[k, t, e, j]
                    resid[c] = v
                for a in range(p):
                    acc = 0.0
                    for c in range(p):
                        acc += prec[k, a, c] * resid[c]
                    b_vec[e * p + a] += acc
        chol = np.linalg.cholesky(m_mat)
        # mean = M^-1 b by two triangular solves; noise = L^-T e
        w = np.empty(d)
        for a in range(d):
            v = b_vec[a]
            for c in range(a):
                v -= chol[a, c] * w[c]
            w[a] = v / chol[a, a]
        draw = np.empty(d)
        for a in range(d - 1, -1, -1):
            v = w[a] + normals[j, a]
            for c in range(a + 1, d):
                v -= chol[c, a] * draw[c]
            draw[a] = v / chol[a, a]
        for e in range(r):
            for a in range(p):
                out[j, e, a] = draw[e * p + a]
