# Generated from jmimpute/_kernels/convention.py: do not edit. After changing the
# declaration there, regenerate with `python -m jmimpute._kernels.convention`.
# mypy: disable-error-code="call-arg"
"""The collapsed kernel's frame, written by the Op's Numba code and read by its C entry point.

Generated from :data:`jmimpute._kernels.convention.COLLAPSED` (see that module): Numba
needs static code for each input's number of dimensions. The reader :func:`run_frame` and
the entry point :data:`kernel_entry` are compiled once and cached on disk, and both live in
this file because Numba's cache is stamped by the file a function is defined in only: a
cached caller elsewhere would keep a stale copy of the reader after the convention changed
(see :mod:`jmimpute._kernels.entry`).
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from jmimpute._kernels.kernel import collapsed_value_and_grad

SIGNATURE = types.void(types.voidptr)
FRAME_SIZE = 40


@intrinsic
def as_voidptr(typingctx, addr):  # pragma: no cover - compiled
    """Reinterpret an integer address as ``void*`` (a frame holds addresses as int64)."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(addr), codegen


# frame words 0-10: the extents p, q, n_dim, n_cl, p2, n_pat2, n_pat, r, n_rows, n_seg, n_lat;
# 11-33: the inputs' addresses; 34-39: the outputs' (value, g_lsig, g_beta, g_psi, g_resid2, g_z)
@njit(cache=True, nogil=True)
def run_frame(frame):  # pragma: no cover - compiled
    """Evaluate the kernel on the arrays a frame points to (see the comment above)."""
    p, q, n_dim, n_cl, p2, n_pat2, n_pat, r, n_rows, n_seg, n_lat = frame[:11]
    arg = frame[11:34]
    out = frame[34:40]
    f8 = np.float64
    value = collapsed_value_and_grad(
        lsig=carray(as_voidptr(arg[0]), (p, p), f8),
        beta=carray(as_voidptr(arg[1]), (q, p), f8),
        psi=carray(as_voidptr(arg[2]), (n_dim, n_dim), f8),
        resid2=carray(as_voidptr(arg[3]), (n_cl, p2), f8),
        l2_masks=carray(as_voidptr(arg[4]), (n_pat2, p2), f8),
        l2_pattern=carray(as_voidptr(arg[5]), (n_cl,), f8),
        masks=carray(as_voidptr(arg[6]), (n_pat, p), f8),
        n_k=carray(as_voidptr(arg[7]), (n_pat,), f8),
        syy0=carray(as_voidptr(arg[8]), (n_pat, p, p), f8),
        syx0=carray(as_voidptr(arg[9]), (n_pat, p, q), f8),
        sxx=carray(as_voidptr(arg[10]), (n_pat, q, q), f8),
        zz_t=carray(as_voidptr(arg[11]), (n_pat, r, r, n_cl), f8),
        syz0_t=carray(as_voidptr(arg[12]), (n_pat, p, r, n_cl), f8),
        sxz_t=carray(as_voidptr(arg[13]), (n_pat, q, r, n_cl), f8),
        n_obs=carray(as_voidptr(arg[14]), (1,), f8)[0],
        lat_y0=carray(as_voidptr(arg[15]), (p, n_rows), f8),
        lat_x=carray(as_voidptr(arg[16]), (q, n_rows), f8),
        lat_z=carray(as_voidptr(arg[17]), (r, n_rows), f8),
        seg_cluster=carray(as_voidptr(arg[18]), (n_seg,), f8),
        seg_bounds=carray(as_voidptr(arg[19]), (n_seg + 1,), f8),
        pat_segs=carray(as_voidptr(arg[20]), (n_pat + 1,), f8),
        lat_map=carray(as_voidptr(arg[21]), (3, n_lat), f8),
        zin=carray(as_voidptr(arg[22]), (n_lat,), f8),
        g_lsig=carray(as_voidptr(out[1]), (p, p), f8),
        g_beta=carray(as_voidptr(out[2]), (q, p), f8),
        g_psi=carray(as_voidptr(out[3]), (n_dim, n_dim), f8),
        g_resid2=carray(as_voidptr(out[4]), (n_cl, p2), f8),
        g_z=carray(as_voidptr(out[5]), (n_lat,), f8),
    )
    carray(as_voidptr(out[0]), (1,), f8)[0] = value


@cfunc(SIGNATURE, cache=True, nogil=True)
def kernel_entry(frame_ptr):  # pragma: no cover - compiled
    """The C entry point, ``void entry(int64_t *frame)``: run the kernel on a frame."""
    run_frame(carray(frame_ptr, (FRAME_SIZE,), np.int64))


