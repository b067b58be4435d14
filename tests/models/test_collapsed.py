import numpy as np
import pandas as pd
import pytest
from pytensor.compile.mode import get_mode

from jmimpute.models.collapsed.build import build_collapsed_model
from jmimpute.models.joint.model import PER_UNIT
from jmimpute.models.joint.parameters import corr_cholesky
from jmimpute.models.latent import LatentModel
from jmimpute.models.latent.build import build_latent_model
from jmimpute.spec.priors import Priors

from ..helpers import design_for, small_data_with_binary


@pytest.fixture(scope="module")
def mixed_design():
    """Continuous, binary and nominal level-1 targets and a level-2 target."""
    rng = np.random.default_rng(0)
    data = small_data_with_binary(4, rng)
    data["c"] = pd.Categorical(rng.choice(list("xyz"), len(data))).astype(object)
    data.loc[rng.random(len(data)) < 0.2, "c"] = np.nan
    data["c"] = pd.Categorical(data["c"])
    w = rng.normal(size=8)
    data["w"] = w[data["cluster"]]
    data.loc[data["cluster"].isin([1, 5]), "w"] = np.nan
    return design_for(
        data,
        # small enough for PyTensor's Python mode, whose elementwise ops take <= 32 operands
        ["y1 + b + c ~ 1 + x + (1|cluster)", "w ~ 1"],
        categorical=["b"],
    )


# pure Python evaluation (fastest to compile); without fusion, whose Python implementation
# takes at most 32 operands
PYTHON = get_mode("FAST_COMPILE").excluding("fusion")


def evaluate(model, var, point):
    import pytensor

    out = model.replace_rvs_by_values([var])[0]
    inputs = model.value_vars
    fn = pytensor.function(inputs, out, mode=PYTHON, on_unused_input="ignore")
    return fn(*[point[v.name] for v in inputs])


def random_point(model, seed):
    rng = np.random.default_rng(seed)
    point = model.initial_point()
    return {k: v + rng.normal(0, 0.3, size=np.shape(v)) for k, v in point.items()}


def test_compiled_kernel_and_graph_give_the_same_model(mixed_design):
    fast = build_collapsed_model(mixed_design, Priors()).model
    slow = build_collapsed_model(mixed_design, Priors(), compiled_kernel=False).model
    mode = PYTHON
    fast_logp, slow_logp = fast.compile_logp(mode=mode), slow.compile_logp(mode=mode)
    fast_dlogp, slow_dlogp = fast.compile_dlogp(mode=mode), slow.compile_dlogp(mode=mode)
    for seed in range(3):
        point = random_point(fast, seed)
        assert fast_logp(point) == pytest.approx(slow_logp(point), rel=1e-10)
        np.testing.assert_allclose(fast_dlogp(point), slow_dlogp(point), rtol=1e-7, atol=1e-7)


def test_nominal_block_has_jomo_covariance(mixed_design):
    model = build_collapsed_model(mixed_design, Priors()).model
    sigma = evaluate(model, model["sigma_s"], random_point(model, 1))
    dims = list(mixed_design.level1.dims)
    block = [dims.index("c[y]"), dims.index("c[z]")]
    np.testing.assert_allclose(sigma[np.ix_(block, block)], [[1.0, 0.5], [0.5, 1.0]], atol=1e-12)
    assert sigma[dims.index("b"), dims.index("b")] == pytest.approx(1.0)
    assert dims[:2] == ["c[y]", "c[z]"]  # the nominal block leads


def test_latent_model_has_a_free_value_per_missing_value(mixed_design):
    model = build_latent_model(mixed_design, Priors()).model
    point = model.initial_point()
    assert point["y_missing"].shape == (int((~mixed_design.level1.observed).sum()),)
    assert point["w_missing"].shape == (int((~mixed_design.level2.targets.observed).sum()),)
    assert point["u_s"].shape == (mixed_design.n_clusters, mixed_design.d)
    assert np.isfinite(model.compile_logp(mode=PYTHON)(point))


def test_corr_cholesky_gives_unit_rows_and_the_lkj_density():
    # n = 2: the one partial correlation is the correlation, LKJ(eta) density (1 - r^2)^(eta-1)
    import pymc as pm

    with pm.Model() as model:
        factor = corr_cholesky("r", 3, eta=2.0, zero_block=2)
    low = evaluate(model, factor, random_point(model, 0))
    np.testing.assert_allclose((low**2).sum(axis=1), 1.0)
    assert low[1, 0] == 0.0  # the fixed block: zero correlation between dims 0 and 1
    assert np.allclose(np.triu(low, 1), 0.0)


@pytest.mark.parametrize("builder", [build_collapsed_model, build_latent_model])
def test_checkpoints_judge_every_parameter_and_no_per_unit_value(mixed_design, builder):
    """``BuiltModel.judged``: what the checkpoints read, the kept variables less the bulky ones."""
    built = builder(mixed_design, Priors())
    model, judged = built.model, set(built.judged)
    per_unit = set(PER_UNIT) | set(LatentModel.per_unit)
    assert {"beta_s", "sigma_s", "psi_s", "gamma_s"} <= judged
    assert not judged & per_unit
    assert judged | (set(built.keep) & per_unit) == set(built.keep)
    # what is left out is per row or per cluster
    for name in set(built.keep) - judged:
        assert model[name].type.shape[0] in (
            mixed_design.n_clusters,
            int((~mixed_design.level1.observed).sum()),
            int((~mixed_design.level2.targets.observed).sum()),
            mixed_design.level1.latent_cells[0].size,
            mixed_design.level2.targets.latent_cells[0].size,
        ), name
