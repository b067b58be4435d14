"""Compiled value and gradient of the collapsed log-likelihood (Numba).

This is the hot path of the sampler. It evaluates the log-likelihood of the observed
level-1 targets given each cluster's Gaussian prior on its random effects, with the
random effects and missing cells integrated out, and its gradient, in one pass over the
per-pattern and per-(cluster, pattern) sufficient statistics.

Each cluster's prior on ``u_j`` is given in information form, a precision ``Lambda_g``
shared by the clusters of level-2 pattern ``g`` and a shift ``h_j = Lambda u_mean``: the
caller (a PyTensor graph) derives them from ``Psi`` and the cluster's observed level-2
values, and adds the prior's own terms. Without level-2 variables ``Lambda = Psi^{-1}``
and ``h = 0``. The value returned is

    -1/2 [ n_obs log 2 pi + sum_k n_k log|Sigma_oo,k| + sum_k tr(P_k C_k)
           + sum_j (log|M_j| - b_j' M_j^{-1} b_j) ],
    M_j = Lambda_g(j) + sum_k zz_jk kron P_k,   b_j = h_j + sum_k P_k R_jk.

Rows may hold latent values (categorical targets): they are passed separately, added to
the statistics on every call, and the gradient with respect to them is returned
(:mod:`jmimpute._kernels.kernel_latent`, which also applies the binary latents' map).

Why hand-written: the same likelihood as a PyTensor graph
(:mod:`jmimpute.models.collapsed.graph`, kept as the tested reference) compiles either to a
few hundred tiny XLA kernels with JAX, whose launches dominate a gradient's cost, or to a
Numba graph that takes minutes to compile. This kernel is a few loops over the sufficient
statistics and compiles once (``cache=True``); latent rows add to its cost with their
number (``python benchmarks/bench_gradient.py`` times hsb with and without them).

Gradient derivation (entries of every matrix treated as free; ``l`` the log-likelihood):

* ``dl/dM_j = -1/2 (M_j^{-1} + m_j m_j')`` with ``m_j = M_j^{-1} b_j``; ``dl/db_j = m_j``.
* ``dl/dP_k = -1/2 C_k + sum_j [ sum_{lm} zz_jk[l,m] G_j[(l,.),(m,.)] + Mm_j R_jk' ]``.
* ``dl/dSigma = -1/2 sum_k n_k P_k - sum_k P_k H_k P_k`` (``dP = -P dSigma P``).
* ``dl/dLambda_g = sum_{j in g} G_j``; ``dl/dh_j = m_j``.
* ``dl/dB = sum_k (S_yx,k' - S_xx,k B) P_k - sum_jk S_xz,jk (P_k Mm_j)'``.
* For ``Sigma = L L'``: ``dl/dL = (F + F') L`` with ``F = dl/dSigma``.
* A latent row ``y_i`` of pattern k in cluster j: ``dl/dy_i = P_k (B' x_i + Mm_j' z_i - y_i)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jmimpute._kernels.kernel_latent import (
    FASTMATH,
    add_latent_rows,
    as_int,
    fill_latents,
    latent_gradient,
)

LOG_2PI = float(np.log(2.0 * np.pi))


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
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


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
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


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
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


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
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


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def likelihood_given_priors(
    lsig,
    beta,
    lam,
    lam_idx,
    h_t,
    masks,
    n_k,
    syy0,
    syx0,
    sxx,
    zz_t,
    syz0_t,
    sxz_t,
    n_obs,
    lat_y0,
    lat_x,
    lat_z,
    seg_cluster,
    seg_bounds,
    pat_segs,
    lat_map,
    zin,
    g_lsig,
    g_beta,
    g_lam,
    g_h,
    g_z,
):  # pragma: no cover - compiled
    """Collapsed level-1 log-likelihood given each cluster's prior on ``u_j``, and its gradient.

    The cluster part works on arrays whose last axis runs over clusters, so that every
    inner loop is a contiguous, vectorisable sweep over the J clusters.

    Parameters
    ----------
    lsig : ndarray, shape (p, p)
        Lower Cholesky factor of ``Sigma``.
    beta : ndarray, shape (q, p)
    lam : ndarray, shape (G, d, d)
        Prior precision of the random effects per level-2 pattern (``d = r p``,
        effect-major order).
    lam_idx : ndarray, shape (J,)
        Level-2 pattern of each cluster (integer values as float).
    h_t : ndarray, shape (d, J)
        Prior information shift of each cluster.
    masks : ndarray of float (0/1), shape (K, p)
    n_k : ndarray, shape (K,)
    syy0, syx0, sxx : ndarray
        Per-pattern sums over the rows without latent values, shapes (K, p, p), (K, p, q),
        (K, q, q).
    zz_t, syz0_t, sxz_t : ndarray
        Per-(pattern, cluster) sums with clusters last: (K, r, r, J), (K, p, r, J),
        (K, q, r, J); ``syz0_t`` over the rows without latent values.
    n_obs : float
        Number of observed cells (latent cells included).
    lat_y0, lat_x, lat_z : ndarray
        The R rows holding latent values, transposed (p x R, q x R, r x R) and sorted by
        (pattern, cluster): targets (latent cells 0), fixed and random design.
    seg_cluster, seg_bounds, pat_segs : ndarray
        Their segments (:mod:`jmimpute._kernels.kernel_latent`): cluster (S,), row bounds
        (S + 1,) and each pattern's segments (K + 1,), integer values as float.
    lat_map : ndarray, shape (3, L)
        Row, column and sign of each latent value (sign 0: ``zin`` is the value; +-1:
        a binary latent's raw value, mapped and its log-Jacobian added here).
    zin : ndarray, shape (L,)
        The latent values, or raw values where ``lat_map`` says so.
    g_lsig, g_beta, g_lam, g_h, g_z : ndarray
        Outputs: gradients w.r.t. ``lsig`` (lower triangle), ``beta``, ``lam``, ``h_t`` and
        ``zin``.

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
    g_beta[:, :] = 0.0
    g_lam[:, :, :] = 0.0
    g_h[:, :] = 0.0

    # statistics with the current latent values
    syy = syy0.copy()
    syx = syx0.copy()
    syz_t = syz0_t.copy()
    lat_y = np.empty(lat_y0.shape)
    lat_y[:, :] = lat_y0
    seg_cl, seg_rows, psegs = as_int(seg_cluster), as_int(seg_bounds), as_int(pat_segs)
    dz = np.empty(zin.shape[0])
    djac = np.empty(zin.shape[0])
    jac = fill_latents(lat_y, lat_map, zin, dz, djac)
    add_latent_rows(lat_y, lat_x, lat_z, seg_cl, seg_rows, psegs, syy, syx, syz_t)

    prec = np.zeros((n_pat, p, p))
    hess = np.zeros((n_pat, p, p))  # dl/dP_k
    total = n_obs * LOG_2PI
    total += _pattern_terms(lsig, beta, masks, n_k, syy, syx, sxx, prec, hess, g_beta)
    if total == np.inf:
        return -np.inf

    # M_j (lower triangle), clusters last
    mv = np.empty((d, d, n_cl))
    for e1 in range(d):
        l1, a = e1 // p, e1 % p
        for e2 in range(e1 + 1):
            l2, b = e2 // p, e2 % p
            for j in range(n_cl):
                mv[e1, e2, j] = lam[int(lam_idx[j]), e1, e2]
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
    # b_j[(l, a)] = h_j + sum_k (P_k R_jk)[a, l]
    bv = h_t.copy()
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
            g_h[i, j] = mvec[i, j]
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
    for e1 in range(d):
        for e2 in range(e1 + 1):
            for c in range(e1, d):
                for j in range(n_cl):
                    gm[e1, e2, j] += linv[c, e1, j] * linv[c, e2, j]
            for j in range(n_cl):
                val = -0.5 * (gm[e1, e2, j] + mvec[e1, j] * mvec[e2, j])
                gm[e1, e2, j] = val
                g_lam[int(lam_idx[j]), e1, e2] += val
            if e2 != e1:
                for j in range(n_cl):
                    gm[e2, e1, j] = gm[e1, e2, j]
                for g in range(g_lam.shape[0]):
                    g_lam[g, e2, e1] = g_lam[g, e1, e2]

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

    # latent values: dl/dy_i = P_k (B' x_i + Mm_j' z_i - y_i), read at the latent cells
    if zin.shape[0] > 0:
        latent_gradient(
            lat_y, lat_x, lat_z, seg_cl, seg_rows, psegs, beta, prec, mvec, lat_map, dz, djac, g_z
        )

    # gradient w.r.t. the Cholesky factor of Sigma
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
    return -0.5 * total + jac


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _cluster_priors(psi, resid2, l2_masks, l2_pattern, d, lam, qfull, h_t):  # pragma: no cover
    """Each cluster's prior on ``u_j`` given its observed level-2 residuals.

    For level-2 pattern g (observed dims ``o``), ``S = Psi[(u, o), (u, o)]``,
    ``Q = S^{-1}``: ``Lambda_g = Q_uu``, ``h_j = -Q_uo f_o,j``. Fills ``lam`` (G, d, d),
    ``qfull`` (G, D, D; Q scattered, zero at unobserved dims) and ``h_t`` (d, J); returns
    ``-1/2 sum_g [n_g log|S| + sum_j f_j' Q_oo f_j + n_g |o| log 2 pi]``, or ``inf`` if an
    ``S`` is not positive definite.
    """
    n_pat2, p2 = l2_masks.shape
    n_dim = psi.shape[0]
    n_cl = l2_pattern.shape[0]
    idx = np.zeros(n_dim, dtype=np.int64)
    sub = np.zeros((n_dim, n_dim))
    inv = np.zeros((n_dim, n_dim))
    work = np.zeros((n_dim, n_dim))
    counts = np.zeros(n_pat2)
    for j in range(n_cl):
        counts[int(l2_pattern[j])] += 1.0
    total = 0.0
    h_t[:, :] = 0.0
    qfull[:, :, :] = 0.0
    for g in range(n_pat2):
        ns = 0
        for a in range(d):
            idx[ns] = a
            ns += 1
        for a in range(p2):
            if l2_masks[g, a] > 0.5:
                idx[ns] = d + a
                ns += 1
        for a in range(ns):
            for b in range(ns):
                sub[a, b] = psi[idx[a], idx[b]]
        if not _cholesky(sub, ns):
            return np.inf
        logdet = 0.0
        for a in range(ns):
            logdet += 2.0 * np.log(sub[a, a])
        _inverse_from_cholesky(sub, ns, work, inv)
        for a in range(ns):
            for b in range(ns):
                qfull[g, idx[a], idx[b]] = inv[a, b]
        for a in range(d):
            for b in range(d):
                lam[g, a, b] = inv[a, b]
        total += counts[g] * (logdet + (ns - d) * LOG_2PI)
    for j in range(n_cl):
        g = int(l2_pattern[j])
        for a in range(p2):
            if l2_masks[g, a] < 0.5:
                continue
            fa = resid2[j, a]
            for e in range(d):
                h_t[e, j] -= qfull[g, e, d + a] * fa
            for b in range(p2):
                if l2_masks[g, b] > 0.5:
                    total += fa * qfull[g, d + a, d + b] * resid2[j, b]
    return -0.5 * total


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _cluster_priors_grad(
    resid2, l2_masks, l2_pattern, d, qfull, g_lam, g_h, g_psi, g_resid2
):  # pragma: no cover
    """Back-propagate ``dl/dLambda_g`` and ``dl/dh_j`` (and the prior term) to ``Psi`` and f.

    With ``G_Q`` the gradient w.r.t. ``Q`` (``[g_lam, -sum_j m_j f_j'; 0,
    -1/2 sum_j f_j f_j']``), ``dl/dS = -Q G_Q Q - n_g/2 Q`` and
    ``dl/df_j = -Q_uo' m_j - Q_oo f_j``.
    """
    n_pat2, p2 = l2_masks.shape
    n_dim = qfull.shape[1]
    n_cl = l2_pattern.shape[0]
    g_psi[:, :] = 0.0
    g_resid2[:, :] = 0.0
    gq = np.zeros((n_dim, n_dim))
    tmp = np.zeros((n_dim, n_dim))
    for g in range(n_pat2):
        gq[:, :] = 0.0
        n_g = 0.0
        for a in range(d):
            for b in range(d):
                gq[a, b] = g_lam[g, a, b]
        for j in range(n_cl):
            if int(l2_pattern[j]) != g:
                continue
            n_g += 1.0
            for a in range(p2):
                if l2_masks[g, a] < 0.5:
                    continue
                fa = resid2[j, a]
                for e in range(d):
                    gq[e, d + a] -= g_h[e, j] * fa
                for b in range(p2):
                    if l2_masks[g, b] > 0.5:
                        gq[d + a, d + b] -= 0.5 * fa * resid2[j, b]
        # dl/dS = -Q G_Q Q - n_g / 2 Q  (Q symmetric, zero outside the pattern's dims)
        for a in range(n_dim):
            for b in range(n_dim):
                acc = 0.0
                for c in range(n_dim):
                    acc += gq[a, c] * qfull[g, c, b]
                tmp[a, b] = acc
        for a in range(n_dim):
            for b in range(n_dim):
                acc = 0.0
                for c in range(n_dim):
                    acc += qfull[g, a, c] * tmp[c, b]
                g_psi[a, b] += -acc - 0.5 * n_g * qfull[g, a, b]
    for j in range(n_cl):
        g = int(l2_pattern[j])
        for a in range(p2):
            if l2_masks[g, a] < 0.5:
                continue
            acc = 0.0
            for e in range(d):
                acc -= qfull[g, e, d + a] * g_h[e, j]
            for b in range(p2):
                if l2_masks[g, b] > 0.5:
                    acc -= qfull[g, d + a, d + b] * resid2[j, b]
            g_resid2[j, a] = acc


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def collapsed_value_and_grad(
    lsig,
    beta,
    psi,
    resid2,
    l2_masks,
    l2_pattern,
    masks,
    n_k,
    syy0,
    syx0,
    sxx,
    zz_t,
    syz0_t,
    sxz_t,
    n_obs,
    lat_y0,
    lat_x,
    lat_z,
    seg_cluster,
    seg_bounds,
    pat_segs,
    lat_map,
    zin,
    g_lsig,
    g_beta,
    g_psi,
    g_resid2,
    g_z,
):  # pragma: no cover - compiled
    """Joint log-likelihood of the observed level-1 and level-2 data, and its gradient.

    Parameters
    ----------
    lsig : ndarray, shape (p, p)
        Lower Cholesky factor of ``Sigma``.
    beta : ndarray, shape (q, p)
    psi : ndarray, shape (d + p2, d + p2)
        Joint covariance of the random effects (effect-major) and the level-2 residuals.
    resid2 : ndarray, shape (J, p2)
        Level-2 residuals ``w_j - G' v_j`` (read only where observed).
    l2_masks : ndarray of float (0/1), shape (G, p2)
        Level-2 observed patterns.
    l2_pattern : ndarray, shape (J,)
        Each cluster's level-2 pattern (integer values as float).
    masks ... zin
        As for :func:`likelihood_given_priors`.
    g_lsig, g_beta, g_psi, g_resid2, g_z : ndarray
        Outputs: gradients (``g_psi`` for the entries of ``psi`` as free, symmetric).

    Returns
    -------
    float
        The log-likelihood, or ``-inf`` when a covariance is not positive definite.
    """
    d = zz_t.shape[1] * beta.shape[1]
    n_pat2 = l2_masks.shape[0]
    n_dim = psi.shape[0]
    n_cl = zz_t.shape[3]
    lam = np.zeros((n_pat2, d, d))
    qfull = np.zeros((n_pat2, n_dim, n_dim))
    h_t = np.zeros((d, n_cl))
    term = _cluster_priors(psi, resid2, l2_masks, l2_pattern, d, lam, qfull, h_t)
    if term == np.inf:
        g_psi[:, :] = 0.0
        return -np.inf
    g_lam = np.zeros((n_pat2, d, d))
    g_h = np.zeros((d, n_cl))
    value = likelihood_given_priors(
        lsig, beta, lam, l2_pattern, h_t, masks, n_k, syy0, syx0, sxx, zz_t, syz0_t, sxz_t,
        n_obs, lat_y0, lat_x, lat_z, seg_cluster, seg_bounds, pat_segs, lat_map, zin, g_lsig,
        g_beta, g_lam, g_h, g_z,
    )  # fmt: skip
    if value == -np.inf:
        return -np.inf
    _cluster_priors_grad(resid2, l2_masks, l2_pattern, d, qfull, g_lam, g_h, g_psi, g_resid2)
    return value + term
