import pytest

from jmimpute.spec.model import build_spec
from jmimpute.spec.priors import Priors


def test_defaults():
    spec = build_spec("y ~ 1 + (1|g)")
    assert spec.m == 10
    assert spec.sampler.sampler == "nutpie"
    assert spec.sampler.backend == "numba"
    assert spec.cluster == "g"
    assert spec.targets == ("y",)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"m": 0}, ValueError, "`m` must be an integer >= 1"),
        ({"m": 2.5}, TypeError, "`m` must be an integer"),
        ({"m": True}, TypeError, "`m` must be an integer"),
        ({"chains": 0}, ValueError, "`chains`"),
        ({"draws": -1}, ValueError, "`draws`"),
        ({"tune": -1}, ValueError, "`tune` must be an integer >= 0"),
        ({"m": 50, "chains": 2, "draws": 20}, ValueError, "raise `draws` to at least 25"),
        ({"method": "gibbs"}, ValueError, "`method` must be one of 'collapsed', 'latent'"),
        ({"sampler": "stan"}, ValueError, "`sampler` must be one of"),
        ({"backend": "torch"}, ValueError, "`backend` must be one of 'numba', 'jax'"),
        ({"priors": {"beta_sd": 1}}, TypeError, "jmimpute.Priors"),
        ({"target_accept": 1.5}, ValueError, "`target_accept`"),
        ({"cores": 0}, ValueError, "`cores`"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_spec("y ~ 1 + (1|g)", **kwargs)


def test_formula_without_cluster():
    with pytest.raises(ValueError, match=r"no random term naming the cluster variable"):
        build_spec("y ~ 1 + x")


def test_formula_wrong_type():
    with pytest.raises(TypeError, match="`formula` must be a string"):
        build_spec(42)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan")])
def test_priors_must_be_positive(value):
    with pytest.raises(ValueError, match=r"Priors\(psi_sd="):
        Priors(psi_sd=value)


def test_priors_type():
    with pytest.raises(TypeError, match=r"Priors\(beta_sd=...\) must be a positive number"):
        Priors(beta_sd="wide")  # type: ignore[arg-type]


def test_cluster_covariance_choice_and_its_default_backend():
    spec = build_spec("y1 + y2 ~ 1 + (1|g)", cluster_covariance="random")
    assert spec.cluster_covariance == "random"
    assert spec.sampler.backend == "jax"  # the graph model compiles in seconds with JAX
    assert build_spec("y1 + y2 ~ 1 + (1|g)").sampler.backend == "numba"
    chosen = build_spec("y1 + y2 ~ 1 + (1|g)", cluster_covariance="random", backend="numba")
    assert chosen.sampler.backend == "numba"
    with pytest.raises(ValueError, match=r"cluster_covariance"):
        build_spec("y1 + y2 ~ 1 + (1|g)", cluster_covariance="full")


def test_nuts_defaults_follow_the_model_and_yield_to_given_values():
    # the collapsed model with a common covariance samples no random effects or cluster
    # covariances (no funnel): shorter warm-up and larger steps; the others keep 1000, 0.8
    plain = build_spec("y1 + y2 ~ 1 + (1|g)").sampler
    assert (plain.tune, plain.target_accept) == (500, 0.65)
    # the augmented model's NUTS target is the collapsed likelihood of the completed data
    augmented = build_spec("y1 + y2 ~ 1 + (1|g)", categorical=["y2"], method="augmented")
    assert (augmented.sampler.tune, augmented.sampler.target_accept) == (500, 0.65)
    for options in ({"method": "latent"}, {"cluster_covariance": "random"}):
        settings = build_spec("y1 + y2 ~ 1 + (1|g)", **options).sampler
        assert (settings.tune, settings.target_accept) == (1000, 0.8), options
    given = build_spec("y1 + y2 ~ 1 + (1|g)", tune=700, target_accept=0.9).sampler
    assert (given.tune, given.target_accept) == (700, 0.9)
    latent = build_spec("y1 + y2 ~ 1 + (1|g)", method="latent", tune=0).sampler
    assert (latent.tune, latent.target_accept) == (0, 0.8)
