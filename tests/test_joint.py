"""The full joint model end to end: categorical, ordinal and level-2 targets.

Simulated from the model with known parameters (:func:`jmimpute.testing.simulate_joint`).
The invariants need no convergence and run by default on a short run; recovery of the
parameters and of the imputed category shares needs a converged run and is ``slow``.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm

from .helpers import assert_intervals_cover

SEED = 11  # the seed of joint_short in conftest.py too


def impute(sim, **kwargs):
    return jm.impute(sim.data, sim.formula, random_seed=SEED, progressbar=False, **kwargs)


@pytest.fixture(scope="module")
def sim(joint_sim):
    return joint_sim


@pytest.fixture(scope="module")
def short(joint_short):
    # m=4, chains=2, tune=150, draws=100, seed SEED (conftest, shared with the sensitivity tests)
    return joint_short


# -- invariants (default run) ------------------------------------------------------------
def test_input_unchanged_and_observed_cells_identical(sim, short):
    before, imp = short
    pd.testing.assert_frame_equal(sim.data, before)
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert done.notna().all().all()
        for col in sim.data.columns:
            seen = before[col].notna().to_numpy()
            pd.testing.assert_series_equal(done[col][seen], before[col][seen], check_names=False)


def test_dtypes_and_levels_restored(sim, short):
    _, imp = short
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert done["n"].dtype == sim.data["n"].dtype  # same categories, same order
        assert done["o"].dtype == sim.data["o"].dtype and done["o"].cat.ordered
        assert done["b"].dtype == sim.data["b"].dtype
        assert done["c"].dtype == sim.data["c"].dtype
        assert set(done["n"].unique()) <= {"a", "b", "c"}
        assert set(done["b"].unique()) <= {True, False}


def test_level2_constant_within_clusters(short):
    _, imp = short
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert (done.groupby("cluster")[["w", "c"]].nunique() == 1).all().all()


def test_imputations_vary_between_sets(sim, short):
    _, imp = short
    sets = imp.complete("all")
    for col in ["y", "b", "n", "o", "w", "c"]:
        miss = sim.data[col].isna().to_numpy()
        values = [s[col][miss].astype(str).to_numpy() for s in sets]
        assert any((values[0] != v).any() for v in values[1:]), col


def test_same_seed_same_imputations(sim, short):
    """Same seed, same draws and imputations (the compiled model is reused; that a fresh
    compile gives the same draws too is tested in test_sensitivity.py)."""
    _, imp = short
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        again = imp.refit()
    assert again.tree.attrs["compiled_from"] == "process"
    for k in (1, 4):
        pd.testing.assert_frame_equal(imp.complete(k), again.complete(k))


# -- recovery (slow) ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def full(sim):
    # the defaults: draws until converged (test_converged), at most 5000 per chain
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return impute(sim, m=20)


def _draws(imp, name):
    post = imp.posterior.dataset
    var, _, rest = name.partition("[")
    labels, depth, start = [], 0, 0  # split "a,n[b]" at top-level commas only
    body = rest[:-1]
    for i, ch in enumerate(body):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            labels.append(body[start:i])
            start = i + 1
    labels.append(body[start:])
    da = post[var]
    sel = dict(zip([d for d in da.dims if d not in ("chain", "draw")], labels, strict=True))
    if var.startswith("thresholds_"):
        return da.isel({k: int(v) for k, v in sel.items()}).to_numpy().ravel()
    try:
        return da.sel(sel).to_numpy().ravel()
    except KeyError:  # covariances are stored once per pair; read the transpose
        return da.sel(dict(zip(sel, reversed(list(sel.values())), strict=True))).to_numpy().ravel()


@pytest.mark.slow
def test_posterior_recovers_the_truth(sim, full):
    assert_intervals_cover({name: (_draws(full, name), true) for name, true in sim.truth.items()})


@pytest.mark.slow
def test_converged(full):
    """With the defaults every parameter converges (R-hat <= 1.01, ESS >= 400).

    The slowest is the random-intercept variance of the nominal latent: after 1000 draws
    per chain its R-hat was 1.013 and its ESS 401, so the run went on to 1500 (a fixed
    4 x 1500 after 1500 warm-up reached only R-hat 1.023 and tail ESS 64 there, and this
    test was an expected failure while ``draws`` was fixed). Failing means 5000 draws per
    chain were not enough.
    """
    table = full.rhat()
    assert table["ok"].all(), table.to_string()


@pytest.mark.slow
@pytest.mark.parametrize("col", ["b", "n", "o", "c"])
def test_imputed_category_shares_match_the_deleted_values(sim, full, col):
    # Data are MCAR, so the imputed shares estimate the shares among the deleted values.
    # Both sides are samples of about n_missing values: the difference has sd about
    # sqrt(2 p (1 - p) / n_missing) (the m sets averaged shrink the imputation side);
    # 4 sd keeps a correct model failing below 0.01% per category.
    miss = sim.data[col].isna().to_numpy()
    unit = sim.data["cluster"].to_numpy()
    if col == "c":  # level 2: one value per cluster
        first = ~pd.Series(unit).duplicated().to_numpy()
        miss = miss & first
    truth = sim.complete[col][miss].astype(str).value_counts(normalize=True)
    sets = full.complete("all")
    shares = pd.concat([s[col][miss].astype(str) for s in sets]).value_counts(normalize=True)
    n_mis = int(miss.sum())
    for level, p_true in truth.items():
        p_imp = shares.get(level, 0.0)
        tol = 4 * np.sqrt(2 * p_true * (1 - p_true) / n_mis)
        assert abs(p_imp - p_true) < tol, (level, p_imp, p_true, tol)
