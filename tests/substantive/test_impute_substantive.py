"""A real substantive-model imputation end to end, and the invariants every imputation keeps:
the input unchanged, observed cells identical in every set, level-2 values constant within
clusters, the same seed giving the same imputations, the result saved and read back."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm
from jmimpute import sensitivity_analysis
from jmimpute.simulate import simulate_design

FORMULA = "y ~ x * w + mean(x) + factor(sex) + (1 + x | g)"


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    clusters, size = 30, 8
    g = np.repeat(np.arange(clusters), size)
    w = rng.normal(size=clusters)
    x = 0.5 * rng.normal(size=clusters)[g] + rng.normal(size=g.size)
    sex = rng.choice(["f", "m"], size=g.size)
    slope = 0.5 + 0.3 * rng.normal(size=clusters)
    y = slope[g] * x + 0.3 * w[g] + 0.2 * x * w[g] + 0.5 * (sex == "m") + rng.normal(size=g.size)
    z = y + rng.normal(size=g.size)
    data = pd.DataFrame({"g": g, "y": y, "x": x, "w": w[g], "sex": sex, "z": z})
    data.loc[rng.random(g.size) < 0.2, "y"] = np.nan
    data.loc[rng.random(g.size) < 0.2, "x"] = np.nan
    data.loc[np.isin(g, [2, 9, 17]), "w"] = np.nan
    return data.set_index(pd.Index([f"r{i}" for i in range(g.size)]))


def _impute(
    data: pd.DataFrame, analysis: str = FORMULA, seed: int = 7, **options: object
) -> jm.Imputation:
    """A short run (3 sets, 2 chains, 200 draws after 200 warm-up unless ``options`` say
    otherwise); its convergence warning is expected, not tested here."""
    settings = {"auxiliary": ["z"], "m": 3, "chains": 2, "tune": 200, "draws": 200} | options
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return jm.impute(data, analysis=analysis, random_seed=seed, progressbar=False, **settings)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def imp(data) -> jm.Imputation:
    return _impute(data)


def test_the_input_is_not_modified(data, imp):
    pd.testing.assert_frame_equal(data, _data())


def test_observed_cells_are_kept_and_every_modelled_cell_is_filled(data, imp):
    observed = data.notna()
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert not done[["y", "x", "w", "z"]].isna().any().any()
        pd.testing.assert_frame_equal(done[observed], data[observed])
        assert list(done.index) == list(data.index)


def test_level2_values_are_constant_within_clusters(imp):
    for done in imp.complete("all"):
        assert (done.groupby("g")["w"].nunique() == 1).all()


def test_imputed_values_vary_between_sets(imp):
    cells = imp.imputed.to_numpy()
    assert cells.shape[0] == 3 and np.all(cells.std(axis=0) > 0)


def test_the_same_seed_gives_the_same_imputations(data, imp):
    again = _impute(data)
    np.testing.assert_array_equal(again.imputed.to_numpy(), imp.imputed.to_numpy())
    assert again.tree.attrs["compiled_from"] == "process"
    other = _impute(data, seed=8)
    assert not np.array_equal(other.imputed.to_numpy(), imp.imputed.to_numpy())


def test_the_analysis_model_posterior(imp):
    beta = imp.posterior["beta"]
    assert list(beta["term"].to_numpy()) == [
        "(Intercept)", "x", "w", "x:w", "mean(x)", "sex[m]",
    ]  # fmt: skip
    table = imp.model_estimates()
    assert {"beta[x:w]", "tau[x, (Intercept)]", "tau[x, x]", "sigma2"} <= set(table.index)
    assert (table["2.5%"] < table["mean"]).all() and (table["mean"] < table["97.5%"]).all()
    groups = set(imp.convergence()["group"])
    assert {"fixed effects", "random-effect covariance", "covariate model"} <= groups
    assert "auxiliary models" in groups
    assert imp.spec.method == "substantive" and imp.spec.analysis == FORMULA


def test_analyze_defaults_to_the_analysis_formula(imp):
    fits = jm.analyze(imp, progressbar=False)
    explicit = jm.analyze(
        imp,
        "y ~ x * w + iqm + factor(sex) + (1 + x | g)",
        derive={"iqm": jm.cluster_mean("x")},
        progressbar=False,
    )
    default, given = fits.pool().table, explicit.pool().table
    np.testing.assert_allclose(
        default["estimate"].to_numpy(), given["estimate"].to_numpy(), rtol=1e-10
    )
    assert "x_mean" in default.index


def test_refit_uses_the_new_priors(imp):
    """A tight prior on the random-effect scales (sd 0.02) pulls tau toward zero: the
    priors are shared data of the compiled model, not constants frozen in it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        tight = imp.refit(priors=jm.Priors(psi_sd=0.02))
    assert tight.tree.attrs["compiled_from"] == "process"
    before = float(imp.posterior["tau"].sel(effect="x", effect_="x").mean())
    after = float(tight.posterior["tau"].sel(effect="x", effect_="x").mean())
    assert after < before / 5


