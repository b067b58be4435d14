"""The substantive model as a PyMC model (docs/design/substantive-model.md).

    p(y | x, w, b_j) p(x, w | u_j, v_j) p(u_j, v_j) p(b_j) p(z | y, x) * priors

* Outcome (the analysis model): ``y_ij = f_ij' beta + g_ij' b_j + e_ij`` with the design
  columns ``f``, ``g`` computed from the row values (:mod:`.columns`) every time NUTS moves
  an imputed value; the random effects ``b_j`` are integrated out per cluster (given the
  completed rows the outcome model is a linear mixed model), or sampled non-centred.
* Covariate model: the incomplete level-1 predictors ``x_ij = A' c_ij + u_j + e_ij``
  given the complete predictors ``c``, the incomplete level-2 predictors
  ``w_j = G' c2_j + v_j``, ``(v_j, u_j) ~ N(0, Psi)``; ``u_j`` is sampled non-centred given
  ``v_j``. The latent cluster mean of ``x`` is ``A' cbar_j + u_j`` (Blimp's ``x.mean``).
* Auxiliary variables, each regressed on the outcome, the incomplete predictors and the
  auxiliaries before it, so that missingness that depends on them reaches the outcome.

Priors (:class:`~jmimpute.spec.priors.Priors`, shared data so that a refit reuses the
compiled model): coefficients ``Normal(0, beta_sd)``; residual standard deviations
(outcome, covariate model, auxiliaries) ``HalfNormal(sigma_sd)`` with LKJ(``sigma_eta``)
correlations; the random effects' standard deviations (``T``, ``Psi``) ``HalfNormal(psi_sd)``
with LKJ(``psi_eta``) correlations.

* Incomplete categorical predictors (:mod:`.discrete`), level 1 and level 2, are summed
  over where missing (:func:`summed_discrete`): the random effects ``b_j`` are then
  sampled whatever ``integrate`` says, since the sum needs rows independent given them.
* A binary outcome: a probit analysis model (no residual sd), its random effects
  sampled (a probit has no closed-form integral over them), a missing ``y`` summed over
  like a level-1 categorical predictor.

Every missing continuous value is a NUTS coordinate (``y_missing``, ``w_missing``): the
imputations are the sampled values at the retained draws, and the categories are drawn
after sampling from the kept weights. Everything is on the
standardised scale of the joint layout; the design columns are scaled by constants
(:class:`~.columns.Scaling`) so that the coefficients NUTS sees are of similar size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.linalg import forward_solve
from jmimpute.models.collapsed.graph import LOG_2PI
from jmimpute.models.joint.parameters import cov_factor, prior_data
from jmimpute.models.protocol import BuiltModel, judged
from jmimpute.models.substantive.columns import RowValues, evaluate
from jmimpute.models.substantive.design import SubstantiveDesign
from jmimpute.models.substantive.discrete import Discrete, Hyper, agrees, combinations, unknown
from jmimpute.models.substantive.names import (
    AUX_COEF,
    AUX_SIGMA,
    BETA,
    CLUSTER_WEIGHTS,
    COEF_B,
    COEF_BX,
    COEF_D,
    COEF_DR,
    COEF_W,
    COEF_X,
    MISSING1,
    MISSING2,
    PER_UNIT,
    PSI_X,
    ROW_WEIGHTS,
    SIGMA,
    SIGMA_X,
    TAU,
)
from jmimpute.models.substantive.structure import Atom, Column
from jmimpute.spec.priors import Priors

LogProbs = dict[str, list[TensorVariable]]
"""Each discrete predictor's categories' log-probabilities, per row or cluster."""

PAD = 64
"""The missing cells' coordinates come in blocks of this many (see :func:`padded`)."""


