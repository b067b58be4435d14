import numpy as np
import pymc as pm
import pytest

from jmimpute.backend.model import build_collapsed_model, build_latent_model
from jmimpute.backend.sampling import unpack_cholesky
from jmimpute.design import build_design
from jmimpute.spec.formula import parse_formula
from jmimpute.spec.priors import Priors
from jmimpute.suffstats import compute_stats
from jmimpute.testing import simulate_two_level


@pytest.fixture(scope="module")
def design():
    sim = simulate_two_level(n_clusters=8, cluster_size=6, p=2, seed=4)
    return build_design(sim.data, parse_formula("y1 + y2 ~ 1 + x + (1 + x|cluster)"))


def random_point(model, seed):
    rng = np.random.default_rng(seed)
    point = model.initial_point()
    return {k: v + rng.normal(0, 0.3, size=np.shape(v)) for k, v in point.items()}


def test_compiled_kernel_and_graph_give_the_same_model(design):
    stats = compute_stats(design.y, design.x, design.z, design.cluster, design.n_clusters)
    fast = build_collapsed_model(design, stats, Priors())
    slow = build_collapsed_model(design, stats, Priors(), compiled_kernel=False)
    mode = "FAST_COMPILE"  # pure Python: these are small and compile fastest so
    fast_logp, slow_logp = fast.compile_logp(mode=mode), slow.compile_logp(mode=mode)
    fast_dlogp, slow_dlogp = fast.compile_dlogp(mode=mode), slow.compile_dlogp(mode=mode)
    for seed in range(3):
        point = random_point(fast, seed)
        assert fast_logp(point) == pytest.approx(slow_logp(point), rel=1e-10)
        np.testing.assert_allclose(fast_dlogp(point), slow_dlogp(point), rtol=1e-8, atol=1e-8)


def test_latent_model_has_a_free_value_per_missing_cell(design):
    model = build_latent_model(design, Priors())
    point = model.initial_point()
    assert point["y_missing"].shape == (int(np.isnan(design.y).sum()),)
    assert point["u_raw"].shape == (design.n_clusters, design.r * design.p)
    assert np.isfinite(model.compile_logp(mode="FAST_COMPILE")(point))


def test_unpack_cholesky_matches_pymc():
    packed = np.arange(1.0, 7.0)
    expected = pm.math.expand_packed_triangular(3, packed, lower=True).eval()
    np.testing.assert_array_equal(unpack_cholesky(packed, 3), expected)