def test_saved_and_read_back(imp, tmp_path):
    path = imp.to_netcdf(tmp_path / "sub.nc")
    back = jm.load_imputation(path)
    assert back.spec == imp.spec
    pd.testing.assert_frame_equal(back.complete(2), imp.complete(2))
    shifted = sensitivity_analysis.shifted(back, "y", 1.0)
    moved = shifted.complete(1)["y"] - imp.complete(1)["y"]
    missing = imp.data["y"].isna()
    np.testing.assert_allclose(moved[missing], 1.0)
    assert (moved[~missing] == 0).all()


def test_a_spec_is_laid_out_for_the_data_it_is_given(data, imp):
    """A result's spec reused: the imputation formulas are derived again from the data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        again = jm.impute(data, imp.spec, random_seed=7, progressbar=False)
        fewer = data.assign(w=data["w"].fillna(0.0))
        other = jm.impute(fewer, imp.spec, random_seed=7, progressbar=False)
    np.testing.assert_array_equal(again.imputed.to_numpy(), imp.imputed.to_numpy())
    assert other.spec.level2 is None and other.imputed_level2 is None


def test_declared_categorical_or_ordinal_imputed_variables_are_refused(data):
    with pytest.raises(ValueError, match=r"outcome 'y' is categorical"):
        jm.impute(data, analysis=FORMULA, ordinal=["y"], progressbar=False)
    with pytest.raises(ValueError, match=r"auxiliary variable 'z' is categorical"):
        jm.impute(data, analysis=FORMULA, auxiliary=["z"], ordinal=["z"], progressbar=False)


def test_joint_model_options_are_refused_with_analysis(data):
    with pytest.raises(TypeError, match=r"either `formula`.*or `analysis`"):
        jm.impute(data, "y + x ~ 1 + (1|g)", analysis=FORMULA)
    with pytest.raises(TypeError, match="give the imputation model"):
        jm.impute(data)
    with pytest.raises(ValueError, match="cluster_covariance='random'"):
        jm.impute(data, analysis=FORMULA, cluster_covariance="random", progressbar=False)


BINARY = "y ~ x * s + (1 | g)"


def _binary_data() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(25), 8)
    x = 0.5 * rng.normal(size=25)[g] + rng.normal(size=g.size)
    s = (0.8 * x + rng.normal(size=g.size)) > 0
    y = 0.5 * x + 0.5 * s + 0.3 * x * s + 0.5 * rng.normal(size=25)[g] + rng.normal(size=g.size)
    data = pd.DataFrame(
        {"g": g, "y": y, "x": x, "s": pd.Categorical(np.where(s, "yes", "no")), "z": y + x}
    )
    data.loc[rng.random(g.size) < 0.2, "y"] = np.nan
    data.loc[rng.random(g.size) < 0.15, "x"] = np.nan
    data.loc[rng.random(g.size) < 0.2, "s"] = np.nan
    return data


def test_an_incomplete_binary_predictor_end_to_end():
    """Summed over inside NUTS, drawn after: valid levels in the column's dtype, observed
    cells kept, the input unchanged, the same seed giving the same categories."""
    data = _binary_data()
    before = data.copy(deep=True)
    imp = _impute(data, BINARY, seed=3)
    pd.testing.assert_frame_equal(data, before)
    observed = data.notna()
    missing = data["s"].isna()
    drawn = []
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert isinstance(done["s"].dtype, pd.CategoricalDtype)
        assert set(done["s"]) <= {"no", "yes"} and not done.isna().any().any()
        pd.testing.assert_frame_equal(done[observed], data[observed])
        drawn.append(done["s"][missing].to_numpy())
    assert len({tuple(d) for d in drawn}) > 1  # the sets differ
    assert "beta[x:s[yes]]" in imp.model_estimates().index
    again = _impute(data, BINARY, seed=3)
    pd.testing.assert_frame_equal(again.complete(2), imp.complete(2))
    with pytest.raises(ValueError, match="'s' is a categorical predictor"):
        sensitivity_analysis.shifted(imp, "s", 1.0)


def test_a_binary_outcome_end_to_end():
    """A probit analysis model, the missing outcomes summed over and drawn after: valid
    levels in the column's dtype, observed cells kept, the input unchanged; no residual
    variance; the linear statsmodels fit refused before fitting; no delta shift."""
    data = simulate_design("S6", 4, clusters=30, size=6).data
    before = data.copy(deep=True)
    imp = _impute(data, "y ~ x * v + (1 | g)", seed=5)
    pd.testing.assert_frame_equal(data, before)
    observed = data.notna()
    missing = data["y"].isna()
    drawn = []
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert done["y"].dtype == data["y"].dtype and not done.isna().any().any()
        pd.testing.assert_frame_equal(done[observed], data[observed])
        drawn.append(tuple(done["y"][missing]))
    assert len(set(drawn)) > 1
    estimates = imp.model_estimates().index
    assert "beta[x:v]" in estimates and "sigma2" not in estimates
    with pytest.raises(ValueError, match=r"response 'y' is categorical \('no', 'yes'\)"):
        jm.analyze(imp, progressbar=False)
    with pytest.raises(ValueError, match="'y' is a binary outcome"):
        sensitivity_analysis.shifted(imp, "y", 1.0)


def test_a_complete_binary_outcome_end_to_end():
    """Its observed codes enter the model and come back unchanged in every set, also after
    a shift of ``x`` (which re-reads the kept imputations)."""
    data = simulate_design("S6", 6, clusters=30, size=6).data
    data = data.assign(y=data["y"].fillna("yes"))
    imp = _impute(data, "y ~ x * v + (1 | g)", seed=2)
    shifted = sensitivity_analysis.shifted(imp, "x", 0.5)
    missing = data["x"].isna()
    for k in range(1, imp.m + 1):
        done, moved = imp.complete(k), shifted.complete(k)
        pd.testing.assert_series_equal(done["y"], data["y"])
        pd.testing.assert_series_equal(moved["y"], data["y"])
        np.testing.assert_allclose(moved["x"][missing], done["x"][missing] + 0.5)


CATEGORICAL = "y ~ x * c + o + (1 | g)"


def _categorical_data() -> pd.DataFrame:
    """An ordinal level-1 and a nominal level-2 predictor, both incomplete."""
    rng = np.random.default_rng(11)
    n_clusters, size = 30, 6
    g = np.repeat(np.arange(n_clusters), size)
    c = rng.choice(3, size=n_clusters)
    x = 0.5 * rng.normal(size=n_clusters)[g] + rng.normal(size=g.size)
    o = np.digitize(0.7 * x + rng.normal(size=g.size), [-0.5, 0.7])
    y = x + 0.5 * o + 0.6 * (c[g] == 1) + 0.3 * x * (c[g] == 2) + rng.normal(size=g.size)
    levels = pd.CategoricalDtype(["lo", "mid", "hi"], ordered=True)
    data = pd.DataFrame(
        {
            "g": g,
            "y": y,
            "x": x,
            "o": pd.Series(np.array(["lo", "mid", "hi"])[o]).astype(levels),
            "c": np.array(["a", "b", "c"])[c[g]],
        }
    )
    data.loc[rng.random(g.size) < 0.15, "y"] = np.nan
    data.loc[rng.random(g.size) < 0.15, "x"] = np.nan
    data.loc[rng.random(g.size) < 0.15, "o"] = np.nan
    data.loc[(rng.random(n_clusters) < 0.25)[g], "c"] = np.nan
    return data


def test_incomplete_ordinal_and_level2_nominal_predictors_end_to_end():
    """Summed over per row and per cluster, drawn after: valid levels in the columns'
    dtypes, the level-2 one constant within clusters, observed cells kept, the input
    unchanged; a shift of the outcome leaves the drawn categories as they were."""
    data = _categorical_data()
    before = data.copy(deep=True)
    imp = _impute(data, CATEGORICAL, seed=2, auxiliary=None, categorical=["c"], tune=150, draws=150)
    pd.testing.assert_frame_equal(data, before)
    observed = data.notna()
    for k in range(1, imp.m + 1):
        done = imp.complete(k)
        assert done["o"].dtype == data["o"].dtype and not done.isna().any().any()
        assert set(done["c"]) <= {"a", "b", "c"}
        assert (done.groupby("g")["c"].nunique() == 1).all()
        pd.testing.assert_frame_equal(done[observed], data[observed])
    assert len({tuple(imp.complete(k)["c"]) for k in range(1, imp.m + 1)}) > 1
    estimates = imp.model_estimates().index
    assert {"beta[x:c[b]]", "beta[o[mid]]", "beta[o[hi]]"} <= set(estimates)
    assert "cutpoint_gaps_o" in imp.posterior and "coef_d_s" in imp.posterior
    shifted = sensitivity_analysis.shifted(imp, "y", 1.0)
    for k in (1, 2):
        pd.testing.assert_frame_equal(
            shifted.complete(k)[["o", "c", "x"]], imp.complete(k)[["o", "c", "x"]]
        )
    with pytest.raises(ValueError, match="'c' is a categorical predictor"):
        sensitivity_analysis.shifted(imp, "c", 1.0)


def test_a_numeric_column_declared_ordinal_is_an_ordinal_predictor():
    """Declared, not by dtype: the design sees the declaration the layout saw."""
    from tests.helpers import substantive_design

    data = _categorical_data()
    data["o"] = data["o"].cat.codes.astype(float).where(data["o"].notna())
    _, design, _ = substantive_design(data, CATEGORICAL, categorical=["c"], ordinal=["o"])
    kinds = {d.name: d.kind for d in (*design.sub.discrete, *design.sub.discrete2)}
    assert kinds == {"o": "ordinal", "c": "nominal"}
