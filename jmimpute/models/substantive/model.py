"""The substantive model behind the seam (:class:`~jmimpute.models.protocol.ImputationModel`).

Its imputations are the sampled missing values at the retained draws; the result's
``posterior`` holds the analysis model's parameters on the data's scale (``beta`` by term,
``tau`` the random-effect covariance, ``sigma2`` the residual variance: Blimp's "analysis
model estimates"; for a binary outcome ``beta`` and ``tau`` on the probit scale and no
``sigma2``) and the covariate and auxiliary models' parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.models.joint.conditional import Draw, Shift
from jmimpute.models.joint.model import JointModel
from jmimpute.models.protocol import BuiltModel, ParameterDraws, ParameterGroup
from jmimpute.models.streams import stream_rng
from jmimpute.models.substantive.discrete import Discrete, unknown
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
    CUTPOINTS,
    MISSING1,
    MISSING2,
    PER_UNIT,
    PSI_X,
    ROW_WEIGHTS,
    SIGMA,
    SIGMA_X,
    TAU,
)

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.models.substantive.design import SubstantiveDesign
    from jmimpute.spec.model import ImputationSpec
    from jmimpute.spec.variables import Variable

GROUPS: dict[str, ParameterGroup] = {
    "beta": ParameterGroup("fixed effects"),
    "tau": ParameterGroup("random-effect covariance", symmetric=True),
    "sigma2": ParameterGroup("residual variance"),
    "sigma_x": ParameterGroup("covariate model", symmetric=True),
    "psi_x": ParameterGroup("covariate model", symmetric=True),
    "coef_x_s": ParameterGroup("covariate model"),
    "coef_w_s": ParameterGroup("covariate model"),
    "coef_b_s": ParameterGroup("covariate model"),
    "coef_bx_s": ParameterGroup("covariate model"),
    "coef_d_s": ParameterGroup("covariate model"),
    "coef_dr_s": ParameterGroup("covariate model"),
    "cutpoints": ParameterGroup("covariate model"),
    "auxiliary": ParameterGroup("auxiliary models"),
}
"""The convergence group of each parameter of the posterior (auxiliary models' ones are
``aux_coef_<name>`` and ``aux_sigma_<name>``; an ordinal predictor's gaps between
successive thresholds are ``cutpoint_gaps_<name>``, its thresholds ``0, cumsum(gaps)``)."""


def _chol_to_cov(chol: np.ndarray) -> np.ndarray:
    return np.einsum("...ik,...jk->...ij", chol, chol)


def analysis_map(design: SubstantiveDesign) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data-scale fixed effects are ``offset + A beta_s``, random effects ``R b``.

    ``y = c_y + s_y y_s`` and each column enters as ``(f - m) / s``, so a slope is
    ``s_y beta_k / s_k`` and the intercept absorbs ``- s_y beta_k m_k / s_k``; the random
    intercept absorbs the random slopes' centring alike.

    Returns
    -------
    offset : ndarray, shape (1 + K,)
    fixed : ndarray, shape (1 + K, 1 + K)
    random : ndarray, shape (q, q)
    """
    sub = design.sub
    st = sub.structure
    col = int(design.level1.columns(st.outcome)[0])
    c_y, s_y = design.level1.center[col], design.level1.scale[col]
    if st.binary_outcome:  # the probit's latent scale: mean 0 at f' beta = 0, variance 1
        c_y, s_y = 0.0, 1.0
    k = len(st.fixed)
    fixed = np.zeros((1 + k, 1 + k))
    fixed[0, 0] = s_y
    fixed[0, 1:] = -s_y * sub.fixed.center / sub.fixed.scale
    fixed[np.arange(1, k + 1), np.arange(1, k + 1)] = s_y / sub.fixed.scale
    offset = np.zeros(1 + k)
    offset[0] = c_y
    lead = 1 if st.random_intercept else 0
    q = lead + len(st.random)
    random = np.zeros((q, q))
    if lead:
        random[0, 0] = s_y
        random[0, 1:] = -s_y * sub.random.center / sub.random.scale
    random[np.arange(lead, q), np.arange(lead, q)] = s_y / sub.random.scale
    return offset, fixed, random


