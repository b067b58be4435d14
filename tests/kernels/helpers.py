"""Helpers shared by the likelihood tests."""

import numpy as np

from jmimpute._kernels.kernel import collapsed_value_and_grad

PARAMS = ("lsig", "beta", "lpsi", "resid2", "zvals")


def kernel(prob, **override):
    """Value and gradients (lsig, beta, lpsi, resid2, zvals) of the compiled kernel.

    The kernel takes ``Psi`` and returns the gradient for its entries as free; this maps
    it to the gradient w.r.t. the lower Cholesky factor, ``(G + G') L``.
    """
    v = {name: np.asarray(override.get(name, getattr(prob, name)), dtype=float) for name in PARAMS}
    psi = v["lpsi"] @ v["lpsi"].T
    g_lsig, g_beta = np.zeros_like(v["lsig"]), np.zeros_like(v["beta"])
    g_psi, g_resid2 = np.zeros_like(psi), np.zeros_like(v["resid2"])
    g_z = np.zeros_like(v["zvals"])
    d = prob.data
    value = collapsed_value_and_grad(
        v["lsig"], v["beta"], psi, v["resid2"], d.l2_masks, d.l2_pattern, d.masks, d.n_k,
        d.syy0, d.syx0, d.sxx, d.zz_t, d.syz0_t, d.sxz_t, float(d.n_obs), d.lat_y0, d.lat_x,
        d.lat_z, d.seg_cluster, d.seg_bounds, d.pat_segs, d.lat_map, v["zvals"], g_lsig, g_beta,
        g_psi, g_resid2, g_z,
    )  # fmt: skip
    g_lpsi = np.tril((g_psi + g_psi.T) @ v["lpsi"])
    g_resid2 = np.where(prob.l2_observed, g_resid2, 0.0)
    return value, [g_lsig, g_beta, g_lpsi, g_resid2, g_z]