def make_impl(entry, hold):
    """The Op's Numba implementation: copy the inputs C-contiguous, write a frame, call ``entry``.

    Parameters
    ----------
    entry
        The C entry point, a Numba ``ExternalFunction`` of :data:`SIGNATURE` (called by
        name so that the caller does not link the kernel).
    hold
        A jitted function of any arguments, called last on the arrays the frame points to:
        Numba frees a value after its last use, which would otherwise precede ``entry``.
    """

    def impl(
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
    ):  # pragma: no cover - compiled
        # C-contiguous views (copies only where a graph input is strided)
        c_lsig = np.ascontiguousarray(lsig)
        c_beta = np.ascontiguousarray(beta)
        c_psi = np.ascontiguousarray(psi)
        c_resid2 = np.ascontiguousarray(resid2)
        c_l2_masks = np.ascontiguousarray(l2_masks)
        c_l2_pattern = np.ascontiguousarray(l2_pattern)
        c_masks = np.ascontiguousarray(masks)
        c_n_k = np.ascontiguousarray(n_k)
        c_syy0 = np.ascontiguousarray(syy0)
        c_syx0 = np.ascontiguousarray(syx0)
        c_sxx = np.ascontiguousarray(sxx)
        c_zz_t = np.ascontiguousarray(zz_t)
        c_syz0_t = np.ascontiguousarray(syz0_t)
        c_sxz_t = np.ascontiguousarray(sxz_t)
        c_n_obs = np.ascontiguousarray(n_obs)
        c_lat_y0 = np.ascontiguousarray(lat_y0)
        c_lat_x = np.ascontiguousarray(lat_x)
        c_lat_z = np.ascontiguousarray(lat_z)
        c_seg_cluster = np.ascontiguousarray(seg_cluster)
        c_seg_bounds = np.ascontiguousarray(seg_bounds)
        c_pat_segs = np.ascontiguousarray(pat_segs)
        c_lat_map = np.ascontiguousarray(lat_map)
        c_zin = np.ascontiguousarray(zin)
        value = np.zeros(1)
        g_lsig = np.zeros_like(c_lsig)
        g_beta = np.zeros_like(c_beta)
        g_psi = np.zeros_like(c_psi)
        g_resid2 = np.zeros_like(c_resid2)
        g_z = np.zeros_like(c_zin)
        frame = np.empty(FRAME_SIZE, dtype=np.int64)
        frame[0] = c_lsig.shape[0]  # p
        frame[1] = c_beta.shape[0]  # q
        frame[2] = c_psi.shape[0]  # n_dim
        frame[3] = c_resid2.shape[0]  # n_cl
        frame[4] = c_resid2.shape[1]  # p2
        frame[5] = c_l2_masks.shape[0]  # n_pat2
        frame[6] = c_masks.shape[0]  # n_pat
        frame[7] = c_zz_t.shape[1]  # r
        frame[8] = c_lat_y0.shape[1]  # n_rows
        frame[9] = c_seg_cluster.shape[0]  # n_seg
        frame[10] = c_lat_map.shape[1]  # n_lat
        frame[11] = c_lsig.ctypes.data
        frame[12] = c_beta.ctypes.data
        frame[13] = c_psi.ctypes.data
        frame[14] = c_resid2.ctypes.data
        frame[15] = c_l2_masks.ctypes.data
        frame[16] = c_l2_pattern.ctypes.data
        frame[17] = c_masks.ctypes.data
        frame[18] = c_n_k.ctypes.data
        frame[19] = c_syy0.ctypes.data
        frame[20] = c_syx0.ctypes.data
        frame[21] = c_sxx.ctypes.data
        frame[22] = c_zz_t.ctypes.data
        frame[23] = c_syz0_t.ctypes.data
        frame[24] = c_sxz_t.ctypes.data
        frame[25] = c_n_obs.ctypes.data
        frame[26] = c_lat_y0.ctypes.data
        frame[27] = c_lat_x.ctypes.data
        frame[28] = c_lat_z.ctypes.data
        frame[29] = c_seg_cluster.ctypes.data
        frame[30] = c_seg_bounds.ctypes.data
        frame[31] = c_pat_segs.ctypes.data
        frame[32] = c_lat_map.ctypes.data
        frame[33] = c_zin.ctypes.data
        frame[34] = value.ctypes.data
        frame[35] = g_lsig.ctypes.data
        frame[36] = g_beta.ctypes.data
        frame[37] = g_psi.ctypes.data
        frame[38] = g_resid2.ctypes.data
        frame[39] = g_z.ctypes.data
        entry(as_voidptr(frame.ctypes.data))
        hold(
            c_lsig,
            c_beta,
            c_psi,
            c_resid2,
            c_l2_masks,
            c_l2_pattern,
            c_masks,
            c_n_k,
            c_syy0,
            c_syx0,
            c_sxx,
            c_zz_t,
            c_syz0_t,
            c_sxz_t,
            c_n_obs,
            c_lat_y0,
            c_lat_x,
            c_lat_z,
            c_seg_cluster,
            c_seg_bounds,
            c_pat_segs,
            c_lat_map,
            c_zin,
            frame,
        )
        return np.asarray(value[0]), g_lsig, g_beta, g_psi, g_resid2, g_z

    return impl
