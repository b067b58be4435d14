"""Compiled value and gradient of the collapsed log-likelihood (Numba).

This is the hot path of the sampler. It evaluates the marginal log-likelihood of the
observed level-1 targets (random effects and missing cells integrated out) and its
gradient with respect to the Cholesky factors of the level-1 covariance ``Sigma`` and
the random-effect covariance ``Psi``, and the fixed effects ``B``, in one pass over the
per-pattern and per-(cluster, pattern) sufficient statistics.

Why hand-written: the same likelihood as a PyTensor graph (``collapsed.py``, kept as the
tested reference) compiles either to a few hundred tiny XLA kernels with JAX, costing
about 250 us per gradient on this project's 2-core machines, or to a Numba graph that
takes minutes to compile. This kernel costs a few microseconds and compiles once
(``cache=True``).

Gradient derivation (entries of every matrix treated as free; ``l`` the log-likelihood):

* ``dl/dM_j = -1/2 (M_j^{-1} + m_j m_j')`` with ``m_j = M_j^{-1} b_j``; ``dl/db_j = m_j``.
* ``dl/dP_k = -1/2 C_k + sum_j [ sum_{lm} zz_jk[l,m] G_j[(l,.),(m,.)] + Mm_j R_jk' ]``.
* ``dl/dSigma = -1/2 sum_k n_k P_k - sum_k P_k H_k P_k`` (``dP = -P dSigma P``).
* ``dl/dPsi = -J/2 Psi^{-1} - Psi^{-1} (sum_j G_j) Psi^{-1}``.
* ``dl/dB = sum_k (S_yx,k' - S_xx,k B) P_k - sum_jk S_xz,jk (P_k Mm_j)'``.
* For ``Sigma = L L'``: ``dl/dL = (F + F') L`` with ``F = dl/dSigma``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LOG_2PI = float(np.log(2.0 * np.pi))
# Reassociation and contraction let LLVM vectorise the small loops; "nnan"/"ninf" are left
# out on purpose: a failed Cholesky is detected by a comparison that must see NaN.
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _cholesky(a, n):  # pragma: no cover - compiled
    """Overwrite the lower triangle of ``a[:n, :n]`` with its Cholesky factor."""
    for j in range(n):
        s = a[j, j]
        for k in range(j):
            s -= a[j, k] * a[j, k]
        if not s > 0.0:
            return False
        ljj = np.sqrt(s)
        a[j, j] = ljj
        for i in range(j + 1, n):
            s = a[i, j]
            for k in range(j):
                s -= a[i, k] * a[j, k]
            a[i, j] = s / ljj
    return True


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _inverse_from_cholesky(low, n, work, out):  # pragma: no cover - compiled
    """``out[:n, :n] = (L L')^{-1}`` for lower ``L = low[:n, :n]``; ``work`` is scratch."""
    for c in range(n):
        for i in range(c):
            work[i, c] = 0.0
        for i in range(c, n):
            s = 1.0 if i == c else 0.0
            for k in range(c, i):
                s -= low[i, k] * work[k, c]
            work[i, c] = s / low[i, i]
    for r in range(n):
        for s2 in range(r, n):
            acc = 0.0
            for c in range(s2, n):
                acc += work[c, r] * work[c, s2]
            out[r, s2] = acc
            out[s2, r] = acc


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _cholesky_solve(low, n, b, out):  # pragma: no cover - compiled
    """``out = (L L')^{-1} b``."""
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= low[i, k] * out[k]
        out[i] = s / low[i, i]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, n):
            s -= low[k, i] * out[k]
        out[i] = s / low[i, i]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _chol_factor_grad(f, low, n, out):  # pragma: no cover - compiled
    """``out = lower((F + F') L)``: gradient w.r.t. ``L`` of a function of ``L L'``."""
    for i in range(n):
        for j in range(n):
            if j > i:
                out[i, j] = 0.0
                continue
            acc = 0.0
            for k in range(j, n):
                acc += (f[i, k] + f[k, i]) * low[k, j]
            out[i, j] = acc


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _pattern_terms(lsig, beta, masks, n_k, syy, syx, sxx, prec, hess, g_beta):  # pragma: no cover
    """Per-pattern part: fills ``prec`` (P_k), ``hess`` (-C_k / 2) and adds to ``g_beta``.

    Returns ``sum_k n_k log|Sigma_oo,k| + sum_k tr(P_k C_k)``, or ``inf`` when a block of
    ``Sigma`` is not positive definite.
    """
    q, p = beta.shape
    n_pat = masks.shape[0]
    sig = np.zeros((p, p))
    for a in range(p):
        for b in range(a + 1):
            acc = 0.0
            for c in range(b + 1):
                acc += lsig[a, c] * lsig[b, c]
            sig[a, b] = acc
            sig[b, a] = acc
    sub = np.zeros((p, p))
    subinv = np.zeros((p, p))
    work = np.zeros((p, p))
    idx = np.zeros(p, dtype=np.int64)
    sb = np.zeros((p, p))
    xb = np.zeros((q, p))
    total = 0.0
    prec[:, :, :] = 0.0
    for k in range(n_pat):
        no = 0
        for a in range(p):
            if masks[k, a] > 0.5:
                idx[no] = a
                no += 1
        for a in range(no):
            for b in range(no):
                sub[a, b] = sig[idx[a], idx[b]]
        if not _cholesky(sub, no):
            return np.inf
        logdet = 0.0
        for a in range(no):
            logdet += 2.0 * np.log(sub[a, a])
        _inverse_from_cholesky(sub, no, work, subinv)
        for a in range(no):
            for b in range(no):
                prec[k, idx[a], idx[b]] = subinv[a, b]
        total += n_k[k] * logdet
        for a in range(p):
            for b in range(p):
                acc = 0.0
                for c in range(q):
                    acc += syx[k, a, c] * beta[c, b]
                sb[a, b] = acc
        for a in range(q):
            for b in range(p):
                acc = 0.0
                for c in range(q):
                    acc += sxx[k, a, c] * beta[c, b]
                xb[a, b] = acc
        for a in range(p):
            for b in range(p):
                bxb = 0.0
                for c in range(q):
                    bxb += beta[c, a] * xb[c, b]
                cab = syy[k, a, b] - sb[a, b] - sb[b, a] + bxb
                total += prec[k, a, b] * cab
                hess[k, a, b] = -0.5 * cab
        # dl/dB += (S_yx' - S_xx B) P_k
        for a in range(q):
            for b in range(p):
                acc = 0.0
                for c in range(p):
                    acc += (syx[k, c, a] - xb[a, c]) * prec[k, c, b]
                g_beta[a, b] += acc
    return total


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def collapsed_value_and_grad(
    lsig, lpsi, beta, masks, n_k, syy, syx, sxx, zz_t, syz_t, sxz_t, n_obs, g_lsig, g_lpsi, g_beta
):  # pragma: no cover - compiled
    """Collapsed log-likelihood and its gradient.

    The cluster part works on arrays whose last axis runs over clusters, so that every
    inner loop is a contiguous, vectorisable sweep over the J clusters (one tiny
    factorisation per cluster would cost several times more in loop overhead).

    Parameters
    ----------
    lsig : ndarray, shape (p, p)
        Lower Cholesky factor of ``Sigma``.
    lpsi : ndarray, shape (d, d)
        Lower Cholesky factor of ``Psi`` (``d = r p``, effect-major order).
    beta : ndarray, shape (q, p)
    masks : ndarray of float (0/1), shape (K, p)
    n_k : ndarray, shape (K,)
    syy, syx, sxx : ndarray
        Per-pattern sums, shapes (K, p, p), (K, p, q), (K, q, q).
    zz_t, syz_t, sxz_t : ndarray
        Per-(pattern, cluster) sums with clusters last: (K, r, r, J), (K, p, r, J),
        (K, q, r, J). Clusters without observed data must be left out.
    n_obs : float
        Number of observed cells.
    g_lsig, g_lpsi, g_beta : ndarray
        Outputs: gradients w.r.t. ``lsig``, ``lpsi`` (lower triangles) and ``beta``.

    Returns
    -------
    float
        The log-likelihood, or ``-inf`` when a covariance is not positive definite.
    """
    q, p = beta.shape
    n_pat, r = zz_t.shape[0], zz_t.shape[1]
    n_cl = zz_t.shape[3]
    d = r * p
    g_lsig[:, :] = 0.0
    g_lpsi[:, :] = 0.0
    g_beta[:, :] = 0.0

    prec = np.zeros((n_pat, p, p))
    hess = np.zeros((n_pat, p, p))  # dl/dP_k
    total = n_obs * LOG_2PI
    total += _pattern_terms(lsig, beta, masks, n_k, syy, syx, sxx, prec, hess, g_beta)
    if total == np.inf:
        return -np.inf

    work = np.zeros((d, d))
    psi_inv = np.zeros((d, d))
    for a in range(d):
        if not lpsi[a, a] > 0.0:
            return -np.inf
        total += n_cl * 2.0 * np.log(lpsi[a, a])
    _inverse_from_cholesky(lpsi, d, work, psi_inv)

    # M_j (lower triangle), clusters last
    mv = np.empty((d, d, n_cl))
    for e1 in range(d):
        l1, a = e1 // p, e1 % p
        for e2 in range(e1 + 1):
            l2, b = e2 // p, e2 % p
            v0 = psi_inv[e1, e2]
            for j in range(n_cl):
                mv[e1, e2, j] = v0
            for k in range(n_pat):
                pk = prec[k, a, b]
                if pk != 0.0:
                    for j in range(n_cl):
                        mv[e1, e2, j] += pk * zz_t[k, l1, l2, j]
    # R_jk = S_yz,jk - B' S_xz,jk
    resid = np.empty((n_pat, p, r, n_cl))
    for k in range(n_pat):
        for b in range(p):
            for l1 in range(r):
                for j in range(n_cl):
                    resid[k, b, l1, j] = syz_t[k, b, l1, j]
                for c in range(q):
                    bc = beta[c, b]
                    if bc != 0.0:
                        for j in range(n_cl):
                            resid[k, b, l1, j] -= bc * sxz_t[k, c, l1, j]
    # b_j[(l, a)] = sum_k (P_k R_jk)[a, l]
    bv = np.zeros((d, n_cl))
    for l1 in range(r):
        for a in range(p):
            e1 = l1 * p + a
            for k in range(n_pat):
                for b in range(p):
                    pk = prec[k, a, b]
                    if pk != 0.0:
                        for j in range(n_cl):
                            bv[e1, j] += pk * resid[k, b, l1, j]

    # Cholesky of every M_j, in place
    for c in range(d):
        for k in range(c):
            for j in range(n_cl):
                mv[c, c, j] -= mv[c, k, j] * mv[c, k, j]
        for j in range(n_cl):
            if not mv[c, c, j] > 0.0:
                return -np.inf
            mv[c, c, j] = np.sqrt(mv[c, c, j])
            total += 2.0 * np.log(mv[c, c, j])
        for i in range(c + 1, d):
            for k in range(c):
                for j in range(n_cl):
                    mv[i, c, j] -= mv[i, k, j] * mv[c, k, j]
            for j in range(n_cl):
                mv[i, c, j] /= mv[c, c, j]
    # m_j = M_j^{-1} b_j and the quadratic form
    mvec = np.empty((d, n_cl))
    for i in range(d):
        for j in range(n_cl):
            mvec[i, j] = bv[i, j]
        for k in range(i):
            for j in range(n_cl):
                mvec[i, j] -= mv[i, k, j] * mvec[k, j]
        for j in range(n_cl):
            mvec[i, j] /= mv[i, i, j]
    for i in range(d - 1, -1, -1):
        for k in range(i + 1, d):
            for j in range(n_cl):
                mvec[i, j] -= mv[k, i, j] * mvec[k, j]
        for j in range(n_cl):
            mvec[i, j] /= mv[i, i, j]
    for i in range(d):
        for j in range(n_cl):
            total -= bv[i, j] * mvec[i, j]
    # L_j^{-1} (lower), then G_j = dl/dM_j = -1/2 (M_j^{-1} + m_j m_j'), full symmetric
    linv = np.zeros((d, d, n_cl))
    for c in range(d):
        for j in range(n_cl):
            linv[c, c, j] = 1.0 / mv[c, c, j]
        for i in range(c + 1, d):
            for k in range(c, i):
                for j in range(n_cl):
                    linv[i, c, j] -= mv[i, k, j] * linv[k, c, j]
            for j in range(n_cl):
                linv[i, c, j] /= mv[i, i, j]
    gm = np.zeros((d, d, n_cl))
    g_m = np.zeros((d, d))
    for e1 in range(d):
        for e2 in range(e1 + 1):
            for c in range(e1, d):
                for j in range(n_cl):
                    gm[e1, e2, j] += linv[c, e1, j] * linv[c, e2, j]
            acc = 0.0
            for j in range(n_cl):
                val = -0.5 * (gm[e1, e2, j] + mvec[e1, j] * mvec[e2, j])
                gm[e1, e2, j] = val
                acc += val
            g_m[e1, e2] = acc
            if e2 != e1:
                for j in range(n_cl):
                    gm[e2, e1, j] = gm[e1, e2, j]
                g_m[e2, e1] = acc

    # dl/dP_k from M_j and b_j;  dl/dB from R_jk
    for k in range(n_pat):
        for a in range(p):
            for b in range(p):
                acc = 0.0
                for l1 in range(r):
                    for l2 in range(r):
                        e1, e2 = l1 * p + a, l2 * p + b
                        for j in range(n_cl):
                            acc += zz_t[k, l1, l2, j] * gm[e1, e2, j]
                    e1 = l1 * p + a
                    for j in range(n_cl):
                        acc += mvec[e1, j] * resid[k, b, l1, j]
                hess[k, a, b] += acc
        for c in range(q):
            for l1 in range(r):
                for a in range(p):
                    e1 = l1 * p + a
                    dot = 0.0
                    for j in range(n_cl):
                        dot += sxz_t[k, c, l1, j] * mvec[e1, j]
                    if dot != 0.0:
                        for b in range(p):
                            g_beta[c, b] -= prec[k, b, a] * dot

    # gradients w.r.t. the Cholesky factors
    tmp = np.zeros((d, d))
    f_psi = np.zeros((d, d))
    for a in range(d):
        for b in range(d):
            acc = 0.0
            for c in range(d):
                acc += g_m[a, c] * psi_inv[c, b]
            tmp[a, b] = acc
    for a in range(d):
        for b in range(d):
            acc = 0.0
            for c in range(d):
                acc += psi_inv[a, c] * tmp[c, b]
            f_psi[a, b] = -0.5 * n_cl * psi_inv[a, b] - acc
    _chol_factor_grad(f_psi, lpsi, d, g_lpsi)

    f_sig = np.zeros((p, p))
    ph = np.zeros((p, p))
    for k in range(n_pat):
        for a in range(p):
            for b in range(p):
                acc = 0.0
                for c in range(p):
                    acc += prec[k, a, c] * hess[k, c, b]
                ph[a, b] = acc
        for a in range(p):
            for b in range(p):
                acc = 0.0
                for c in range(p):
                    acc += ph[a, c] * prec[k, c, b]
                f_sig[a, b] += -0.5 * n_k[k] * prec[k, a, b] - acc
    _chol_factor_grad(f_sig, lsig, p, g_lsig)
    return -0.5 * total
