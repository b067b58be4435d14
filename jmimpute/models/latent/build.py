"""The explicit-latent reference model: NUTS samples random effects and missing values too.

Same joint posterior as the collapsed model (:mod:`jmimpute.models.collapsed`), written
directly: the random effects ``u_j`` (centred), every unobserved level-1 cell and level-2
value are free parameters whose density comes from the model; observed categories use the
same constrained latent values. It is slow and scales with the data, and is kept as the
reference the collapsed sampler is tested against (``method="latent"``).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.linalg import forward_solve
from jmimpute.design.standardised import Design, Targets
from jmimpute.models.collapsed.graph import LOG_2PI
from jmimpute.models.joint.cluster_cov import ClusterCovariances
from jmimpute.models.joint.conditional import Draw, DrawParams, decode_targets
from jmimpute.models.joint.dims import model_coords
from jmimpute.models.joint.model import PER_UNIT
from jmimpute.models.joint.parameters import shared_parameters
from jmimpute.models.latent.names import SAMPLED
from jmimpute.models.protocol import BuiltModel, judged
from jmimpute.spec.priors import Priors


def _complete_values(
    targets: Targets, latent: TensorVariable, missing_name: str
) -> tuple[TensorVariable, bool]:
    """Observed values, latent values and free missing values in one (units, dims) tensor."""
    values = pt.as_tensor(np.where(targets.observed & ~targets.latent, targets.values, 0.0))
    cells = targets.latent_cells
    if cells[0].size:
        values = pt.set_subtensor(values[cells], latent)
    missing = np.nonzero(~targets.observed)
    if missing[0].size:
        free = pm.Flat(missing_name, shape=(missing[0].size,))
        values = pt.set_subtensor(values[missing], free)
    return values, bool(missing[0].size)


def _rows_logp_clusters(
    resid: TensorVariable, lsig: TensorVariable, clusters: ClusterCovariances, cluster: np.ndarray
) -> TensorVariable:
    """Normal log density of each row's residual under its cluster's ``Sigma_j``.

    ``Sigma_j^{-1} = L^{-T} B_j B_j' L^{-1}`` (:mod:`jmimpute.models.joint.cluster_cov`), so
    the quadratic form is ``|B_j' L^{-1} r|^2`` and ``log|Sigma_j^{-1}| = 2 sum log B_j,ii -
    2 sum log L_ii``: one triangular solve with the common ``L`` and no per-cluster
    factorisation.
    """
    p = len(clusters.factor)
    low = [[lsig[i, k] for k in range(i + 1)] for i in range(p)]
    s = forward_solve(low, [resid[:, i] for i in range(p)])
    quad = 0.0
    for c in range(p):
        t = (
            pt.add(*[clusters.factor[i][c][cluster] * s[i] for i in range(c, p)])
            if c < p - 1
            else clusters.factor[c][c][cluster] * s[c]
        )
        quad = quad + t**2
    logdet_prec = 2.0 * clusters.log_diag.sum(axis=1)[cluster] - 2.0 * pt.log(pt.diag(lsig)).sum()
    return -0.5 * (p * LOG_2PI - logdet_prec + quad)


def build_latent_model(
    design: Design, priors: Priors, cluster_covariance: str = "common"
) -> BuiltModel:
    """The explicit-latent model (see the module docstring).

    Returns
    -------
    BuiltModel
    """
    l1, l2 = design.level1, design.level2
    with pm.Model(coords=model_coords(design)) as model:
        par = shared_parameters(design, priors, cluster_covariance)
        beta, lsig, factor, order = par.beta, par.lsig, par.psi_factor, par.psi_order
        keep = [*par.keep, "u_s"]
        y, has_missing = _complete_values(l1, par.zvals, "y_missing")
        if has_missing:
            keep.append("y_missing")

        u = pm.Flat("u_s", shape=(design.n_clusters, design.d))
        joint = u
        if l2 is not None:
            assert par.gamma is not None and par.z2 is not None
            w, has_missing2 = _complete_values(l2.targets, par.z2, "w_missing")
            if has_missing2:
                keep.append("w_missing")
            joint = pt.concatenate([u, w - pt.as_tensor(l2.v) @ par.gamma], axis=1)
        internal = joint[:, np.argsort(order)]
        prior_u = pm.MvNormal.dist(mu=pt.zeros(order.size), chol=factor)
        pm.Potential("cluster_effects", pm.logp(prior_u, internal).sum())

        effects = u.reshape((design.n_clusters, design.r, design.p))
        mu = pt.as_tensor(design.x) @ beta + (
            pt.as_tensor(design.z)[:, :, None] * effects[design.cluster]
        ).sum(axis=1)
        if par.clusters is None:
            pm.Potential("rows", pm.logp(pm.MvNormal.dist(mu=mu, chol=lsig), y).sum())
        else:
            rows_logp = _rows_logp_clusters(y - mu, lsig, par.clusters, design.cluster)
            pm.Potential("rows", rows_logp.sum())

    return BuiltModel(design, model, keep=keep, judged=judged(keep, (*PER_UNIT, *SAMPLED)))


def _values_at(targets: Targets, latent: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    values = np.where(targets.observed & ~targets.latent, targets.values, np.nan)
    values[targets.latent_cells] = latent
    if missing is not None:
        values[np.nonzero(~targets.observed)] = missing
    return values


def read_imputation(
    design: Design, trace: xr.DataTree, params: DrawParams, chain: int, draw: int
) -> Draw:
    """The sampled missing values at one retained draw, as an imputation."""
    post = trace["posterior"]

    def at(name: str) -> np.ndarray | None:
        if name not in post:
            return None
        return post[name].transpose("chain", "draw", ...).to_numpy()[chain, draw]

    y = _values_at(design.level1, params.latent, at("y_missing"))
    u = at("u_s")
    assert u is not None
    level2 = None
    if design.level2 is not None:
        w = _values_at(design.level2.targets, params.latent2, at("w_missing"))
        level2 = decode_targets(design.level2.targets, w, params.thresholds)
    return Draw(
        level1=decode_targets(design.level1, y, params.thresholds),
        level2=level2,
        effects=u.reshape(design.n_clusters, design.r, design.p),
    )
