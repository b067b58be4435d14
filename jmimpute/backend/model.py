"""Turn a specification and its standardised design into a PyMC model.

Two models of the same joint posterior:

* :func:`build_collapsed_model` -- the NUTS target holds only ``B``, ``Sigma`` and
  ``Psi``; random effects and missing cells are integrated out and drawn afterwards
  (:mod:`jmimpute.backend.conditional`).
* :func:`build_latent_model` -- the reference: NUTS samples the random effects
  (non-centred) and every missing cell explicitly.

Variable names in both (standardised scale): ``beta_s`` (covariate, variable),
``chol_sigma_s`` and ``chol_psi_s`` (packed lower Cholesky factors).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from jmimpute.backend.collapsed import collapsed_loglik
from jmimpute.backend.ops import collapsed_loglik_fast
from jmimpute.design import Design
from jmimpute.spec.priors import Priors
from jmimpute.suffstats import PatternStats

PARAMETERS = ("beta_s", "chol_sigma_s", "chol_psi_s")


def _chol_factor(name: str, n: int, eta: float, sd: float) -> TensorVariable:
    """Lower Cholesky factor of a covariance with LKJ(eta) correlations, HalfNormal(sd) scales.

    PyMC's LKJCholeskyCov needs ``n >= 2``; a 1x1 covariance is just a scale.
    """
    if n == 1:
        scale = pm.HalfNormal(name, sigma=sd, shape=(1,))
        return scale.reshape((1, 1))
    packed = pm.LKJCholeskyCov(
        name, n=n, eta=eta, sd_dist=pm.HalfNormal.dist(sigma=sd, shape=n), compute_corr=False
    )
    return pm.math.expand_packed_triangular(n, packed, lower=True)


def _coords(design: Design) -> dict[str, list[str]]:
    return {"covariate": list(design.x_names), "variable": list(design.targets)}


def _parameters(
    design: Design, priors: Priors
) -> tuple[TensorVariable, TensorVariable, TensorVariable]:
    beta = pm.Normal("beta_s", mu=0.0, sigma=priors.beta_sd, dims=("covariate", "variable"))
    lsig = _chol_factor("chol_sigma_s", design.p, priors.sigma_eta, priors.sigma_sd)
    d = design.r * design.p
    lpsi = _chol_factor("chol_psi_s", d, priors.psi_eta, priors.psi_sd)
    return beta, lsig, lpsi


def build_collapsed_model(
    design: Design, stats: PatternStats, priors: Priors, *, compiled_kernel: bool = True
) -> pm.Model:
    """The collapsed model: random effects and missing cells integrated out.

    Parameters
    ----------
    design : Design
    stats : PatternStats
        Sufficient statistics of ``design``.
    priors : Priors
    compiled_kernel : bool, default True
        Use the compiled likelihood Op; False uses the equivalent pure PyTensor graph
        (slower, kept as the reference and as a fallback where the Op has no
        implementation for a backend).

    Returns
    -------
    pymc.Model
    """
    with pm.Model(coords=_coords(design)) as model:
        beta, lsig, lpsi = _parameters(design, priors)
        if compiled_kernel:
            loglik = collapsed_loglik_fast(lsig, lpsi, beta, stats)
        else:
            d = lpsi.shape[0]
            linv = pt.linalg.solve_triangular(lpsi, pt.eye(d), lower=True)
            psi_inv = linv.T @ linv
            psi_logdet = 2.0 * pt.log(pt.diagonal(lpsi)).sum()
            loglik = collapsed_loglik(beta, lsig @ lsig.T, psi_inv, psi_logdet, stats)
        pm.Potential("collapsed_loglik", loglik)
    return model


def missing_cells(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every missing target cell, in the order imputations use."""
    rows, cols = np.nonzero(np.isnan(design.y))
    return rows.astype(np.int64), cols.astype(np.int64)


def build_latent_model(design: Design, priors: Priors) -> pm.Model:
    """The reference model: NUTS samples random effects and missing cells.

    The random effects are non-centred, ``u_j = L_Psi z_j`` with ``z_j ~ N(0, I)``; the
    missing cells are free (flat) parameters whose density comes from the likelihood.

    Returns
    -------
    pymc.Model
        With the extra variables ``u_raw`` (cluster, effect) and ``y_missing`` (cell).
    """
    rows, cols = missing_cells(design)
    n_cl, r, p = design.n_clusters, design.r, design.p
    coords = _coords(design) | {
        "cluster": [str(c) for c in design.cluster_labels],
        "effect": list(design.effect_names),
        "cell": list(range(rows.size)),
    }
    with pm.Model(coords=coords) as model:
        beta, lsig, lpsi = _parameters(design, priors)
        u_raw = pm.Normal("u_raw", 0.0, 1.0, dims=("cluster", "effect"))
        effects = (u_raw @ lpsi.T).reshape((n_cl, r, p))
        filled = np.where(np.isnan(design.y), 0.0, design.y)
        y = pt.as_tensor(filled)
        if rows.size:
            y_missing = pm.Flat("y_missing", dims="cell")
            y = pt.set_subtensor(y[rows, cols], y_missing)
        mu = pt.as_tensor(design.x) @ beta + (
            pt.as_tensor(design.z)[:, :, None] * effects[design.cluster]
        ).sum(axis=1)
        dist = pm.MvNormal.dist(mu=mu, chol=lsig)
        pm.Potential("loglik", pm.logp(dist, y).sum())
    return model
