"""The collapsed sampler and the explicit-latent reference sample the same posterior.

brandsma `lpo + iqv ~ 1 + (1|sch)`, simulated data with cluster-specific level-1
covariances (``cluster_covariance="random"``), and simulated categorical targets at both
levels; each with defaults (at least 4 x 1000 draws). Each posterior mean must
agree within 4 combined Monte Carlo standard errors (sd / sqrt(bulk ESS) per method); each
posterior sd within 4 combined relative standard errors of an sd estimate
(:func:`sd_relative_se`: sqrt(1 / (2 ESS)) for normal draws, more for a skewed
posterior such as a variance's). The imputed values are compared through the mean imputed
value per variable and imputation: the two sets of m = 40 means must agree within 4
standard errors of their difference.
"""

import numpy as np
import pytest
from arviz_stats.base import array_stats

import jmimpute as jm

FORMULA = "lpo + iqv ~ 1 + (1|sch)"
M = 40


@pytest.fixture(scope="module")
def pair():
    data = jm.datasets.load_brandsma()
    kwargs = {"m": M, "random_seed": 3, "progressbar": False}
    return (
        jm.impute(data, FORMULA, method="collapsed", **kwargs),
        jm.impute(data, FORMULA, method="latent", **kwargs),
    )


def flat_parameters(imp):
    post = imp.posterior
    out = {}
    for var in ("beta", "sigma", "psi", "sigma_spread"):
        if var not in post:
            continue
        values = post[var].transpose("chain", "draw", ...).to_numpy()
        for idx in np.ndindex(*values.shape[2:]):
            out[f"{var}{list(idx)}" if idx else var] = values[(slice(None), slice(None), *idx)]
    return out


def sd_relative_se(x: np.ndarray) -> float:
    """Monte Carlo relative standard error of the sd of draws ``x`` (chain, draw).

    By the delta method from the squared deviations' mean and their own ESS:
    ``sd((x - m)^2) / (2 mean((x - m)^2) sqrt(ESS))``; ``1 / sqrt(2 ESS)`` for normal draws,
    larger for the heavy right tail of a variance's posterior.
    """
    dev2 = (x - x.mean()) ** 2
    ess = float(array_stats.ess(dev2, chain_axis=0, draw_axis=1, method="mean"))
    return float(dev2.std() / (2.0 * dev2.mean() * np.sqrt(ess)))


@pytest.fixture(scope="module")
def random_pair():
    """Cluster-specific covariances: simulated data small enough for the latent model."""
    from jmimpute.testing import simulate_two_level

    sim = simulate_two_level(n_clusters=40, cluster_size=15, p=2, seed=9, cluster_df=8.0)
    kwargs = {"m": 10, "random_seed": 4, "progressbar": False, "cluster_covariance": "random"}
    return (
        jm.impute(sim.data, sim.formula, method="collapsed", **kwargs),
        jm.impute(sim.data, sim.formula, method="latent", **kwargs),
    )


@pytest.fixture(scope="module")
def categorical_pair():
    """Binary, ordinal and nominal level-1 targets and a binary level-2 one (jomo's latent
    normals): the posterior that issue 21's changes to the categorical coordinates keep."""
    from jmimpute.testing import simulate_joint

    sim = simulate_joint(n_clusters=40, cluster_size=10, seed=5)
    kwargs = {"m": 10, "random_seed": 6, "progressbar": False}
    return (
        jm.impute(sim.data, sim.formula, method="collapsed", **kwargs),
        jm.impute(sim.data, sim.formula, method="latent", **kwargs),
    )


@pytest.mark.slow
@pytest.mark.parametrize("which", ["pair", "random_pair", "categorical_pair"])
def test_parameter_posteriors_agree(which, request):
    collapsed, latent = (flat_parameters(imp) for imp in request.getfixturevalue(which))
    assert ("sigma_spread" in collapsed) == (which == "random_pair")
    for name, a in collapsed.items():
        b = latent[name]
        if a.std() == 0.0 or b.std() == 0.0:  # fixed by the model (a latent's variance)
            np.testing.assert_array_equal(np.unique(a), np.unique(b))
            continue
        ess_a, ess_b = (
            float(array_stats.ess(x, chain_axis=0, draw_axis=1, method="bulk")) for x in (a, b)
        )
        se_mean = np.hypot(a.std() / np.sqrt(ess_a), b.std() / np.sqrt(ess_b))
        assert abs(a.mean() - b.mean()) <= 4 * se_mean, name
        rel_se_sd = np.hypot(sd_relative_se(a), sd_relative_se(b))
        assert abs(a.std() / b.std() - 1) <= 4 * rel_se_sd, name


@pytest.mark.slow
def test_imputed_values_agree(pair):
    collapsed, latent = pair
    for variable in ("lpo", "iqv"):
        means = []
        for imp in (collapsed, latent):
            cells = imp.imputed.where(imp.imputed["column"] == variable, drop=True)
            means.append(cells.mean("cell").to_numpy())
        a, b = means
        se = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(M)
        assert abs(a.mean() - b.mean()) <= 4 * se, (variable, a.mean(), b.mean(), se)


@pytest.mark.slow
def test_latent_results_redraw_from_the_exact_conditionals(pair):
    """A sensitivity re-draw of a latent-method result uses the exact conditionals.

    At delta = 0 the re-drawn cells are new draws at the same retained parameter draws, so
    their mean per imputation agrees with the NUTS-sampled cells' in distribution (same
    4-standard-error rule as above); a shift of lpo moves its cells by exactly delta.
    """
    from jmimpute.sensitivity_analysis import shifted

    latent = pair[1]
    again, moved = shifted(latent, "lpo", 0.0), shifted(latent, "lpo", 3.0)
    for variable in ("lpo", "iqv"):
        sel = latent.imputed["column"].to_numpy() == variable
        a = latent.imputed.to_numpy()[:, sel].mean(axis=1)
        b = again.imputed.to_numpy()[:, sel].mean(axis=1)
        assert not np.array_equal(a, b)
        se = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(M)
        assert abs(a.mean() - b.mean()) <= 4 * se, (variable, a.mean(), b.mean(), se)
    sel = latent.imputed["column"].to_numpy() == "lpo"
    np.testing.assert_allclose(
        moved.imputed.to_numpy()[:, sel] - again.imputed.to_numpy()[:, sel], 3.0, atol=1e-9
    )