class SubstantiveModel(JointModel):
    """The analysis model with the covariate model, sampled jointly by NUTS.

    It shares the joint models' layout of imputed cells, so their delta adjustment
    (:meth:`shift`) applies; a re-draw reads the imputations kept in the result and adds
    the shift to the shifted variable's imputed cells.
    """

    name = "substantive"
    per_unit = PER_UNIT
    integrate = True
    """Integrate the analysis model's random effects (False: sample them, the reference)."""
    redraw_note: str | None = (
        "method='substantive': a sensitivity analysis adds delta to the imputed values of "
        "the shifted variable only; the other variables' imputations are not drawn again "
        "given the shifted values"
    )

    def design(
        self,
        data: pd.DataFrame,
        spec: ImputationSpec,
        level1: tuple[Variable, ...],
        level2: tuple[Variable, ...],
    ) -> Design:
        """The joint layout of the imputed variables plus the analysis formula's columns."""
        from jmimpute.models.substantive.design import build_substantive_design

        assert spec.analysis is not None
        return build_substantive_design(
            data,
            spec.analysis,
            spec.auxiliary,
            (*spec.categorical, *spec.ordinal),
            spec.cluster_means,
            level1,
            level2,
        )

    def check(self, design: Design, spec: ImputationSpec) -> None:
        """One level-1 covariance; categorical imputed variables only as predictors."""
        targets = [*design.level1.variables]
        if design.level2 is not None:
            targets += design.level2.targets.variables
        st = design.sub.structure  # type: ignore[attr-defined]
        discrete = {*st.summed, *st.discrete2}
        latent = [v.name for v in targets if v.latent and v.name not in discrete]
        if latent:
            raise ValueError(
                f"{latent} are declared categorical or ordinal; the substantive model "
                "(`analysis=`) imputes categorical predictors and binary outcomes, but only "
                "continuous auxiliaries. Drop the declaration to treat them as continuous, "
                "or impute with the joint model (`formula=`)"
            )
        if spec.cluster_covariance != "common":
            raise ValueError(
                "`cluster_covariance='random'` is a joint-model option; the substantive "
                "model (`analysis=`) has one residual variance: leave cluster_covariance out"
            )

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """The PyMC model (:mod:`jmimpute.models.substantive.build`)."""
        from jmimpute.models.substantive.build import build_substantive_model

        return build_substantive_model(design, spec.priors, self.integrate)  # type: ignore[arg-type]

    def parameter_group(self, name: str) -> ParameterGroup | None:
        """The group of a posterior variable (:data:`GROUPS`)."""
        if name.startswith((AUX_COEF, AUX_SIGMA)):
            return GROUPS["auxiliary"]
        if name.startswith(CUTPOINTS):
            return GROUPS["cutpoints"]
        return GROUPS.get(name)

    def posterior(self, design: Design, draws: ParameterDraws) -> tuple[xr.Dataset, xr.Dataset]:
        """The analysis model's parameters on the data's scale, and the rest.

        Returns
        -------
        posterior, standardised : xarray.Dataset
            ``beta`` (``term``), ``tau`` (``effect``, ``effect_``), ``sigma2`` (not for a
            binary outcome), and the
            covariate model's ``sigma_x``, ``psi_x`` (data scale; ``psi_x`` includes the
            categorical predictors' random intercepts, on their link's scale) and
            coefficients (standardised): ``coef_x_s``, ``coef_w_s``, the level-1
            categorical predictors' ``coef_b_s`` and ``coef_bx_s`` (on the continuous
            predictors' residuals), the level-2 ones' ``coef_d_s`` and ``coef_dr_s`` (on
            the cluster's effects), ordinal ones' ``cutpoint_gaps_<name>``;
            ``standardised`` holds the sampler's own variables.
        """
        sd: SubstantiveDesign = design  # type: ignore[assignment]
        st = sd.sub.structure
        v = draws.values
        offset, fixed, random = analysis_map(sd)
        coords: dict[str, Any] = {
            "chain": np.arange(draws.chains),
            "draw": np.arange(draws.draws),
            "term": list(st.fixed_labels),
            "effect": list(st.random_labels),
            "effect_": list(st.random_labels),
        }
        post = xr.Dataset(coords=coords)

        def put(name: str, dims: tuple[str, ...], values: np.ndarray, group: str) -> None:
            post[name] = (("chain", "draw", *dims), values, GROUPS[group].attrs())

        put("beta", ("term",), offset + v[BETA] @ fixed.T, "beta")
        tau = _chol_to_cov(v[f"{TAU}_chol"])
        put("tau", ("effect", "effect_"), random @ tau @ random.T, "tau")
        if not st.binary_outcome:
            col = int(sd.level1.columns(st.outcome)[0])
            put("sigma2", (), (sd.level1.scale[col] * v[SIGMA]) ** 2, "sigma2")
        scales1 = np.array([sd.level1.scale[int(sd.level1.columns(n)[0])] for n in st.level1])
        scales2 = np.zeros(0)
        if st.level2:
            assert sd.level2 is not None
            t2 = sd.level2.targets
            scales2 = np.array([t2.scale[int(t2.columns(n)[0])] for n in st.level2])
        if st.level1:
            post = post.assign_coords(x_var=list(st.level1), x_var_=list(st.level1))
            d = np.diag(scales1)
            sigma_x = d @ _chol_to_cov(v[f"{SIGMA_X}_chol"]) @ d
            put("sigma_x", ("x_var", "x_var_"), sigma_x, "sigma_x")
            put("coef_x_s", ("x_cov", "x_var"), v[COEF_X], "coef_x_s")
        predictors = [n for d in sd.sub.discrete for n in d.predictor_names]
        if st.level1 or st.level2 or predictors:
            names = [*st.level2, *st.level1, *predictors]
            post = post.assign_coords(psi_var=names, psi_var_=names)
            d = np.diag(np.concatenate([scales2, scales1, np.ones(len(predictors))]))
            psi_x = d @ _chol_to_cov(v[f"{PSI_X}_chol"]) @ d
            put("psi_x", ("psi_var", "psi_var_"), psi_x, "psi_x")
        if predictors:
            post = post.assign_coords(b_var=predictors)
            put("coef_b_s", ("x_cov", "b_var"), v[COEF_B], "coef_b_s")
            if st.level1:
                put("coef_bx_s", ("b_var", "x_var"), v[COEF_BX], "coef_bx_s")
        predictors2 = [n for d in sd.sub.discrete2 for n in d.predictor_names]
        if predictors2:
            post = post.assign_coords(d_var=predictors2)
            put("coef_d_s", ("w_cov", "d_var"), v[COEF_D], "coef_d_s")
            if COEF_DR in v:
                effects = [*st.level2, *st.level1, *predictors]
                post = post.assign_coords(d_effect=effects)
                put("coef_dr_s", ("d_var", "d_effect"), v[COEF_DR], "coef_dr_s")
        for name in (p.name for p in (*sd.sub.discrete, *sd.sub.discrete2)):
            if f"{CUTPOINTS}{name}" in v:
                gaps = v[f"{CUTPOINTS}{name}"]
                put(f"{CUTPOINTS}{name}", (f"cutpoint_{name}",), gaps, "cutpoints")
        if st.level2:
            post = post.assign_coords(w_var=list(st.level2))
            put("coef_w_s", ("w_cov", "w_var"), v[COEF_W], "coef_w_s")
        for name in st.auxiliary:
            put(f"{AUX_COEF}{name}", (f"aux_term_{name}",), v[f"{AUX_COEF}{name}"], "auxiliary")
            put(f"{AUX_SIGMA}{name}", (), v[f"{AUX_SIGMA}{name}"], "auxiliary")
        standardised = xr.Dataset(
            {
                name: (("chain", "draw", *(f"{name}_dim_{i}" for i in range(a.ndim - 2))), a)
                for name, a in v.items()
                if name not in PER_UNIT
            },
            coords={"chain": coords["chain"], "draw": coords["draw"]},
        )
        return post, standardised

    def imputations(
        self,
        built: BuiltModel,
        trace: xr.DataTree,
        draws: ParameterDraws,
        retained: xr.Dataset,
        seed: np.random.SeedSequence,
        *,
        progressbar: bool = False,
    ) -> tuple[list[Any], xr.Dataset]:
        """The sampled missing values at the retained draws.

        Missing categories of discrete predictors are drawn from their conditional
        probabilities at the retained draw (the kept combination weights: a cluster's
        level-2 categories first, then its rows' level-1 ones given them), each imputation
        from its own random stream; continuous values are the sampled ones.
        """
        design: SubstantiveDesign = built.design  # type: ignore[assignment]
        sub = design.sub
        chains, at = retained["chain"].to_numpy(), retained["draw"].to_numpy()
        streams = retained["stream"].to_numpy()
        y1, y2 = draws.values.get(MISSING1), draws.values.get(MISSING2)
        rows_w, clusters_w = draws.values.get(ROW_WEIGHTS), draws.values.get(CLUSTER_WEIGHTS)
        out = []
        for c, t, stream in zip(chains, at, streams, strict=True):
            values = np.where(sub.known1, design.level1.values, np.nan)
            if y1 is not None:
                values[np.nonzero(~sub.known1)] = y1[int(c), int(t), : sub.n_missing1]
            codes = {d.name: d.codes.copy() for d in (*sub.coded, *sub.discrete2)}
            if rows_w is not None or clusters_w is not None:
                rng = stream_rng(seed, int(stream))
                _draw_discrete(
                    design,
                    codes,
                    None if rows_w is None else rows_w[int(c), int(t)],
                    None if clusters_w is None else clusters_w[int(c), int(t)],
                    rng,
                )
            level2 = None
            if design.level2 is not None:
                t2 = design.level2.targets
                values2 = np.where(sub.known2, t2.values, np.nan)
                if y2 is not None:
                    values2[np.nonzero(~sub.known2)] = y2[int(c), int(t), : sub.n_missing2]
                level2 = _per_variable(t2, values2, codes)
            out.append(_assemble(design, values, codes, level2))
        return out, retained

    def redraw(
        self, design: Design, tree: xr.DataTree, shift: Any = None, *, progressbar: bool = False
    ) -> list[Any]:
        """The result's own imputations, with ``shift`` added to the shifted cells."""
        cells = tree["imputations"].dataset
        sub = design.sub  # type: ignore[attr-defined]
        t1 = design.level1
        out = []
        for k in range(cells.sizes["imputation"]):
            one = cells.isel(imputation=k)
            y1 = _cells_standardised(t1, one, "imputed", "row", "column")
            values = np.where(sub.known1, t1.values, np.nan)
            values[~sub.known1] = y1[~sub.known1]
            codes = {d.name: _stored_codes(t1, d, y1) for d in sub.coded}
            level2 = None
            if design.level2 is not None:
                t2 = design.level2.targets
                y2 = _cells_standardised(t2, one, "imputed_level2", "cluster_position", "column2")
                codes |= {d.name: _stored_codes(t2, d, y2) for d in sub.discrete2}
                level2 = _per_variable(t2, np.where(sub.known2, t2.values, y2), codes)
            draw = _assemble(design, values, codes, level2)
            if isinstance(shift, Shift):
                draw = _shifted(design, draw, shift)
            out.append(draw)
        return out

    def shift(self, design: Design, variable: str, per_unit: np.ndarray) -> Shift:
        """The joint models' delta adjustment, for continuous variables only.

        Raises
        ------
        ValueError
            For a categorical predictor or a binary outcome: its imputations are
            categories drawn after sampling, with nothing continuous to shift.
        """
        st = design.sub.structure  # type: ignore[attr-defined]
        if variable in (*st.summed, *st.discrete2):
            role = "binary outcome" if variable == st.outcome else "categorical predictor"
            raise ValueError(
                f"{variable!r} is a {role} of the substantive model; a delta adjustment "
                "shifts continuous imputed values only. Shift a continuous outcome or "
                "predictor, or impute with the joint model (`formula=`), which shifts a "
                "binary variable's latent normal"
            )
        return super().shift(design, variable, per_unit)


