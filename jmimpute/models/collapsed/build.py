"""The collapsed model: a PyMC model of the joint posterior with the random effects integrated out.

The NUTS target holds the model parameters and the latent values of observed categories;
the random effects, level-2 residuals and every missing cell are integrated out
(docs/design/collapsed-likelihood.md) and drawn afterwards from their exact conditionals
(:mod:`jmimpute.models.joint.conditional`). NUTS samples binary latents and level-2
coefficients in the coordinates of :mod:`jmimpute.models.joint.reparam`. The parameters and
their priors are those of :mod:`jmimpute.models.joint.parameters`.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from jmimpute._kernels.ops import KernelData, collapsed_loglik_fast
from jmimpute._kernels.small_dot import small_dot
from jmimpute.design.standardised import Design
from jmimpute.design.suffstats import cluster_sums, compute_stats
from jmimpute.models.collapsed.graph import collapsed_loglik, collapsed_loglik_clusters
from jmimpute.models.joint.dims import model_coords
from jmimpute.models.joint.model import PER_UNIT
from jmimpute.models.joint.parameters import shared_parameters
from jmimpute.models.protocol import BuiltModel, judged
from jmimpute.spec.priors import Priors


def build_collapsed_model(
    design: Design,
    priors: Priors,
    *,
    compiled_kernel: bool = True,
    cluster_covariance: str = "common",
    raw_binary: bool = True,
    reparametrised: bool = True,
) -> BuiltModel:
    """The collapsed model: random effects, level-2 residuals and missing cells integrated out.

    Parameters
    ----------
    design : Design
    priors : Priors
    compiled_kernel : bool, default True
        Use the compiled likelihood Op; False uses the equivalent pure PyTensor graph
        (slower, kept as the reference and as a fallback where the Op has no
        implementation for a backend).
    cluster_covariance : {"common", "random"}, default "common"
        ``"random"``: one level-1 covariance per cluster, continuous level-1 targets only
        (a PyTensor graph, :func:`~jmimpute.models.collapsed.graph.collapsed_loglik_clusters`).
    raw_binary : bool, default True
        With the compiled Op, pass binary latents raw and let the kernel apply their map;
        False maps them in the PyTensor graph (the same density, slower; kept for
        ``benchmarks/bench_gradient.py``).
    reparametrised : bool, default True
        Sample in the coordinates of :mod:`jmimpute.models.joint.reparam` (the same posterior;
        NUTS mixes faster on hsb). False keeps the plain ones, as the reference model does.

    Returns
    -------
    BuiltModel
    """
    l1 = design.level1
    y = np.where(l1.observed & ~l1.latent, l1.values, np.nan)
    stats, rows = compute_stats(
        y, design.x, design.z, design.cluster, design.n_clusters,
        observed=l1.observed, latent=l1.latent,
    )  # fmt: skip
    lat_cells = l1.latent_cells
    l2_masks, l2_pattern = design.level2_patterns()
    with pm.Model(coords=model_coords(design)) as model:
        fast = compiled_kernel and cluster_covariance == "common"
        par = shared_parameters(
            design, priors, cluster_covariance, fast and raw_binary, reparametrised
        )
        beta, lsig, psi, zvals, keep = par.beta, par.lsig, par.psi, par.zvals, par.keep
        # the design's values enter as shared data, not constants, down to the number of
        # clusters: one compiled model then serves other data of the same structure
        if design.level2 is None:
            resid2 = pm.Data("level2_values", np.zeros((design.n_clusters, 0)))
        else:
            assert par.gamma is not None and par.z2 is not None
            t2 = design.level2.targets
            w = pm.Data("level2_values", np.nan_to_num(np.where(t2.latent, 0.0, t2.values)))
            cells2 = t2.latent_cells
            if cells2[0].size:
                w = pt.set_subtensor(w[cells2], par.z2)
            v = pm.Data("level2_covariates", design.level2.v)
            resid2 = w - small_dot(v, par.gamma)
        if par.clusters is not None:
            sums = cluster_sums(y, design.x, design.cluster, design.n_clusters, stats)
            loglik = collapsed_loglik_clusters(
                beta, par.clusters.sigma, psi, resid2, l2_masks, l2_pattern, stats, sums
            )
        elif fast:
            assert par.latents is not None
            data = KernelData.build(stats, rows, lat_cells, l2_masks, l2_pattern, par.latents.sign)
            inputs = {
                name: pm.Data(f"kernel_{name}", value) for name, value in data.arrays().items()
            }
            loglik = collapsed_loglik_fast(lsig, beta, psi, resid2, par.latents.kernel_in, inputs)
        else:
            loglik = collapsed_loglik(
                beta, lsig @ lsig.T, psi, resid2, l2_masks, l2_pattern, stats, rows, lat_cells,
                zvals,
            )  # fmt: skip
        pm.Potential("collapsed_loglik", loglik)
    return BuiltModel(design, model, keep=keep, judged=judged(keep, PER_UNIT))
