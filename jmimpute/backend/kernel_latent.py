"""The rows holding latent values, for the compiled likelihood kernel (Numba).

Rows with latent cells (observed categories of categorical targets) change at every
gradient evaluation, so their contribution to the sufficient statistics is added on every
call, and the gradient with respect to their latent values is returned. This is the part
of the kernel whose cost grows with the data: hsb has 7165 such rows.

Layout (built by :class:`jmimpute.backend.ops.KernelData`): the rows are sorted by
(pattern, cluster) and stored transposed (dims x rows), so that every sum runs over a
contiguous stretch. A *segment* is the rows of one (pattern, cluster) pair:
``seg_bounds[s] .. seg_bounds[s + 1]`` are its rows, ``seg_cluster[s]`` its cluster, and
pattern k owns segments ``pat_segs[k] .. pat_segs[k + 1]``. The loops read 1-D slices of
single rows of the transposed arrays and loop from 0: Numba vectorises those, while a loop
over ``range(i0, i1)`` indexing the row directly ran about 6 times slower (it cannot rule
out negative, wrapped-around indices; measured on this project's machines).

A binary latent may be passed *raw*: ``z = sign softplus(a)`` with sign +1 for the second
category and -1 for the first (:func:`jmimpute.backend.latents.latent_values`). The kernel
then applies the map, adds its log-Jacobian ``log sigmoid(a)`` to the value and returns
the gradient with respect to ``a``. Doing so here saves the PyTensor graph several passes
of transcendental functions over every latent value (0.93 against 0.43 ms a gradient on
hsb, ``python benchmarks/bench_gradient.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# as in kernel.py: no "nnan"/"ninf", a failed Cholesky is detected by a NaN comparison
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def as_int(values):  # pragma: no cover - compiled
    """Integer copy of an array of integer values stored as float."""
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = int(values[i])
    return out


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def fill_latents(lat_y, lat_map, zin, dz, djac):  # pragma: no cover - compiled
    """Write the latent values into ``lat_y``; return the binary maps' total log-Jacobian.

    ``lat_map`` (3, L) holds each latent value's row, column and sign (0: ``zin`` is the
    latent value itself; +-1: ``zin`` is a binary latent's raw value). Fills ``dz``
    (dz/dzin) and ``djac`` (d log-Jacobian / dzin).
    """
    jac = 0.0
    for i in range(zin.shape[0]):
        sign = lat_map[2, i]
        a = zin[i]
        if sign == 0.0:
            z = a
            dz[i] = 1.0
            djac[i] = 0.0
        else:
            e = np.exp(-abs(a))
            l1p = np.log1p(e)
            sig = 1.0 / (1.0 + e) if a >= 0.0 else e / (1.0 + e)
            z = sign * (max(a, 0.0) + l1p)
            jac += min(a, 0.0) - l1p
            dz[i] = sign * sig
            djac[i] = 1.0 - sig
        lat_y[int(lat_map[1, i]), int(lat_map[0, i])] = z
    return jac


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _dot(u, v):  # pragma: no cover - compiled
    acc = 0.0
    for i in range(u.shape[0]):
        acc += u[i] * v[i]
    return acc


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _axpy(alpha, x, y):  # pragma: no cover - compiled
    """``y += alpha x``."""
    for i in range(y.shape[0]):
        y[i] += alpha * x[i]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
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


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
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