class SampledSubstantiveModel(SubstantiveModel):
    """The substantive model with the analysis model's random effects sampled (non-centred).

    The same posterior as :class:`SubstantiveModel`; kept as the reference the integrated
    version is tested against (``method="substantive_sampled"``), as ``"latent"`` is for
    the joint model.
    """

    name = "substantive_sampled"
    integrate = False


def _per_variable(targets: Any, values: np.ndarray, codes: dict[str, np.ndarray]) -> np.ndarray:
    """Per unit and variable: standardised continuous values, or the codes of discrete ones."""
    out = np.empty((values.shape[0], len(targets.variables)))
    for i, var in enumerate(targets.variables):
        out[:, i] = (
            codes[var.name] if var.name in codes else values[:, targets.columns(var.name)[0]]
        )
    return out


def _assemble(
    design: Design, values: np.ndarray, codes: dict[str, np.ndarray], level2: np.ndarray | None
) -> Draw:
    """An imputation: standardised values of continuous variables, codes of discrete ones."""
    level1 = _per_variable(design.level1, values, codes)
    return Draw(level1=level1, level2=level2, effects=np.zeros((design.n_clusters, 1, design.p)))


def _draw_discrete(
    design: SubstantiveDesign,
    codes: dict[str, np.ndarray],
    rows_w: np.ndarray | None,
    clusters_w: np.ndarray | None,
    rng: np.random.Generator,
) -> None:
    """Draw the missing categories from the kept combination weights, in place.

    A cluster with a missing level-2 category draws its combination from
    ``clusters_w`` (clusters padded, combinations); then each row with a missing level-1
    category draws from ``rows_w`` (rows padded, level-2 combinations, level-1
    combinations) at its cluster's level-2 combination. A combination's index spells its
    codes, the first predictor's most significant (:func:`.discrete.combinations`);
    observed codes are kept (every combination that disagrees with them has weight 0).
    """
    sub = design.sub
    if clusters_w is not None:
        chosen2 = _chosen(clusters_w, unknown(sub.discrete2).size, rng)
        _set_codes(sub.discrete2, codes, unknown(sub.discrete2), chosen2)
    if rows_w is None:
        return
    missing = unknown(sub.summed)
    combo2 = np.zeros(design.n_clusters, dtype=np.int64)
    if sub.discrete2:
        shape2 = [d.n_categories for d in sub.discrete2]
        combo2 = np.ravel_multi_index([codes[d.name] for d in sub.discrete2], shape2)
    w = rows_w[np.arange(missing.size), combo2[design.cluster[missing]]]
    _set_codes(sub.summed, codes, missing, _chosen(w, missing.size, rng))


