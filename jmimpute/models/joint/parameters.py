"""What the joint normal models share: the parameters, their priors and the latent values.

Both models of the joint posterior, the collapsed one (:mod:`jmimpute.models.collapsed`)
and the explicit-latent reference (:mod:`jmimpute.models.latent`), declare their parameters
here, so that their priors cannot drift apart.

Variable names (standardised scale): ``beta_s`` (covariate, variable), ``gamma_s``
(level-2 covariate, level-2 variable), the deterministics ``sigma_s`` and ``psi_s`` (the
level-1 covariance and the joint covariance ``Psi`` of the random effects and level-2
residuals), ``thresholds_<name>`` for ordinal targets, ``latent_values`` and
``latent2_values`` (the latent values at the observed categorical cells, level 1 and level
2, in ``np.nonzero`` order of the ``latent`` masks). With cluster-specific covariances also
``sigma_spread``, ``sigma_df`` and ``sigma_cluster_s`` (:mod:`.cluster_cov`). The dims are
named as in the result's posterior (:mod:`jmimpute.models.joint.model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.small_dot import small_dot
from jmimpute.design.standardised import Design, Targets
from jmimpute.models.joint.cluster_cov import ClusterCovariances, cluster_covariances
from jmimpute.models.joint.dims import DIMS
from jmimpute.models.joint.priors import PRIORS_DATA, prior_shared, prior_values
from jmimpute.models.joint.reparam import cluster_centred, level2_coefficients
from jmimpute.spec.priors import Priors


def corr_cholesky(
    name: str, n: int, eta: float | TensorVariable, zero_block: int = 0
) -> TensorVariable:
    """Lower Cholesky factor of an LKJ(eta) correlation matrix, built from partial correlations.

    The canonical partial correlations ``c_ij = tanh(a_ij)`` (of dims i and j given dims
    ``0 .. j-1``) fill the factor row by row, ``L_ij = c_ij prod_{k<j} sqrt(1 - c_ik^2)``;
    under LKJ(eta) they are independent with density proportional to
    ``(1 - c^2)^(eta - 1 + (n - 2 - j) / 2)`` (Lewandowski, Kurowicka and Joe 2009).
    The partial correlations among the first ``zero_block`` dims are fixed at 0, so that
    block of the correlation matrix is the identity (the LKJ prior conditional on it).
    Built from elementwise operations only: PyTensor's batched linear algebra takes
    minutes to compile with Numba.
    """
    rows, cols = np.tril_indices(n, -1)
    free = ~((rows < zero_block) & (cols < zero_block))
    rows, cols = rows[free], cols[free]
    if rows.size == 0:
        return pt.eye(n)
    raw = pm.Flat(f"{name}_cpc", shape=(rows.size,))
    cpc = pt.tanh(raw)
    beta_shape = eta + (n - 2 - cols) / 2.0
    # log(1 - tanh(a)^2) = 2 (log 2 - |a| - log1p(exp(-2|a|))), the tanh Jacobian included
    log_one_minus = 2.0 * (np.log(2.0) - pt.abs(raw) - pt.log1p(pt.exp(-2.0 * pt.abs(raw))))
    pm.Potential(f"{name}_lkj", (beta_shape * log_one_minus).sum())
    c = pt.set_subtensor(pt.zeros((n, n))[rows, cols], cpc)
    w = pt.sqrt(1.0 - c**2)
    before = pt.concatenate([pt.ones((n, 1)), pt.cumprod(w, axis=1)[:, :-1]], axis=1)
    return c * before + pt.eye(n) * before


def cov_factor(
    name: str, kinds: list[str], eta: float | TensorVariable, sd: float | TensorVariable
) -> TensorVariable:
    """Lower Cholesky factor of a covariance with LKJ(eta) correlations.

    ``kinds`` gives each dimension's role: ``"free"`` (a continuous target or a random
    effect: standard deviation ``HalfNormal(sd)``), ``"unit"`` (a latent dimension: scale
    fixed at 1 for identification) or ``"block"`` (the leading latent dimensions of the
    first nominal target: their covariance is fixed at jomo's ``(I + 11') / 2``, i.e. unit
    variances and correlations 0.5).
    """
    n = len(kinds)
    n_block = sum(k == "block" for k in kinds)
    assert all(k == "block" for k in kinds[:n_block])
    corr = corr_cholesky(name, n, eta, zero_block=n_block)
    free = np.array([k == "free" for k in kinds])
    scales = pt.ones((n,))
    if free.any():
        sds = pm.HalfNormal(f"{name}_sd", sigma=sd, shape=(int(free.sum()),))
        scales = pt.set_subtensor(scales[np.flatnonzero(free)], sds)
    factor = scales[:, None] * corr
    if n_block:
        block = np.linalg.cholesky((np.eye(n_block) + np.ones((n_block, n_block))) / 2.0)
        factor = pt.set_subtensor(factor[:n_block], small_dot(block, corr[:n_block]))
    return factor


def dim_kinds(targets: Targets) -> list[str]:
    """Roles of a level's dimensions for :func:`cov_factor`, as their kinds declare them.

    Only the first variable of a ``"block"`` kind (the design puts it first) leads with the
    fixed block; later ones of that kind have unit scales.
    """
    roles = [v.behaviour.covariance for v in targets.variables]
    leader = next((i for i, role in enumerate(roles) if role == "block"), None)
    roles = ["unit" if role == "block" and i != leader else role for i, role in enumerate(roles)]
    return [roles[i] for i in targets.dim_var]


def prior_data(priors: Priors) -> dict[str, TensorVariable]:
    """The prior hyperparameters, as entries of one shared vector (see :mod:`.priors`)."""
    values = prior_values(priors)
    vector = pm.Data(PRIORS_DATA, prior_shared(values)[PRIORS_DATA])
    return {name: vector[i] for i, name in enumerate(values)}


def psi_matrix(
    design: Design, hyper: dict[str, TensorVariable]
) -> tuple[TensorVariable, TensorVariable, np.ndarray]:
    """Joint covariance of the random effects and the level-2 residuals (model order).

    Built in an internal order that puts the first nominal level-2 target first (see
    :func:`cov_factor`), then permuted to the model's order: random effects, level-2 dims.

    Returns
    -------
    psi : TensorVariable
        In the model's order.
    factor : TensorVariable
        Lower Cholesky factor in the internal order.
    order : ndarray of int
        Internal position of each model position.
    """
    d = design.d
    kinds2 = dim_kinds(design.level2.targets) if design.level2 is not None else []
    n_block = sum(k == "block" for k in kinds2)
    internal = ["block"] * n_block + ["free"] * d + kinds2[n_block:]
    # model position -> internal position
    order = np.concatenate(
        [n_block + np.arange(d), np.arange(n_block), d + np.arange(n_block, len(kinds2))]
    )
    factor = cov_factor("psi_s", internal, hyper["psi_eta"], hyper["psi_sd"])
    full = small_dot(factor, factor.T)
    psi = pm.Deterministic("psi_s", full[order][:, order], dims=DIMS["psi"])
    return psi, factor, order


@dataclass(frozen=True)
class LatentInputs:
    """Sampled latent values of the observed categorical cells, in ``latent_cells`` order.

    Attributes
    ----------
    values : TensorVariable
        The latent values.
    kernel_in : TensorVariable
        What the compiled likelihood takes: the values, except binary latents' raw values
        where ``sign`` is +-1 (the kernel maps them and adds their log-Jacobian).
    sign : ndarray
        Per value: 0, or the sign of a binary latent passed raw.
    """

    values: TensorVariable
    kernel_in: TensorVariable
    sign: np.ndarray


def _targets_latents(
    targets: Targets,
    prefix: str,
    thresholds: dict[str, TensorVariable],
    raw_binary: bool = False,
    cluster: np.ndarray | None = None,
) -> LatentInputs:
    """Declare the raw latents of ``targets``' observed categories and map them to values.

    With ``raw_binary`` the log-Jacobian of binary variables' maps is left to the compiled
    kernel, which takes their raw values (:mod:`jmimpute._kernels.kernel_latent`). With
    ``cluster`` (of each unit), a binary variable's raw values are ``sign * b``, ``b``
    sampled as a shift per cluster plus deviations (:func:`.reparam.cluster_centred`):
    ``b`` rises with the latent value in either category.
    """
    values, kernel_in, signs, log_jac = [], [], [], 0.0
    for var in targets.variables:
        if not var.latent:
            continue
        codes = targets.codes[var.name]
        seen = np.flatnonzero(codes >= 0)
        if seen.size == 0:
            continue
        name = f"{prefix}raw_{var.name}"
        sign = var.behaviour.raw_signs(codes[seen])
        if cluster is not None and sign is not None:
            raw = (sign * cluster_centred(name, cluster[seen]))[:, None]
        else:
            raw = pm.Flat(name, shape=(seen.size, var.n_dims))
        z, jac = var.behaviour.latent_map(
            var.categories, codes[seen], raw, thresholds.get(var.name)
        )
        values.append(z.ravel())
        if raw_binary and sign is not None:
            kernel_in.append(raw.ravel())
            signs.append(sign)
        else:
            kernel_in.append(z.ravel())
            signs.append(np.zeros(seen.size * var.n_dims))
            log_jac = log_jac + jac
    if not values:
        empty = pt.zeros((0,))
        return LatentInputs(empty, empty, np.zeros(0))
    if not isinstance(log_jac, float):
        pm.Potential(f"{prefix}latent_jacobian", log_jac)
    return LatentInputs(pt.concatenate(values), pt.concatenate(kernel_in), np.concatenate(signs))


def thresholds_from(delta: TensorVariable) -> TensorVariable:
    """Ordered thresholds ``(0, cumsum(exp(delta)))``."""
    return pt.concatenate([pt.zeros((1,)), pt.cumsum(pt.exp(delta))])


def _thresholds(targets: Targets, prefix: str) -> dict[str, TensorVariable]:
    out = {}
    for var in targets.variables:
        free = var.behaviour.free_thresholds(var.categories)
        if free is None:
            continue
        if free > 0:
            delta = pm.Normal(f"{prefix}delta_{var.name}", 0.0, 1.0, shape=(free,))
            thr = thresholds_from(delta)
        else:
            thr = pt.zeros((1,))
        out[var.name] = pm.Deterministic(f"thresholds_{var.name}", thr)
    return out


@dataclass(frozen=True)
class Parameters:
    """The imputation-model parameters both models share, with the same priors.

    Attributes
    ----------
    beta, lsig : TensorVariable
        Fixed effects and the level-1 covariance factor (standardised scale).
    psi, psi_factor, psi_order : TensorVariable, TensorVariable, ndarray
        ``Psi``, its factor in the internal order, and that order (see :func:`psi_matrix`).
    zvals, z2 : TensorVariable or None
        Latent values of the observed categories, level 1 and level 2.
    latents : LatentInputs or None
        The level-1 latents as the compiled likelihood takes them.
    gamma : TensorVariable or None
        Level-2 fixed effects.
    keep : list of str
        Variables to keep in the trace.
    """

    beta: TensorVariable
    lsig: TensorVariable
    psi: TensorVariable
    psi_factor: TensorVariable
    psi_order: np.ndarray
    zvals: TensorVariable
    gamma: TensorVariable | None
    z2: TensorVariable | None
    keep: list[str]
    clusters: ClusterCovariances | None = None
    latents: LatentInputs | None = None


def shared_parameters(
    design: Design,
    priors: Priors,
    cluster_covariance: str = "common",
    raw_binary: bool = False,
    reparametrised: bool = False,
    latents: bool = True,
) -> Parameters:
    """Declare the parameters and latent values common to the collapsed and latent models.

    Called inside a ``pm.Model`` context; one place, so the reference model and the fast
    one cannot drift apart in their priors. ``cluster_covariance="random"`` adds the
    cluster-specific level-1 covariances (:mod:`jmimpute.models.joint.cluster_cov`);
    ``raw_binary`` leaves the binary level-1 latents' map to the compiled kernel;
    ``reparametrised`` samples binary level-1 latents by cluster and the level-2
    coefficients against the random effects' regression (:mod:`jmimpute.models.joint.reparam`).
    ``latents=False`` leaves the level-1 categorical latents out of the model: the
    data-augmentation sampler draws them outside NUTS (:mod:`jmimpute.models.augmented`).
    """
    l1, l2 = design.level1, design.level2
    keep = ["beta_s", "sigma_s", "psi_s"]
    hyper = prior_data(priors)
    beta = pm.Normal("beta_s", mu=0.0, sigma=hyper["beta_sd"], dims=DIMS["beta"])
    lsig = cov_factor("sigma_s", dim_kinds(l1), hyper["sigma_eta"], hyper["sigma_sd"])
    pm.Deterministic("sigma_s", small_dot(lsig, lsig.T), dims=DIMS["sigma"])
    clusters = None
    if cluster_covariance == "random":
        clusters = cluster_covariances(lsig, design.p, design.n_clusters, hyper["sigma_cluster_sd"])
        keep += ["sigma_spread", "sigma_cluster_s"]
    psi, factor, order = psi_matrix(design, hyper)
    thresholds = _thresholds(l1, "")
    keep += [f"thresholds_{k}" for k in thresholds]
    if latents:
        inputs = _targets_latents(
            l1, "", thresholds, raw_binary, design.cluster if reparametrised else None
        )
    else:
        empty = pt.zeros((0,))
        inputs = LatentInputs(empty, empty, np.zeros(0))
    zvals = inputs.values
    if latents and np.any(l1.latent):
        zvals = pm.Deterministic("latent_values", zvals)
        keep.append("latent_values")
    gamma = z2 = None
    if l2 is not None:
        if reparametrised:
            gamma = level2_coefficients(design, psi, hyper["beta_sd"], DIMS["gamma"])
        else:
            gamma = pm.Normal("gamma_s", mu=0.0, sigma=hyper["beta_sd"], dims=DIMS["gamma"])
        thresholds2 = _thresholds(l2.targets, "l2_")
        keep += ["gamma_s", *(f"thresholds_{k}" for k in thresholds2)]
        z2 = _targets_latents(l2.targets, "l2_", thresholds2).values
        if np.any(l2.targets.latent):
            z2 = pm.Deterministic("latent2_values", z2)
            keep.append("latent2_values")
    return Parameters(beta, lsig, psi, factor, order, zvals, gamma, z2, keep, clusters, inputs)
