"""The convergence report: verdict logic on synthetic trees, then on real (short) runs."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import jmimpute as jm
from jmimpute.diagnostics import (
    ESS_MIN,
    ConvergenceReport,
    convergence_report,
    parameter_table,
    unique_parameters,
)
from jmimpute.models.joint.model import GROUPS

CHAINS, DRAWS = 4, 500


def synthetic_tree(
    *, shift=0.0, walk=False, diverging=0, depth_hits=0, stats="nutpie", seed=0
) -> xr.DataTree:
    """iid draws (R-hat ~ 1, ESS ~ 2000) of beta, sigma, psi; optional defects.

    ``shift`` moves chain 0 of beta[(Intercept), a] (R-hat up); ``walk`` makes
    psi[a, a] a random walk (ESS down); ``diverging`` and ``depth_hits`` flag that many
    transitions; ``stats`` names the sampler whose sample-stat names are used (or None).
    """
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=(CHAINS, DRAWS, 1, 2))
    beta[0, :, 0, 0] += shift
    sigma = np.tile(np.array([[1.0, 0.3], [0.3, 1.0]]), (CHAINS, DRAWS, 1, 1))
    sigma += rng.normal(scale=0.05, size=sigma.shape)
    sigma[..., 0, 1] = sigma[..., 1, 0]  # symmetric: the upper triangle is no parameter
    psi = np.tile(np.eye(2), (CHAINS, DRAWS, 1, 1)) + rng.normal(
        scale=0.05, size=(CHAINS, DRAWS, 2, 2)
    )
    psi[..., 0, 1] = psi[..., 1, 0]
    if walk:
        psi[..., 0, 0] = 1.0 + np.cumsum(rng.normal(scale=0.05, size=(CHAINS, DRAWS)), axis=1)
    sample = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)}
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "covariate", "variable"), beta, GROUPS["beta"].attrs()),
            "sigma": (("chain", "draw", "variable", "variable_2"), sigma, GROUPS["sigma"].attrs()),
            "psi": (("chain", "draw", "effect", "effect_2"), psi, GROUPS["psi"].attrs()),
        },
        coords=sample
        | {
            "covariate": ["(Intercept)"],
            "variable": ["a", "b"],
            "variable_2": ["a", "b"],
            "effect": ["a", "b"],
            "effect_2": ["a", "b"],
        },
    )
    div = np.zeros((CHAINS, DRAWS), dtype=bool)
    div.flat[rng.choice(div.size, diverging, replace=False)] = True
    hit = np.zeros((CHAINS, DRAWS), dtype=bool)
    hit.flat[rng.choice(hit.size, depth_hits, replace=False)] = True
    groups = {"posterior": posterior}
    if stats == "nutpie":
        ds = xr.Dataset(
            {
                "diverging": (("chain", "draw"), div),
                "maxdepth_reached": (("chain", "draw"), hit),
                "depth": (("chain", "draw"), np.where(hit, 10, 3)),
            },
            coords=sample,
        )
        ds.attrs["inference_library_settings"] = json.dumps({"settings": {"maxdepth": 10}})
        groups["sample_stats"] = ds
    elif stats == "pymc":
        groups["sample_stats"] = xr.Dataset(
            {
                "diverging": (("chain", "draw"), div),
                "reached_max_treedepth": (("chain", "draw"), hit),
                "tree_depth": (("chain", "draw"), np.where(hit, 10, 3)),
            },
            coords=sample,
        )
    return xr.DataTree.from_dict(groups)


def report_of(tree, **kwargs) -> ConvergenceReport:
    return convergence_report(tree, tune=1000, target_accept=0.8, **kwargs)


# -- verdict logic, no sampling ----------------------------------------------------------
def test_unique_parameters_drop_upper_triangle_and_fixed_entries():
    tree = synthetic_tree()
    post = tree["posterior"].to_dataset()
    post["sigma"][..., 1, 1] = 1.0  # a latent scale, fixed by construction
    names = list(unique_parameters(post))
    assert "sigma[b, a]" in names and "sigma[a, b]" not in names
    assert "sigma[b, b]" not in names
    assert "beta[(Intercept), b]" in names  # beta is not symmetric: both columns kept
    assert len(names) == 2 + 2 + 3


def test_gamma_keeps_every_column():
    post = synthetic_tree()["posterior"].to_dataset()
    rng = np.random.default_rng(1)
    post["gamma"] = (
        ("chain", "draw", "covariate2", "variable2"),
        rng.normal(size=(4, 500, 1, 3)),
        GROUPS["gamma"].attrs(),
    )
    post = post.assign_coords(covariate2=["(Intercept)"], variable2=["d2", "d3", "d4"])
    table = parameter_table(post)
    assert (table["group"] == "level-2 fixed effects").sum() == 3


def test_a_parameter_without_a_declared_group_is_judged_under_its_own_name():
    """No variable of the posterior escapes the checks, declared or not."""
    post = synthetic_tree()["posterior"].to_dataset()
    post["extra"] = (("chain", "draw"), np.random.default_rng(2).normal(size=(CHAINS, DRAWS)))
    table = parameter_table(post)
    assert table.loc["extra", "group"] == "extra"
    assert np.isfinite(table.loc["extra", "r_hat"])


def test_clean_tree_passes_with_a_positive_verdict():
    report = report_of(synthetic_tree())
    assert report.ok and report.converged
    assert report.advice == () and report.notes == ()
    assert set(report.table.index) == {
        "fixed effects",
        "level-1 covariance",
        "cluster covariance",
    }
    text = str(report)
    assert text.count("Converged: every R-hat") == 1
    assert "Divergent transitions: 0 of 2000" in text
    assert "At the maximum tree depth (10): 0 of 2000" in text
    assert "style='color:green'" in report._repr_html_()


def test_high_rhat_names_group_parameter_and_tune():
    report = report_of(synthetic_tree(shift=1.0))
    assert not report.ok and not report.converged
    assert report.table.loc["fixed effects", "worst_r_hat"] == "beta[(Intercept), a]"
    assert report.table.loc["fixed effects", "max_r_hat"] > 1.01
    (advice,) = [a for a in report.advice if a.startswith("R-hat")]
    assert "beta[(Intercept), a] (fixed effects)" in advice
    assert "`tune` (now 1000; try 2000)" in advice and "plot_trace" in advice
    assert "NOT converged in fixed effects" in str(report)


def test_low_ess_estimates_the_draws_needed():
    report = report_of(synthetic_tree(walk=True))
    assert not report.converged
    worst = report.table.loc["cluster covariance"]
    assert worst["worst_ess_bulk"] == "psi[a, a]"
    ess = report.min_ess
    assert ess < ESS_MIN
    (advice,) = [a for a in report.advice if "ESS" in a and "Raise `draws`" in a]
    needed = int(np.ceil(DRAWS * ESS_MIN / ess / 100) * 100)
    assert f"from {DRAWS} to about {needed} per chain" in advice
    assert "psi[a, a]" in advice


@pytest.mark.parametrize("stats", ["nutpie", "pymc"])
def test_divergences_advise_target_accept(stats):
    report = report_of(synthetic_tree(diverging=7, stats=stats))
    assert report.converged and not report.ok
    assert report.stats.divergent == 7
    (advice,) = report.advice
    assert advice.startswith("7 of 2000 transitions after warm-up diverged")
    assert "`target_accept=0.95` (now 0.8)" in advice and "priors=jm.Priors" in advice
    assert "Converged by R-hat" in str(report) and "style='color:#b00'" in report._repr_html_()


def test_divergences_at_high_target_accept_advise_higher_still():
    report = convergence_report(synthetic_tree(diverging=1), target_accept=0.95)
    assert "`target_accept=0.99`" in report.advice[0]


@pytest.mark.parametrize("stats", ["nutpie", "pymc"])
def test_tree_depth_saturation_is_reported(stats):
    report = report_of(synthetic_tree(depth_hits=12, stats=stats))
    assert not report.ok
    (advice,) = report.advice
    assert advice.startswith("12 of 2000 transitions (0.6%) stopped at the maximum tree depth")
    assert ("(10)" in advice) == (stats == "nutpie")  # only nutpie records the limit


def test_missing_sample_stats_are_said_not_silently_passed():
    report = report_of(synthetic_tree(stats=None))
    assert report.converged and report.ok
    assert any("Divergences were not recorded" in n for n in report.notes)
    text = str(report)
    assert "Divergent transitions: not recorded" in text and "not checked" in text


def test_tree_without_posterior_is_rejected():
    with pytest.raises(ValueError, match=r"'posterior' group.*imp\.tree"):
        convergence_report(xr.DataTree())


# -- real runs ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_run(brandsma_imputation):
    """Deliberately under-tuned: 2 chains, 20 warm-up and 30 draws.

    brandsma ``lpo + iqv ~ 1 + (1|sch)`` sampled again through the session's compiled
    model (``refit`` equals a fresh ``jm.impute`` with these settings bit for bit, see
    tests/test_sensitivity.py), which saves a compile in the default run.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return brandsma_imputation.refit(
            m=3, chains=2, tune=20, draws=30, random_seed=3, progressbar=False
        )


def test_under_tuned_run_is_flagged_with_advice(short_run):
    report = short_run.convergence_report()
    assert not report.ok and not report.converged
    assert report.chains == 2 and report.draws == 30 and report.tune == 20
    assert report.stats.divergent is not None and report.stats.max_depth_hits is not None
    assert report.stats.max_depth == 10
    text = str(report)
    assert "NOT converged" in text and "Raise `draws` from 30 to about" in text
    if report.max_r_hat > 1.01:
        assert "`tune` (now 20; try 1000)" in text
    summary = short_run.summary()
    assert not summary.converged
    assert "NOT converged" in str(summary) and "NOT converged" in short_run._repr_html_()
    # the older tables still work
    assert set(short_run.rhat().index) <= set(report.table.index) | {"thresholds"}
    assert "r_hat" in short_run.convergence().columns


@pytest.mark.slow
def test_default_run_passes(brandsma_imputation):
    # defaults: 4 chains, 1000 warm-up, 1000 draws
    report = brandsma_imputation.convergence_report()
    assert report.converged, str(report)
    assert report.stats.divergent == 0, str(report)
    assert "Converged" in str(brandsma_imputation.summary())
