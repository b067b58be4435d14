"""Cluster-specific level-1 covariances end to end (``cluster_covariance="random"``).

A short run checks the invariants, what the result keeps and that its imputations can be
re-drawn exactly (no convergence needed); the recovery of known parameters is ``slow``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import jmimpute as jm
from jmimpute.sensitivity_analysis import shifted
from jmimpute.testing import simulate_two_level

from .helpers import assert_intervals_cover


@pytest.fixture(scope="module")
def sim():
    return simulate_two_level(n_clusters=30, cluster_size=15, p=2, seed=4, cluster_df=8.0)


@pytest.fixture(scope="module")
def short(sim):
    before = sim.data.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        imp = jm.impute(
            sim.data, sim.formula, cluster_covariance="random", m=3, chains=2, tune=100,
            draws=100, random_seed=5, progressbar=False,
        )  # fmt: skip
    return before, imp


def test_data_untouched_and_observed_values_kept(sim, short):
    before, imp = short
    assert sim.data.equals(before)
    observed = before.notna()
    for completed in imp.complete("all"):
        assert completed[["y1", "y2"]].notna().all().all()
        for col in ("y1", "y2"):
            np.testing.assert_array_equal(
                completed.loc[observed[col], col], before.loc[observed[col], col]
            )


def test_result_keeps_the_spread_and_each_clusters_covariance(sim, short):
    _, imp = short
    assert imp.spec.cluster_covariance == "random" and imp.spec.sampler.backend == "jax"
    for group in ("posterior", "standardised_posterior"):
        spread = imp.tree[group]["sigma_spread"].to_numpy()
        assert spread.shape == (2, 100) and (spread > 0).all()
    assert "sigma_spread" in imp.convergence().index
    covs = imp.tree["imputations"]["sigma_cluster_s"].to_numpy()
    assert covs.shape == (3, 30, 2, 2)
    np.testing.assert_allclose(covs, np.swapaxes(covs, -1, -2))
    assert (np.linalg.eigvalsh(covs) > 0).all()


def test_imputations_redraw_exactly_from_a_loaded_result(short, tmp_path):
    _, imp = short
    np.testing.assert_array_equal(shifted(imp, "y1", 0.0).imputed, imp.imputed)
    loaded = jm.load_imputation(imp.to_netcdf(tmp_path / "random.nc"))
    moved = shifted(loaded, "y1", 1.5)
    np.testing.assert_array_equal(moved.imputed, shifted(imp, "y1", 1.5).imputed)
    np.testing.assert_array_equal(shifted(loaded.subset([2]), "y1", 0.0).imputed, imp.imputed[[1]])


def test_categorical_level1_targets_are_refused(sim):
    data = sim.data.assign(g=np.where(sim.data["x"] > 0, "a", "b"))
    data.loc[::7, "g"] = None
    with pytest.raises(ValueError, match=r"needs continuous level-1 targets.*\['g'\]"):
        jm.impute(data, "y1 + g ~ 1 + x + (1|cluster)", categorical=["g"],
                  cluster_covariance="random")  # fmt: skip


# -- recovery (slow) ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def recovery():
    sim = simulate_two_level(
        n_clusters=80, cluster_size=20, p=2, seed=7, random_slope=True, cluster_df=8.0
    )
    imp = jm.impute(
        sim.data, sim.formula, cluster_covariance="random", m=20, random_seed=2,
        progressbar=False,
    )  # fmt: skip
    return sim, imp


def _truth(sim, imp):
    post = imp.posterior
    pairs = {"sigma_spread": (post["sigma_spread"], sim.sigma_spread)}
    for name, true in (("beta", sim.beta), ("sigma", sim.sigma), ("psi", sim.psi)):
        da = post[name]
        for idx in np.ndindex(*true.shape):
            if name != "beta" and idx[1] > idx[0]:
                continue
            pairs[f"{name}{list(idx)}"] = (da[{da.dims[2]: idx[0], da.dims[3]: idx[1]}], true[idx])
    return {k: (v.to_numpy().ravel(), t) for k, (v, t) in pairs.items()}


@pytest.mark.slow
def test_random_covariance_model_recovers_the_truth(recovery):
    sim, imp = recovery
    assert_intervals_cover(_truth(sim, imp))  # 95% intervals, binomial allowance, |z| < 4


@pytest.mark.slow
def test_converged_with_the_defaults(recovery):
    _, imp = recovery
    table = imp.rhat()
    assert table["ok"].all(), table.to_string()


@pytest.mark.slow
def test_cluster_covariances_follow_the_true_ones(recovery):
    # With 20 rows a cluster, the sampling sd of a log variance is about sqrt(2 / 19) =
    # 0.32 against a spread of the true log variances near 0.5 (nu = 8), so the posterior
    # means should correlate with the truth near 0.85; the standard error of a
    # correlation over 80 clusters is about 0.03, and 0.6 leaves a wide margin.
    sim, imp = recovery
    std = imp.tree["imputations"]["sigma_cluster_s"].to_numpy().mean(axis=0)
    scale = np.asarray(imp.tree["standardised_posterior"].attrs["y_scale"])
    fitted = np.log(std[:, 0, 0] * scale[0] ** 2)
    true = np.log(sim.sigma_cluster[:, 0, 0])
    assert np.corrcoef(fitted, true)[0, 1] > 0.6


def test_diagnostics_and_plots_include_the_spread(short):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, imp = short
    assert imp.convergence().loc["sigma_spread", "group"] == "level-1 covariance"
    text = str(imp.summary())
    assert "level-1 covariance" in text and "cluster-specific level-1 covariances" in text
    for plot in (jm.plots.plot_trace, jm.plots.plot_rank):
        fig = plot(imp, var_names=["sigma_spread", "sigma"])
        assert fig.axes
        plt.close(fig)
