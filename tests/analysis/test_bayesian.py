"""Bayesian analysis with bambi on m = 10 brandsma sets: compiled once, data swapped per set."""

import numpy as np
import pytest

import jmimpute as jm

FORMULA = "lpo ~ iqv + (1|sch)"


@pytest.fixture(scope="module")
def both(brandsma_imputation):
    imp = brandsma_imputation.subset(range(1, 11))
    bayes = jm.analyze(imp, FORMULA, backend="bambi", random_seed=2, progressbar=False)
    freq = jm.analyze(imp, FORMULA, reml=False, progressbar=False)
    return bayes, freq


def test_compiled_once(both):
    bayes, _ = both
    assert bayes.m == 10
    assert bayes.timing.compiled_models == 1


def test_each_set_is_fitted_to_its_own_data(both):
    # If the data were not swapped, every set would give the same posterior up to Monte
    # Carlo error (about 0.002 for iqv), far below the spread between sets' ML estimates
    # (about 0.015); the per-set posterior means must follow the per-set ML estimates.
    bayes, freq = both
    post_means = bayes.posterior["posterior"]["iqv"].mean(("chain", "draw")).to_numpy()
    ml = freq.estimates()["iqv"].to_numpy()
    assert np.corrcoef(post_means, ml)[0, 1] > 0.8


def test_mixed_posterior_agrees_with_rubin_pooling(both):
    # The criterion: pooled posterior means within 1 pooled standard error of the
    # frequentist pooled estimates (weakly informative priors, 4106 rows).
    bayes, freq = both
    summary = bayes.summary()
    pooled = freq.pool().table
    for term in ("(Intercept)", "iqv"):
        assert (
            abs(summary.loc[term, "mean"] - pooled.loc[term, "estimate"])
            <= pooled.loc[term, "std_error"]
        )
    varcorr = freq.varcorr()
    for name in ("tau[(Intercept)]", "sigma2", "ICC"):
        assert summary.loc[name, "mean"] == pytest.approx(varcorr[name], rel=0.1)
    rubin = bayes.rubin().table
    assert rubin.loc["iqv", "estimate"] == pytest.approx(summary.loc["iqv", "mean"], abs=1e-9)


def test_rhat_is_reported_within_sets(both):
    bayes, _ = both
    rhat = bayes.rhat()
    assert rhat.shape[0] == 10 and "iqv" in rhat.columns
    assert (rhat.to_numpy() < 1.05).all()
    assert set(bayes.posterior["posterior"].sizes) >= {"imputation", "chain", "draw"}
    assert "max_r_hat_within_sets" in bayes.summary().columns


def test_bambi_argument_errors(brandsma_imputation):
    with pytest.raises(TypeError, match="unexpected arguments for the bambi backend"):
        jm.analyze(brandsma_imputation, FORMULA, backend="bambi", reml=False)
