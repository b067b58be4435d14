"""The rows holding latent values, for the compiled likelihood kernel (Numba).

Rows with latent cells (observed categories of categorical targets) change at every
gradient evaluation, so their contribution to the sufficient statistics is added on every
call, and the gradient with respect to their latent values is returned. This is the part
of the kernel whose cost grows with the data (every row of hsb, whose two binary targets
are observed in almost every row).

Layout (built by :class:`jmimpute._kernels.ops.KernelData`): the rows are sorted by
(pattern, cluster) and stored transposed (dims x rows), so that every sum runs over a
contiguous stretch. A *segment* is the rows of one (pattern, cluster) pair:
``seg_bounds[s] .. seg_bounds[s + 1]`` are its rows, ``seg_cluster[s]`` its cluster, and
pattern k owns segments ``pat_segs[k] .. pat_segs[k + 1]``. The loops read 1-D slices of
single rows of the transposed arrays and loop from 0: Numba vectorises those, but not a
loop over ``range(i0, i1)`` that indexes the row directly (it cannot rule out negative,
wrapped-around indices).

A binary latent may be passed *raw*: ``z = sign softplus(a)`` with sign +1 for the second
category and -1 for the first (:mod:`jmimpute.kinds.binary`). The kernel
then applies the map, adds its log-Jacobian ``log sigmoid(a)`` to the value and returns
the gradient with respect to ``a``. Doing so here saves the PyTensor graph several passes
of transcendental functions over every latent value (``python benchmarks/bench_gradient.py``
prints both). The map's exp and log1p are polynomials here (:func:`softplus_parts`), not
glibc's scalar calls, so that their loop vectorises and has no branches to mispredict.

Numba's on-disk cache of :mod:`jmimpute._kernels.kernel` does not notice a change to this
file (a callee in another module): after editing it, delete ``jmimpute/_kernels/__pycache__``
or touch ``kernel.py``, or tests run against the old machine code. Fresh clones and installs
are not affected; PyTensor's cache key of the Op hashes both files (:mod:`.cache`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Reassociation and contraction let LLVM vectorise the small loops; "nnan"/"ninf" are left
# out on purpose: a failed Cholesky (kernel.py) is detected by a comparison that must see NaN.
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def as_int(values):  # pragma: no cover - compiled
    """Integer copy of an array of integer values stored as float."""
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = int(values[i])
    return out


# exp by Cody-Waite reduction x = k ln2 + r, |r| <= ln2 / 2, and a degree-12 Taylor
# polynomial (truncation error below 2e-16 relative); 2^k as a product of 2^-512, 2^-256,
# ..., 2^-1 chosen by the bits of -k (exact, and free of integer conversions, which AVX2
# cannot vectorise, and of reinterpreted bits, which LLVM may reorder).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(12, -1, -1))
_POW_BITS = tuple(float(2**j) for j in range(9, -1, -1))
_POW_FACTORS = tuple(2.0 ** -(2**j) for j in range(9, -1, -1))
# log1p(e) = 2 atanh(t) = 2 (t + t^3 / 3 + ...), |t| <= 0.1716: ten terms reach 1e-17
_ATANH_SERIES = tuple(1.0 / (2 * n + 1) for n in range(9, -1, -1))
_SQRT2_M1 = 0.41421356237309503
_LN2 = 0.6931471805599453


# Not fastmath: reassociation would undo the two-part ln2 reduction. The loop is free of
# branches and calls, so LLVM vectorises it (glibc's scalar exp and log1p took most of a
# gradient's time on hsb, more at spread raw latents than at the initial point's zeros:
# ``python benchmarks/bench_gradient.py``).
@njit(cache=True, nogil=True, error_model="numpy")
def softplus_parts(a, l1p, sig):  # pragma: no cover - compiled
    """``l1p = log1p(exp(-|a|))`` and ``sig = sigmoid(a)``, elementwise.

    Then ``softplus(a) = max(a, 0) + l1p`` and ``log sigmoid(a) = min(a, 0) - l1p``.
    Below ``exp(-700)`` (about 1e-304), ``exp(-|a|)`` is taken as 0.
    """
    for i in range(a.shape[0]):
        x = max(-abs(a[i]), -700.0)  # so 2^k >= 2^-1010 stays a normal number
        k = np.floor(x * _LOG2E + 0.5)
        r = (x - k * _LN2_HI) - k * _LN2_LO
        e = 0.0
        for c in _EXP_TAYLOR:
            e = e * r + c
        m = -k
        for j in range(10):
            take = m >= _POW_BITS[j]
            e *= _POW_FACTORS[j] if take else 1.0
            m -= _POW_BITS[j] if take else 0.0
        e = e if x > -700.0 else 0.0
        big = 1.0 if e > _SQRT2_M1 else 0.0
        # t = e / (2 + e), or (e - 1) / (e + 3) for log((1 + e) / 2) + ln 2
        t = (e - big) / (e + 2.0 + big)
        t2 = t * t
        series = 0.0
        for c in _ATANH_SERIES:
            series = series * t2 + c
        l1p[i] = big * _LN2 + 2.0 * t * series
        sig[i] = (1.0 if a[i] >= 0.0 else e) / (1.0 + e)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def fill_latents(lat_y, lat_map, zin, dz, djac):  # pragma: no cover - compiled
    """Write the latent values into ``lat_y``; return the binary maps' total log-Jacobian.

    ``lat_map`` (3, L) holds each latent value's row, column and sign (0: ``zin`` is the
    latent value itself; +-1: ``zin`` is a binary latent's raw value). Fills ``dz``
    (dz/dzin) and ``djac`` (d log-Jacobian / dzin).
    """
    n = zin.shape[0]
    l1p = np.empty(n)
    softplus_parts(zin, l1p, dz)
    jac = 0.0
    for i in range(n):
        sign = lat_map[2, i]
        a = zin[i]
        if sign == 0.0:
            z = a
            dz[i] = 1.0
            djac[i] = 0.0
        else:
            sig = dz[i]
            z = sign * (max(a, 0.0) + l1p[i])
            jac += min(a, 0.0) - l1p[i]
            dz[i] = sign * sig
            djac[i] = 1.0 - sig
        lat_y[int(lat_map[1, i]), int(lat_map[0, i])] = z
    return jac


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _dot(u, v):  # pragma: no cover - compiled
    acc = 0.0
    for i in range(u.shape[0]):
        acc += u[i] * v[i]
    return acc


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def _axpy(alpha, x, y):  # pragma: no cover - compiled
    """``y += alpha x``."""
    for i in range(y.shape[0]):
        y[i] += alpha * x[i]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def add_latent_rows(
    lat_y, lat_x, lat_z, seg_cl, seg_rows, pat_segs, syy, syx, syz_t
):  # pragma: no cover - compiled
    """Add the rows holding latent values to the per-pattern and per-(pattern, cluster) sums."""
    p, q, r = lat_y.shape[0], lat_x.shape[0], lat_z.shape[0]
    for k in range(pat_segs.shape[0] - 1):
        s0, s1 = pat_segs[k], pat_segs[k + 1]
        i0, i1 = seg_rows[s0], seg_rows[s1]
        if i1 == i0:
            continue
        for a in range(p):
            ya = lat_y[a, i0:i1]
            for b in range(a + 1):
                acc = _dot(ya, lat_y[b, i0:i1])
                syy[k, a, b] += acc
                if b != a:
                    syy[k, b, a] += acc
            for c in range(q):
                syx[k, a, c] += _dot(ya, lat_x[c, i0:i1])
            for l1 in range(r):
                for s in range(s0, s1):
                    j0, j1 = seg_rows[s], seg_rows[s + 1]
                    syz_t[k, a, l1, seg_cl[s]] += _dot(lat_y[a, j0:j1], lat_z[l1, j0:j1])


@njit(cache=True, nogil=True, error_model="numpy", fastmath=FASTMATH)
def latent_gradient(
    lat_y, lat_x, lat_z, seg_cl, seg_rows, pat_segs, beta, prec, mvec, lat_map, dz, djac, g_z
):  # pragma: no cover - compiled
    """Fill ``g_z``, the gradient w.r.t. ``zin``.

    ``dl/dy_i = P_k (B' x_i + Mm_j' z_i - y_i)`` at each latent cell, times ``dz``, plus the
    log-Jacobian's ``djac``.
    """
    p, n_rows = lat_y.shape
    q, r = lat_x.shape[0], lat_z.shape[0]
    res = np.empty((p, n_rows))
    g_rows = np.zeros((p, n_rows))
    row_cl = np.empty(n_rows, dtype=np.int64)
    for s in range(seg_cl.shape[0]):
        row_cl[seg_rows[s] : seg_rows[s + 1]] = seg_cl[s]
    for k in range(pat_segs.shape[0] - 1):
        i0, i1 = seg_rows[pat_segs[k]], seg_rows[pat_segs[k + 1]]
        if i1 == i0:
            continue
        for b in range(p):
            rb, yb = res[b, i0:i1], lat_y[b, i0:i1]
            for i in range(rb.shape[0]):
                rb[i] = -yb[i]
            for c in range(q):
                _axpy(beta[c, b], lat_x[c, i0:i1], rb)
            # a gather by each row's cluster: faster than a short loop per segment
            cl = row_cl[i0:i1]
            for l1 in range(r):
                mv, zl = mvec[l1 * p + b], lat_z[l1, i0:i1]
                for i in range(rb.shape[0]):
                    rb[i] += mv[cl[i]] * zl[i]
        for a in range(p):
            ga = g_rows[a, i0:i1]
            for b in range(p):
                pab = prec[k, a, b]
                if pab != 0.0:
                    _axpy(pab, res[b, i0:i1], ga)
    for i in range(g_z.shape[0]):
        g = g_rows[int(lat_map[1, i]), int(lat_map[0, i])]
        g_z[i] = g * dz[i] + djac[i]
