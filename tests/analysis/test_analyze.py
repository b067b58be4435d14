"""Analyse and pool jmimpute's own brandsma imputations (FIMD section 7.10)."""

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm

# FIMD 7.10 (m = 10, lmer REML = FALSE), from docs/reference.md:
# model -> ({term: (estimate, s.e.)}, {variance component: value})
FIMD = {
    "lpo ~ (1|sch)": (
        {"(Intercept)": (40.9, 0.322)},
        {"tau[(Intercept)]": 18.021, "sigma2": 63.306, "ICC": 0.222},
    ),
    "lpo ~ iqv + (1|sch)": (
        {"(Intercept)": (40.96, 0.2381), "iqv": (2.52, 0.0525)},
        {"tau[(Intercept)]": 9.505, "sigma2": 40.819, "ICC": 0.189},
    ),
    "lpo ~ iqv + iqm + (1|sch)": (
        {"(Intercept)": (41.02, 0.2279), "iqv": (2.47, 0.0535), "iqm": (1.17, 0.2571)},
        {"tau[(Intercept)]": 8.430, "sigma2": 40.800, "ICC": 0.171},
    ),
}


@pytest.fixture(scope="module")
def fimd_fits(brandsma_imputation):
    imp = brandsma_imputation.with_columns(iqm=jm.cluster_mean("iqv"))
    return {f: jm.analyze(imp, f, reml=False, progressbar=False) for f in FIMD}


@pytest.mark.parametrize("formula", list(FIMD))
def test_fimd_7_10_reproduced(fimd_fits, formula):
    # Each pooled estimate within 1 pooled standard error of the published one, and each
    # variance component within 10% (the criteria).
    fits = fimd_fits[formula]
    table = fits.pool().table
    fixed, comps = FIMD[formula]
    for term, (estimate, _) in fixed.items():
        assert abs(table.loc[term, "estimate"] - estimate) <= table.loc[term, "std_error"], term
    varcorr = fits.varcorr()
    for name, value in comps.items():
        assert varcorr[name] == pytest.approx(value, rel=0.10), name


def test_fits_are_accessible_and_informative(fimd_fits):
    fits = fimd_fits["lpo ~ iqv + iqm + (1|sch)"]
    assert len(fits) == 20 and fits.m == 20
    assert list(fits[0].params.index) == ["(Intercept)", "iqv", "iqm"]
    assert sum(1 for _ in fits) == 20
    info = fits.model_info()
    assert (info["nobs"] == 4106).all() and (info["n_groups"] == 216).all()
    assert info["method"].eq("ML").all()
    ranef = fits.ranef()
    assert ranef.shape == (216, 1)
    assert abs(ranef.to_numpy().mean()) < 0.1
    d1 = fits.test(["iqv", "iqm"])
    d2 = fits.test(["iqv", "iqm"], method="D2")
    assert d1.df1 == d2.df1 == 2 and d1.p_value < 1e-10 and d2.p_value < 1e-10
    text = str(fits.summary())
    assert "Pooled estimates" in text and "ICC" in text
    assert "<table" in fits._repr_html_()


def test_derived_variable_recomputed_from_each_completed_set(brandsma_imputation):
    imp = brandsma_imputation.with_columns(iqm=jm.cluster_mean("iqv"))
    firsts = []
    for k in (1, 2):
        d = imp.complete(k)
        np.testing.assert_allclose(d["iqm"], d.groupby("sch")["iqv"].transform("mean"))
        firsts.append(d["iqm"].to_numpy())
    assert not np.array_equal(*firsts)  # iqv has imputed values, so cluster means differ
    assert imp.complete("long", include=True).query("`.imp` == 0")["iqm"].isna().all()
    with pytest.raises(ValueError, match="already columns of the data"):
        brandsma_imputation.with_columns(iqv=jm.cluster_mean("iqv"))


def test_single_level_model_uses_residual_df(brandsma_imputation):
    fits = jm.analyze(brandsma_imputation, "lpo ~ iqv", progressbar=False)
    est = fits.estimates()
    var = np.stack([np.diag(f.cov.to_numpy()) for f in fits])
    by_hand = jm.pool(est, var, df_com=4106 - 2).table
    pd.testing.assert_frame_equal(fits.pool().table, by_hand)