def padded(count: int) -> int:
    """Coordinates for ``count`` missing cells: rounded up to a multiple of :data:`PAD`.

    Data sets of one design differ in how many cells are missing; padded to the same size,
    their models are the same graph with other shared data, and the first one's compiled
    form serves the rest (:mod:`jmimpute.sampling.reuse`). A padding coordinate is a
    standard normal that nothing else reads.
    """
    return 0 if count == 0 else -(-count // PAD) * PAD


def _data(name: str, value: np.ndarray) -> TensorVariable:
    """Shared data, so that other data of the same structure reuse the compiled model."""
    return pm.Data(name, np.ascontiguousarray(value))


def _shared(name: str) -> TensorVariable:
    """Shared data already in the model being built."""
    var: TensorVariable = pm.modelcontext(None)[name]
    return var


def _completed(values: np.ndarray, observed: np.ndarray, name: str) -> TensorVariable:
    """Observed values with the missing cells as free coordinates, (units, p).

    The coordinates fill the missing cells in ``np.nonzero(~observed)`` order; padding
    ones (:func:`padded`) write to an extra row that is dropped.
    """
    units, p = observed.shape
    missing = np.nonzero(~observed)
    size = padded(int(missing[0].size))
    table = _data(
        f"{name}_observed", np.vstack([np.where(observed, values, 0.0), np.zeros((1, p))])
    )
    if not size:
        return table[:units]
    rows = np.full(size, units, dtype=np.int64)
    cols = np.zeros(size, dtype=np.int64)
    rows[: missing[0].size], cols[: missing[0].size] = missing
    pad = np.zeros(size)
    pad[missing[0].size :] = 1.0
    free = pm.Flat(name, shape=(size,))
    pm.Potential(f"{name}_padding", -0.5 * (_data(f"{name}_pad", pad) * free**2).sum())
    out = pt.set_subtensor(table[_data(f"{name}_rows", rows), _data(f"{name}_cols", cols)], free)
    return out[:units]


def _mvn_logp(resid_std: list[TensorVariable], factor: TensorVariable) -> TensorVariable:
    """Sum over rows of the N(0, L L') log density of residuals ``r``, given ``L^{-1} r``."""
    p = len(resid_std)
    quad = sum((si**2).sum() for si in resid_std)
    rows = resid_std[0].shape[0]
    logdet = pt.log(pt.diag(factor)).sum()
    return -0.5 * quad - rows * logdet - 0.5 * rows * p * LOG_2PI


def build_substantive_model(
    design: SubstantiveDesign, priors: Priors, integrate: bool = True
) -> BuiltModel:
    """The PyMC model of the module docstring.

    Parameters
    ----------
    design : SubstantiveDesign
    priors : Priors
    integrate : bool, default True
        Integrate the analysis model's random effects out of the NUTS target (per cluster,
        in closed form: :func:`_integrated_logp`), or sample them (non-centred): the same
        posterior, the first without the random-effect variances' funnel. With incomplete
        categorical predictors they are sampled either way (see the module docstring).

    Returns
    -------
    BuiltModel
    """
    sub = design.sub
    st = sub.structure
    t1 = design.level1
    p1, p2 = len(st.level1), len(st.level2)
    keep: list[str] = []

    with pm.Model() as model:
        # shared, so that a refit with other priors reuses the compiled model
        hyper = prior_data(priors)
        cluster = _data("cluster", design.cluster)
        counts = _data("cluster_sizes", np.bincount(design.cluster).astype(float))
        y1 = _completed(np.nan_to_num(t1.values), sub.known1, MISSING1)
        if (~sub.known1).any():
            keep.append(MISSING1)
        center1, scale1 = _data("center1", t1.center), _data("scale1", t1.scale)
        values: dict[str, TensorVariable] = {
            name: _data(f"complete[{name}]", v) for name, v in sub.complete.items()
        }
        std1: dict[str, TensorVariable] = {}
        for name in (n for n in st.level1_targets if n not in st.summed):
            col = int(t1.columns(name)[0])
            std1[name] = y1[:, col]
            values[name] = center1[col] + scale1[col] * y1[:, col]
        std2: dict[str, TensorVariable] = {}
        if design.level2 is not None:
            t2 = design.level2.targets
            w = _completed(np.nan_to_num(t2.values), sub.known2, MISSING2)
            if (~sub.known2).any():
                keep.append(MISSING2)
            center2, scale2 = _data("center2", t2.center), _data("scale2", t2.scale)
            for name in st.level2:
                col = int(t2.columns(name)[0])
                std2[name] = w[:, col]
                values[name] = (center2[col] + scale2[col] * w[:, col])[cluster]

        means: dict[str, TensorVariable] = {
            name: _data(f"complete_mean[{name}]", v) for name, v in sub.complete_means.items()
        }
        logprobs1: LogProbs = {}
        logprobs2: LogProbs = {}
        if p1 or p2 or sub.discrete or sub.discrete2:
            latent, logprobs1, logprobs2 = _covariate_model(design, hyper, std1, std2, keep)
        for k, name in enumerate(st.level1):
            col = int(t1.columns(name)[0])
            if st.cluster_means == "latent":
                means[name] = center1[col] + scale1[col] * latent[:, k][cluster]
            else:
                sums = pt.inc_subtensor(pt.zeros_like(counts)[cluster], values[name])
                means[name] = (sums / counts)[cluster]

        dummies = {key: _data(f"dummy[{key[0]}={key[1]}]", v) for key, v in sub.dummies.items()}
        rows = RowValues(values, means, dummies)
        # summed over (or a probit): rows independent given b_j
        if sub.summed or sub.discrete2 or sub.outcome is not None:
            summed_discrete(design, hyper, rows, std1, logprobs1, logprobs2, keep)
        else:
            _outcome_model(design, hyper, rows, std1[st.outcome], keep, integrate)
            _auxiliary_models(design, hyper, std1, keep)

    return BuiltModel(design, model, keep=keep, judged=judged(keep, PER_UNIT))


def _covariate_model(
    design: SubstantiveDesign,
    hyper: Hyper,
    std1: dict[str, TensorVariable],
    std2: dict[str, TensorVariable],
    keep: list[str],
) -> tuple[TensorVariable, LogProbs, LogProbs]:
    """The covariate model's log density.

    Returns each cluster's latent means of the continuous predictors (J, p1) and each
    discrete predictor's categories' log-probabilities, per row (level 1) or per cluster
    (level 2); those enter where the combinations of categories are summed
    (:func:`summed_discrete`). A level-1 discrete predictor's linear predictors
    (:mod:`.discrete`) take the complete predictors, a random intercept each (jointly
    normal with the other predictors' random effects and the level-2 ones) and the
    continuous predictors' standardised within-cluster residuals: the joint model's latent
    normal with its residual correlations written as regressions. A level-2 one's take the
    complete level-2 predictors and the cluster's effects (level-2 residuals and level-1
    random effects), so it is associated with everything at its level.
    """
    sub = design.sub
    st = sub.structure
    p1, p2 = len(st.level1), len(st.level2)
    nb = sum(d.n_predictors for d in sub.discrete)
    nd = sum(d.n_predictors for d in sub.discrete2)
    n_clusters = design.n_clusters
    cluster = _shared("cluster")
    zeta_v: list[TensorVariable] = []
    v_cols: list[TensorVariable] = []  # the level-2 residuals
    u_cols: list[TensorVariable] = []  # the level-1 random effects
    latent = pt.zeros((n_clusters, 0))
    resid_std: list[TensorVariable] = []
    logprobs1: LogProbs = {}
    if p2 + p1 + nb:
        factor = cov_factor(PSI_X, ["free"] * (p2 + p1 + nb), hyper["psi_eta"], hyper["psi_sd"])
        pm.Deterministic(f"{PSI_X}_chol", factor)
        keep.append(f"{PSI_X}_chol")
    if p2:
        coef_w = pm.Normal(COEF_W, 0.0, hyper["beta_sd"], shape=(sub.cov2.shape[1], p2))
        keep.append(COEF_W)
        w = pt.stack([std2[n] for n in st.level2], axis=1)
        v = w - _data("covariates2", sub.cov2) @ coef_w
        low = [[factor[i, k] for k in range(i + 1)] for i in range(p2)]
        v_cols = [v[:, i] for i in range(p2)]
        zeta_v = forward_solve(low, v_cols)
        logdet = pt.log(pt.diag(factor)[:p2]).sum()
        quad = sum((z**2).sum() for z in zeta_v)
        pm.Potential("level2_model", -0.5 * quad - n_clusters * logdet)
    if p1 + nb:
        # the level-1 effects given the level-2 values, non-centred
        eta = pm.Normal("effects_x", 0.0, 1.0, shape=(n_clusters, p1 + nb))
        for a in range(p1 + nb):
            i = p2 + a
            term = sum(factor[i, p2 + k] * eta[:, k] for k in range(a + 1))
            term = term + sum(factor[i, k] * zeta_v[k] for k in range(p2))
            u_cols.append(term)
        u = pt.stack(u_cols, axis=1)
        cov1 = _data("covariates1", sub.cov1)
    if p1:
        coef_x = pm.Normal(COEF_X, 0.0, hyper["beta_sd"], shape=(sub.cov1.shape[1], p1))
        keep.append(COEF_X)
        sigma_x = cov_factor(SIGMA_X, ["free"] * p1, hyper["sigma_eta"], hyper["sigma_sd"])
        pm.Deterministic(f"{SIGMA_X}_chol", sigma_x)
        keep.append(f"{SIGMA_X}_chol")
        x = pt.stack([std1[n] for n in st.level1], axis=1)
        resid = x - cov1 @ coef_x - u[:, :p1][cluster]
        low = [[sigma_x[i, k] for k in range(i + 1)] for i in range(p1)]
        resid_std = forward_solve(low, [resid[:, i] for i in range(p1)])
        pm.Potential("covariate_model", _mvn_logp(resid_std, sigma_x))
        latent = _data("covariate_means1", sub.cov1_means) @ coef_x + u[:, :p1]
    if nb:
        coef_b = pm.Normal(COEF_B, 0.0, hyper["beta_sd"], shape=(sub.cov1.shape[1], nb))
        keep.append(COEF_B)
        linear = [cov1 @ coef_b[:, k] + u[:, p1 + k][cluster] for k in range(nb)]
        if p1:
            coef_bx = pm.Normal(COEF_BX, 0.0, hyper["beta_sd"], shape=(nb, p1))
            keep.append(COEF_BX)
            linear = [
                m + sum(coef_bx[k, j] * resid_std[j] for j in range(p1))
                for k, m in enumerate(linear)
            ]
        logprobs1 = _log_probs(sub.discrete, linear, hyper, keep)
    logprobs2: LogProbs = {}
    if nd:
        coef_d = pm.Normal(COEF_D, 0.0, hyper["beta_sd"], shape=(sub.cov2.shape[1], nd))
        keep.append(COEF_D)
        cov2 = _shared("covariates2") if p2 else _data("covariates2", sub.cov2)
        linear = [cov2 @ coef_d[:, k] for k in range(nd)]
        # the effects themselves, not their standardised coordinates: where a random
        # intercept's variance is near zero its coordinate is free, and a coefficient on
        # it would let the coordinate act as a latent class of the clusters
        effects = [*v_cols, *u_cols]
        if effects:
            coef_dr = pm.Normal(COEF_DR, 0.0, hyper["beta_sd"], shape=(nd, len(effects)))
            keep.append(COEF_DR)
            linear = [
                m + sum(coef_dr[k, j] * e for j, e in enumerate(effects))
                for k, m in enumerate(linear)
            ]
        logprobs2 = _log_probs(sub.discrete2, linear, hyper, keep)
    return latent, logprobs1, logprobs2


def _log_probs(
    predictors: tuple[Discrete, ...], linear: list[TensorVariable], hyper: Hyper, keep: list[str]
) -> LogProbs:
    """Each predictor's categories' log-probabilities from its share of ``linear``."""
    out: LogProbs = {}
    at = 0
    for d in predictors:
        out[d.name] = d.link.log_probs(d, linear[at : at + d.n_predictors], hyper, keep)
        at += d.n_predictors
    return out


def _analysis_parameters(
    design: SubstantiveDesign, hyper: Hyper, keep: list[str]
) -> tuple[TensorVariable, TensorVariable, TensorVariable | None]:
    """The analysis model's fixed effects, random-effect covariance factor and residual sd.

    The residual sd is ``None`` for a binary outcome: the probit's latent residual has
    variance 1.
    """
    st = design.sub.structure
    beta = pm.Normal(BETA, 0.0, hyper["beta_sd"], shape=(1 + len(st.fixed),))
    q = int(st.random_intercept) + len(st.random)
    tau = cov_factor(TAU, ["free"] * q, hyper["psi_eta"], hyper["psi_sd"])
    pm.Deterministic(f"{TAU}_chol", tau)
    keep.extend([BETA, f"{TAU}_chol"])
    if st.binary_outcome:
        return beta, tau, None
    sigma = pm.HalfNormal(SIGMA, hyper["sigma_sd"])
    keep.append(SIGMA)
    return beta, tau, sigma


def _design_columns(
    design: SubstantiveDesign, beta: TensorVariable, rows: RowValues, ones: TensorVariable
) -> Callable[[dict[str, int]], tuple[TensorVariable, list[TensorVariable]]]:
    """``codes -> (f' beta, g)``: the fixed part and the random-effect columns of every row.

    ``codes`` gives each discrete predictor's category (:func:`summed_discrete` calls it
    once per combination; ``{}`` without discrete predictors). Each column enters scaled
    (:class:`~.columns.Scaling`), the scaling constants shared data made once. So that the
    graph does not grow with the number of combinations, each column's factors that read
    no discrete predictor are computed once, and a combination only switches the columns
    with a discrete factor on (their other factors) or off (zero): those factors are dummies.
    """
    sub = design.sub
    st = sub.structure
    model = pm.modelcontext(None)
    discrete = {d.name: d for d in (*sub.discrete, *sub.discrete2)}

    def scaling(name: str, values: np.ndarray) -> TensorVariable:
        return _shared(name) if name in model.named_vars else _data(name, values)

    def split(column: Column) -> tuple[TensorVariable | float, tuple[Atom, ...]]:
        rest = tuple(a for a in column.atoms if a.name not in discrete)
        picks = tuple(a for a in column.atoms if a.name in discrete)
        return (evaluate(Column(rest), rows) if rest else 1.0), picks

    def on(picks: tuple[Atom, ...], codes: dict[str, int]) -> bool:
        return all(discrete[a.name].categories[codes[a.name]] == a.level for a in picks)

    fixed = [split(c) for c in st.fixed]
    random = [split(c) for c in st.random]
    mu0: TensorVariable = beta[0]
    if st.fixed:
        f_center = scaling("fixed_center", sub.fixed.center)
        f_scale = scaling("fixed_scale", sub.fixed.scale)
        for k, (base, picks) in enumerate(fixed):
            mu0 = mu0 + beta[1 + k] * ((0.0 if picks else base) - f_center[k]) / f_scale[k]
    if st.random:
        r_center = scaling("random_center", sub.random.center)
        r_scale = scaling("random_scale", sub.random.scale)
    lead = [pt.ones_like(ones)] if st.random_intercept else []  # float, as the columns

    def at(codes: dict[str, int]) -> tuple[TensorVariable, list[TensorVariable]]:
        mu = mu0
        for k, (base, picks) in enumerate(fixed):
            if picks and on(picks, codes):
                mu = mu + beta[1 + k] * base / f_scale[k]
        g_cols = list(lead)
        for k, (base, picks) in enumerate(random):
            value = base if not picks or on(picks, codes) else 0.0
            g_cols.append((value - r_center[k]) / r_scale[k])
        return mu, g_cols

    return at


def _outcome_model(
    design: SubstantiveDesign,
    hyper: Hyper,
    rows: RowValues,
    y: TensorVariable,
    keep: list[str],
    integrate: bool,
) -> None:
    """The analysis model's log density, its random effects integrated or non-centred."""
    beta, tau, sigma = _analysis_parameters(design, hyper, keep)
    assert sigma is not None  # a binary outcome is summed over (summed_discrete)
    mu, g_cols = _design_columns(design, beta, rows, y)({})
    if not integrate:
        b = pm.Normal("effects_y", 0.0, 1.0, shape=(design.n_clusters, len(g_cols))) @ tau.T
        cluster = _shared("cluster")
        for k, g in enumerate(g_cols):
            mu = mu + g * b[cluster, k]
        pm.Potential("outcome_model", pm.logp(pm.Normal.dist(mu, sigma), y).sum())
        return
    pm.Potential("outcome_model", _integrated_logp(y - mu, g_cols, tau, sigma))


def _integrated_logp(
    resid: TensorVariable, g_cols: list[TensorVariable], tau: TensorVariable, sigma: TensorVariable
) -> TensorVariable:
    """``log N(r_j; 0, G_j T G_j' + sigma^2 I)`` summed over clusters, ``b_j`` integrated out.

    With ``T = L L'`` (Woodbury and the matrix determinant lemma, as in
    docs/design/collapsed-likelihood.md): ``M_j = I + L' G_j'G_j L / sigma^2``,
    ``d_j = L' G_j' r_j / sigma^2``, and the cluster's log density is
    ``-(n_j log(2 pi sigma^2) + log|M_j| + r_j'r_j / sigma^2 - d_j' M_j^{-1} d_j) / 2``.
    ``M_j`` (q x q, at least I) is factored entry by entry for all clusters at once:
    q is small, and elementwise operations compile quickly where PyTensor's batched
    linear algebra does not. Cost O(n q^2) per gradient, no funnel of ``T`` for NUTS.
    """
    cluster, counts = _shared("cluster"), _shared("cluster_sizes")
    q = len(g_cols)

    def sums(values: TensorVariable) -> TensorVariable:
        return pt.inc_subtensor(pt.zeros_like(counts)[cluster], values)

    var = sigma**2
    gg = [[sums(g_cols[a] * g_cols[b]) for b in range(a + 1)] for a in range(q)]
    gr = [sums(g * resid) for g in g_cols]
    rr = sums(resid**2)

    def s_gg(a: int, b: int) -> TensorVariable:
        return gg[a][b] if b <= a else gg[b][a]

    # L' S L, entry (a, b) = sum_{c, e} L_ca S_ce L_eb (L lower: c >= a, e >= b)
    s_l = [[sum(s_gg(c, e) * tau[e, b] for e in range(b, q)) for b in range(q)] for c in range(q)]
    m = [
        [sum(tau[c, a] * s_l[c][b] for c in range(a, q)) / var for b in range(a + 1)]
        for a in range(q)
    ]
    d = [sum(tau[c, a] * gr[c] for c in range(a, q)) / var for a in range(q)]
    low: list[list[TensorVariable]] = []
    for a in range(q):
        row: list[TensorVariable] = []
        for b in range(a):
            row.append((m[a][b] - sum(row[k] * low[b][k] for k in range(b))) / low[b][b])
        diag = 1.0 + m[a][a] - sum(v**2 for v in row)
        row.append(pt.sqrt(diag))
        low.append(row)
    z = forward_solve(low, d)
    logdet = 2.0 * sum(pt.log(low[a][a]) for a in range(q))
    quad = rr / var - sum(v**2 for v in z)
    total = counts * (LOG_2PI + pt.log(var)) + logdet + quad
    return -0.5 * total.sum()


def _auxiliary_models(
    design: SubstantiveDesign, hyper: Hyper, std1: dict[str, TensorVariable], keep: list[str]
) -> None:
    """Each auxiliary given the outcome, the incomplete predictors and earlier auxiliaries."""
    st = design.sub.structure
    before = [std1[st.outcome], *(std1[n] for n in st.level1)]
    for name in st.auxiliary:
        coef = pm.Normal(f"{AUX_COEF}{name}", 0.0, hyper["beta_sd"], shape=(1 + len(before),))
        sd = pm.HalfNormal(f"{AUX_SIGMA}{name}", hyper["sigma_sd"])
        keep.extend([f"{AUX_COEF}{name}", f"{AUX_SIGMA}{name}"])
        mu = coef[0] + sum(coef[1 + k] * v for k, v in enumerate(before))
        pm.Potential(f"auxiliary_{name}", pm.logp(pm.Normal.dist(mu, sd), std1[name]).sum())
        before.append(std1[name])


def summed_discrete(
    design: SubstantiveDesign,
    hyper: Hyper,
    rows: RowValues,
    std1: dict[str, TensorVariable],
    logprobs1: LogProbs,
    logprobs2: LogProbs,
    keep: list[str],
) -> None:
    """Outcome and auxiliary models with the discrete predictors summed over where missing.

    A row's likelihood given the level-2 categories ``c2`` of its cluster is
    ``sum_c1 P(c1 | x, u) p(y | c1, c2, x, b) p(z | y, c1, x)`` over the combinations
    ``c1`` of the level-1 discrete predictors that agree with the row's observed ones; a
    cluster's is ``sum_c2 P(c2 | cluster) prod_rows (...)`` over the level-2 ones (design
    note, "Discrete missing predictors"): a discrete value is never a NUTS coordinate.
    A binary outcome is one more level-1 discrete variable of the sum (the last), its
    probability the probit ``Phi(+-(f' beta + g' b_j))`` of the combination's predictors.
    The random effects ``b_j`` are sampled (non-centred), so rows are independent given
    them and the sums are per row and per cluster. The log weights of the rows and
    clusters with a missing category are kept (``discrete_weights``,
    ``cluster_weights``; padded as the missing cells' coordinates) to draw their
    categories after sampling.
    """
    sub = design.sub
    st = sub.structure
    cluster = _shared("cluster")
    outcome = sub.outcome
    y = None if outcome is not None else std1[st.outcome]
    beta, tau, sigma = _analysis_parameters(design, hyper, keep)
    q = int(st.random_intercept) + len(st.random)
    b = pm.Normal("effects_y", 0.0, 1.0, shape=(design.n_clusters, q)) @ tau.T
    aux = []
    n_before = 1 + len(st.level1) + sum(d.n_categories - 1 for d in sub.discrete)
    for name in st.auxiliary:
        coef = pm.Normal(f"{AUX_COEF}{name}", 0.0, hyper["beta_sd"], shape=(1 + n_before,))
        sd = pm.HalfNormal(f"{AUX_SIGMA}{name}", hyper["sigma_sd"])
        keep.extend([f"{AUX_COEF}{name}", f"{AUX_SIGMA}{name}"])
        aux.append((name, coef, sd))
        n_before += 1

    columns = _design_columns(design, beta, rows, pt.ones(design.n) if y is None else y)
    summed = sub.summed
    observed_y = None  # a complete binary outcome's codes, not summed over
    if outcome is not None and outcome not in summed:
        observed_y = _data("outcome_codes", outcome.codes)
    agree1 = {
        combo: _data(f"agrees{combo}", agrees(summed, combo))
        for combo in combinations(summed)
        if summed
    }
    by_cluster, by_row = [], []
    for combo2 in combinations(sub.discrete2):
        weights = []
        for combo in combinations(summed):
            codes = {d.name: c for d, c in zip(sub.discrete2, combo2, strict=True)}
            codes |= {d.name: c for d, c in zip(summed, combo, strict=True)}
            mu, g_cols = columns(codes)
            for k, g in enumerate(g_cols):
                mu = mu + g * b[cluster, k]
            if outcome is None:
                assert y is not None and sigma is not None
                logw = pm.logp(pm.Normal.dist(mu, sigma), y)
                y_value = y
            elif observed_y is not None:
                low, high = outcome.link.log_probs(outcome, [mu], hyper, keep)
                logw = pt.switch(pt.eq(observed_y, 1), high, low)
                y_value = observed_y.astype("float64")
            else:
                code = codes[outcome.name]
                logw = outcome.link.log_probs(outcome, [mu], hyper, keep)[code]
                y_value = pt.as_tensor(float(code))
            predictors = combo[: len(sub.discrete)]  # a binary outcome's code is last
            for d, code in zip(sub.discrete, predictors, strict=True):
                logw = logw + logprobs1[d.name][code]
            before = [y_value, *(std1[n] for n in st.level1)]
            for d, code in zip(sub.discrete, predictors, strict=True):
                before.extend(pt.as_tensor(v) for v in d.indicators(code))
            for name, coef, sd in aux:
                mean = coef[0] + sum(coef[1 + k] * v for k, v in enumerate(before))
                logw = logw + pm.logp(pm.Normal.dist(mean, sd), std1[name])
                before.append(std1[name])
            weights.append(pt.switch(agree1[combo], logw, -np.inf) if agree1 else logw)
        stacked = pt.stack(weights, axis=1)
        by_row.append(stacked)
        if not sub.discrete2:
            continue
        counts = _shared("cluster_sizes")
        logc = pt.inc_subtensor(
            pt.zeros_like(counts)[cluster], pm.math.logsumexp(stacked, axis=1, keepdims=False)
        )
        for d, code in zip(sub.discrete2, combo2, strict=True):
            logc = logc + logprobs2[d.name][code]
        agree2 = _data(f"cluster_agrees{combo2}", agrees(sub.discrete2, combo2))
        by_cluster.append(pt.switch(agree2, logc, -np.inf))
    if sub.discrete2:
        stacked2 = pt.stack(by_cluster, axis=1)
        pm.Potential("outcome_model", pm.math.logsumexp(stacked2, axis=1).sum())
        if unknown(sub.discrete2).size:  # else every cluster has its categories
            at2 = _data("cluster_rows", _padded_units(sub.discrete2))
            pm.Deterministic(CLUSTER_WEIGHTS, stacked2[at2])
            keep.append(CLUSTER_WEIGHTS)
    else:
        pm.Potential("outcome_model", pm.math.logsumexp(by_row[0], axis=1).sum())
    if unknown(summed).size:  # else every row has its categories
        at1 = _data("discrete_rows", _padded_units(summed))
        pm.Deterministic(ROW_WEIGHTS, pt.stack([w[at1] for w in by_row], axis=1))
        keep.append(ROW_WEIGHTS)


def _padded_units(predictors: tuple[Discrete, ...]) -> np.ndarray:
    """The units with a missing category, padded (:func:`padded`) with the first unit."""
    missing = unknown(predictors)
    at = np.zeros(padded(missing.size), dtype=np.int64)
    at[: missing.size] = missing
    return at