def _chosen(log_weights: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A combination per unit, drawn from the first ``count`` units' log weights."""
    w = log_weights[:count]
    p = np.exp(w - w.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    chosen = (p.cumsum(axis=1) < rng.random((count, 1))).sum(axis=1)
    # rounding can leave the uniform above the last cumulative sum: then the last
    # combination with weight (never one that disagrees with an observed code)
    last = p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1)
    return np.minimum(chosen, last)


def _set_codes(
    predictors: tuple[Discrete, ...],
    codes: dict[str, np.ndarray],
    units: np.ndarray,
    chosen: np.ndarray,
) -> None:
    """Fill the missing codes of ``units`` with the combinations ``chosen``."""
    spelled = np.unravel_index(chosen, [d.n_categories for d in predictors])
    for d, code in zip(predictors, spelled, strict=True):
        missing = codes[d.name][units] < 0
        codes[d.name][units[missing]] = code[missing]


def _stored_codes(targets: Any, d: Discrete, stored: np.ndarray) -> np.ndarray:
    """A discrete predictor's codes: observed ones, else those a result kept."""
    col = int(targets.columns(d.name)[0])
    return np.where(d.codes < 0, stored[:, col], d.codes).astype(np.int64)


def _cells_standardised(
    targets: Any, one: xr.Dataset, name: str, unit: str, column: str
) -> np.ndarray:
    """A result's imputed cells of one level, standardised, in the sampler's order."""
    values = np.full(targets.observed.shape, np.nan)
    units = one[unit].to_numpy()
    names = one[column].to_numpy()
    data = one[name].to_numpy()
    for var in targets.variables:
        col = int(targets.columns(var.name)[0])
        sel = names == var.name
        values[units[sel], col] = (data[sel] - targets.center[col]) / targets.scale[col]
    return values


def _shifted(design: Design, draw: Draw, shift: Shift) -> Draw:
    """``draw`` with the shift added to the shifted dimensions' missing cells.

    The shift is per dimension of the joint layout, a draw per variable (a nominal
    variable has several dimensions, and comes first): ``dim_var`` maps one to the other.
    """
    level1 = draw.level1.copy()
    if shift.level1 is not None:
        missing = ~design.level1.observed
        for col in np.flatnonzero(shift.dims1):
            rows = missing[:, col]
            level1[rows, design.level1.dim_var[col]] += shift.level1[rows, col]
    level2 = draw.level2
    if shift.level2 is not None and level2 is not None and design.level2 is not None:
        level2 = level2.copy()
        t2 = design.level2.targets
        missing = ~t2.observed
        for col in np.flatnonzero(shift.dims2):
            rows = missing[:, col]
            level2[rows, t2.dim_var[col]] += shift.level2[rows, col]
    return Draw(level1=level1, level2=level2, effects=draw.effects)
