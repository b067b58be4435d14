"""Coordinates of the collapsed model's NUTS target that leave its posterior unchanged.

Two directions of the collapsed posterior are long and narrow in the coordinates the
model is written in, and a diagonal mass matrix cannot rescale either, because each is
spread over many coordinates. Both maps below are linear in the new coordinates (for
fixed covariances), with a constant Jacobian, so the posterior of the model's variables
is exactly the same; only NUTS's view of it changes.

* **Binary latents, by cluster** (:func:`cluster_centred`). The random effects are
  integrated out, so the latent values of a cluster move together over the
  random-intercept variance and apart over one latent variance. Each cluster's shift is
  sampled as a coordinate of its own (:mod:`jmimpute._kernels.cluster_shift`).
* **Level-2 coefficients against the random effects' regression**
  (:func:`level2_coefficients`). A level-2 covariate that is nearly a cluster mean of a
  level-1 target (hsb's ``meanses``, the school mean of ``ses``) enters the level-2 mean
  ``G' v_j`` much as the random effect ``u_j`` enters it through the covariance:
  ``E[w_j | u_j] = G' v_j + B' u_j`` with ``B = Psi_uu^{-1} Psi_uw``. With ``u_j ~ E' v_j``
  (``E`` from the data), the data pin ``G + E B`` and leave a ridge along ``G`` against
  ``B``. NUTS samples ``G + E B`` (``gamma_total_s``) and the covariances;
  ``G = gamma_total - E B`` keeps its normal prior.

The explicit-latent reference model (:mod:`jmimpute.models.latent.build`) keeps the plain
coordinates. ``tests/models/test_reparam.py`` checks that both give the same log-density
and gradient; ``python benchmarks/bench_reparam.py`` measures the mixing on hsb in both.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.cluster_shift import cluster_shift
from jmimpute._kernels.small_dot import small_dot
from jmimpute._kernels.small_solve import small_solve
from jmimpute.design.standardised import INTERCEPT, Design


def cluster_centred(name: str, cluster: np.ndarray) -> TensorVariable:
    """Declare ``<name>_shift`` and ``<name>_dev`` and return the values ``b`` they give.

    Parameters
    ----------
    name : str
    cluster : ndarray of int, shape (n,)
        Cluster of each value (any labels; clusters without a value get no shift).

    Returns
    -------
    TensorVariable, shape (n,)
        ``b_i = shift_j + dev_i - mean_j(dev)`` for ``i`` in cluster ``j``; the target gets
        ``log N(mean_j(dev); 0, 1 / n_j)`` so that the map is a bijection of proper
        densities (:mod:`jmimpute._kernels.cluster_shift`).
    """
    present, index = np.unique(cluster, return_inverse=True)
    counts = np.bincount(index).astype(float)
    shift = pm.Flat(f"{name}_shift", shape=(present.size,))
    dev = pm.Flat(f"{name}_dev", shape=(cluster.size,))
    b, mean = cluster_shift(shift, dev, index)
    pm.Potential(f"{name}_centre", -0.5 * (counts * mean**2).sum())
    return b


def effects_on_level2(design: Design) -> np.ndarray:
    """``E`` (q2, d): least-squares coefficients of the random effects on the level-2 covariates.

    The random intercept of each continuous level-1 target is proxied by the clusters'
    means of its observed standardised values. Rows of the level-2 intercept, and columns
    of random slopes and of latent targets (no observed values to average), are 0.
    """
    l1, l2 = design.level1, design.level2
    assert l2 is not None
    e_map = np.zeros((l2.v.shape[1], design.d))
    if INTERCEPT not in design.z_names:
        return e_map
    first = design.z_names.index(INTERCEPT) * l1.p  # effect-major: intercepts of all dims
    for k in range(l1.p):
        seen = np.isfinite(l1.values[:, k]) & ~l1.latent[:, k]
        counts = np.bincount(design.cluster[seen], minlength=design.n_clusters)
        has = counts > 0
        if l1.latent[:, k].any() or has.sum() <= l2.v.shape[1]:
            continue
        sums = np.bincount(design.cluster[seen], l1.values[seen, k], minlength=design.n_clusters)
        coef, *_ = np.linalg.lstsq(l2.v[has], sums[has] / counts[has], rcond=None)
        e_map[:, first + k] = coef
    if INTERCEPT in l2.v_names:
        e_map[l2.v_names.index(INTERCEPT)] = 0.0
    return e_map


def level2_coefficients(
    design: Design, psi: TensorVariable, sd: TensorVariable, dims: tuple[str, ...]
) -> TensorVariable:
    """The level-2 coefficients ``gamma_s`` (q2, p2) with prior ``Normal(0, sd)``.

    Sampled as ``gamma_total_s = gamma_s + E B`` when the level-2 covariates predict some
    random effect (:func:`effects_on_level2`), else directly.
    """
    e_map = effects_on_level2(design)
    if not e_map.any():
        return pm.Normal("gamma_s", mu=0.0, sigma=sd, dims=dims)
    d = design.d
    total = pm.Flat("gamma_total_s", dims=dims)
    regression = small_solve(psi[:d, :d], psi[:d, d:])  # B = Psi_uu^{-1} Psi_uw
    # shared data, as the design's other values: the compiled graph serves other data
    # shared data, as the design's other values: the compiled graph serves other data
    gamma = total - small_dot(pm.Data("level2_effects", e_map), regression)
    gamma = pm.Deterministic("gamma_s", gamma, dims=dims)
    pm.Potential("gamma_prior", pm.logp(pm.Normal.dist(mu=0.0, sigma=sd), gamma).sum())
    return gamma