def test_unknown_column_in_analysis_formula(brandsma_imputation):
    with pytest.raises(ValueError, match=r"names 'iqm', which is neither a column .* derive="):
        jm.analyze(brandsma_imputation, "lpo ~ iqv + iqm + (1|sch)", progressbar=False)
    with pytest.raises(ValueError, match=r"names 'lpx'.*Did you mean .*'lpo'"):
        jm.analyze(brandsma_imputation, "lpx ~ iqv", progressbar=False)


def test_derived_from_missing_variable(brandsma_imputation):
    with pytest.raises(jm.AnalysisError, match=r"derived variable 'iqm'.*'iqz'"):
        jm.analyze(
            brandsma_imputation,
            "lpo ~ iqm",
            derive={"iqm": jm.cluster_mean("iqz")},
            progressbar=False,
        )


def test_failing_sets_are_reported_by_number(brandsma_imputation):
    calls = {"n": 0}

    def flaky(d):
        calls["n"] += 1
        if calls["n"] in (3, 7):
            raise RuntimeError("singular design")
        return d["iqv"] * 2

    with pytest.raises(jm.AnalysisError, match=r"(?s)failed on 2 of 20 .*set 3: .*singular.*set 7"):
        jm.analyze(brandsma_imputation, "lpo ~ iq2", derive={"iq2": flaky}, progressbar=False)


def test_bad_backend(brandsma_imputation):
    with pytest.raises(ValueError, match="`backend` must be one of"):
        jm.analyze(brandsma_imputation, "lpo ~ iqv", backend="lme4")


def test_nullable_columns_are_fitted_as_numpy_dtypes():
    """Completed sets keep pandas' nullable dtypes, which statsmodels' formulas reject."""
    from jmimpute.analysis.formula import parse_analysis_formula
    from jmimpute.analysis.frequentist import fit_statsmodels, plain_dtypes

    rng = np.random.default_rng(0)
    flag = rng.random(200) < 0.4
    frame = pd.DataFrame(
        {
            "y": 1.0 + 2.0 * flag + rng.normal(size=200),
            "flag": pd.array(flag, dtype="boolean"),
            "count": pd.array(rng.integers(0, 5, 200), dtype="Int64"),
        }
    )
    plain = plain_dtypes(frame)
    assert plain["flag"].dtype == bool and plain["count"].dtype == np.int64
    assert frame["flag"].dtype == "boolean"  # the caller's frame is left alone
    with_na = plain_dtypes(frame.assign(count=pd.array([None] + [1] * 199, dtype="Int64")))
    assert with_na["count"].dtype == float and np.isnan(with_na["count"].iloc[0])
    fit = fit_statsmodels(parse_analysis_formula("y ~ flag + count"), frame)
    assert "flag[T.True]" in fit.params.index or "flag[True]" in fit.params.index


def test_a_binary_categorical_response():
    """A GLM codes it 1 for the second category, as R's glm reads a factor; a linear or
    mixed fit refuses it, naming the response and the alternatives."""
    import statsmodels.api as sm

    from jmimpute.analysis.formula import parse_analysis_formula
    from jmimpute.analysis.frequentist import check_response, coded_response, fit_statsmodels

    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    success = rng.random(300) < 1 / (1 + np.exp(-(0.3 + x)))
    labels = pd.Categorical(np.where(success, "yes", "no"), categories=["no", "yes"])
    frame = pd.DataFrame({"y": labels, "x": x, "g": np.repeat(np.arange(30), 10)})
    family = sm.families.Binomial()
    fit = fit_statsmodels(parse_analysis_formula("y ~ x"), frame, family=family)
    numeric = fit_statsmodels(
        parse_analysis_formula("y ~ x"), frame.assign(y=success.astype(float)), family=family
    )
    pd.testing.assert_series_equal(fit.params, numeric.params)
    assert frame["y"].dtype == "category"  # the caller's frame is left alone
    for formula, kwargs in (("y ~ x", {}), ("y ~ x + (1 | g)", {"family": family})):
        with pytest.raises(ValueError, match=r"response 'y' is categorical \('no', 'yes'\)"):
            fit_statsmodels(parse_analysis_formula(formula), frame, **kwargs)
    # a response written as an expression is the formula layer's to read, never recoded
    expression = parse_analysis_formula("C(y) ~ x")
    assert coded_response(expression, frame) is frame
    check_response(expression, frame["y"], None)
