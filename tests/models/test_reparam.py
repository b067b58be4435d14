"""The collapsed model's reparametrised coordinates give the same density as the plain ones.

The maps of :mod:`jmimpute.models.joint.reparam` are linear with a constant Jacobian (0 in
log), so the log-density at a point of the plain coordinates and at its image must agree
exactly, constants included, and so must the gradients through the chain rule.
"""

import numpy as np
import pytest

from jmimpute.models.collapsed.build import build_collapsed_model
from jmimpute.models.joint.reparam import effects_on_level2
from jmimpute.spec.priors import Priors

from ..helpers import design_for, small_data_with_binary
from .test_collapsed import PYTHON, evaluate, random_point


@pytest.fixture(scope="module")
def contextual_design():
    """A binary level-1 target and a level-2 target with a cluster mean as covariate."""
    rng = np.random.default_rng(1)
    data = small_data_with_binary(5, rng)
    data["ybar"] = (
        data.groupby("cluster")["y1"].transform("mean") + 0.1 * rng.normal(size=8)[data["cluster"]]
    )
    w = rng.normal(size=8)
    data["w"] = w[data["cluster"]]
    data.loc[data["cluster"].isin([2, 6]), "w"] = np.nan
    return design_for(data, ["y1 + b ~ 1 + x + (1|cluster)", "w ~ 1 + ybar"], categorical=["b"])


def test_level2_covariate_predicts_the_continuous_random_intercept(contextual_design):
    design = contextual_design
    e_map = effects_on_level2(design)
    assert e_map.shape == (2, design.d)
    v, effects = design.level2.v_names, design.effect_names
    assert e_map[v.index("ybar"), effects.index("y1|(Intercept)")] > 0.5
    # no intercept row, no column for the latent target
    assert not e_map[v.index("(Intercept)")].any()
    assert not e_map[:, effects.index("b|(Intercept)")].any()


def _image(plain_model, new_model, design, point):
    """The plain point in the new coordinates (each cluster's deviations averaging 0)."""
    out = {k: v for k, v in point.items() if k in {v.name for v in new_model.value_vars}}
    codes = design.level1.codes["b"]
    seen = np.flatnonzero(codes >= 0)
    sign = np.where(codes[seen] == 1, 1.0, -1.0)
    b = sign * point["raw_b"][:, 0]
    _, index = np.unique(design.cluster[seen], return_inverse=True)
    shift = np.bincount(index, b) / np.bincount(index)
    out["raw_b_shift"], out["raw_b_dev"] = shift, b - shift[index]
    psi = evaluate(plain_model, plain_model["psi_s"], point)
    d = design.d
    regression = np.linalg.solve(psi[:d, :d], psi[:d, d:])
    out["gamma_total_s"] = point["gamma_s"] + effects_on_level2(design) @ regression
    return out, sign, index


def test_same_density_and_gradient_in_both_coordinates(contextual_design):
    design = contextual_design
    plain = build_collapsed_model(design, Priors(), reparametrised=False).model
    new = build_collapsed_model(design, Priors()).model
    names = {v.name for v in new.value_vars}
    assert {"raw_b_shift", "raw_b_dev", "gamma_total_s"} <= names
    assert not {"raw_b", "gamma_s"} & names
    plain_logp, new_logp = plain.compile_logp(mode=PYTHON), new.compile_logp(mode=PYTHON)
    plain_grad = plain.compile_dlogp(mode=PYTHON, jacobian=True)
    new_grad = new.compile_dlogp(mode=PYTHON, jacobian=True)

    def split(model, flat):
        sizes = [int(np.prod(model.initial_point()[v.name].shape)) for v in model.value_vars]
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        return {v.name: part for v, part in zip(model.value_vars, parts, strict=True)}

    for seed in range(3):
        point = random_point(plain, seed)
        image, sign, index = _image(plain, new, design, point)
        assert new_logp(image) == pytest.approx(plain_logp(point), rel=1e-10)
        g_plain, g_new = split(plain, plain_grad(point)), split(new, new_grad(image))
        g_raw = sign * g_plain["raw_b"]
        # d/d shift_j: the cluster's sum; gamma_total enters only through gamma
        np.testing.assert_allclose(g_new["raw_b_shift"], np.bincount(index, g_raw), rtol=1e-7)
        np.testing.assert_allclose(g_new["gamma_total_s"], g_plain["gamma_s"], rtol=1e-7)
