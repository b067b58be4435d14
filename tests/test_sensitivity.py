"""Delta adjustment, tipping points and model comparison (jmimpute.sensitivity_analysis)."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import jmimpute as jm
from jmimpute.analysis.formula import parse_analysis_formula
from jmimpute.analysis.frequentist import fit_statsmodels
from jmimpute.sampling.reuse import COMPILED
from jmimpute.sensitivity_analysis import shifted

matplotlib.use("Agg")

SMALL = {"chains": 2, "tune": 150, "draws": 150, "m": 3, "progressbar": False}


def _impute(data, formula, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return jm.impute(data, formula, **(SMALL | kwargs))


@pytest.fixture(scope="module")
def brandsma_imp():
    data = jm.datasets.load_brandsma()[["sch", "lpo", "iqv"]]
    return _impute(data, "lpo + iqv ~ 1 + (1|sch)", random_seed=3)


@pytest.fixture(scope="module")
def joint_imp(joint_short):
    """``simulate_joint``'s full model, a short run shared with tests/test_joint.py."""
    return joint_short[1]


def _cells(imp, name):
    cells = imp.imputed
    return cells.isel(cell=cells["column"].to_numpy() == name).to_numpy()


def test_zero_delta_reproduces_the_imputations_exactly(brandsma_imp):
    again = shifted(brandsma_imp, "lpo", 0.0)
    np.testing.assert_array_equal(again.imputed.to_numpy(), brandsma_imp.imputed.to_numpy())
    sens = jm.sensitivity(brandsma_imp, {"lpo": [0]}, "lpo ~ iqv + (1|sch)")
    direct = jm.analyze(brandsma_imp, "lpo ~ iqv + (1|sch)", progressbar=False).pool().table
    np.testing.assert_array_equal(sens.table["estimate"], direct["estimate"])
    np.testing.assert_array_equal(sens.table["std_error"], direct["std_error"])


def test_continuous_shift_and_propagation_within_the_row(brandsma_imp):
    base, moved = brandsma_imp, shifted(brandsma_imp, "lpo", 5.0)
    np.testing.assert_allclose(_cells(moved, "lpo") - _cells(base, "lpo"), 5.0, atol=1e-9)
    # iqv cells move only in rows where lpo is missing too (conditional regression)
    data = base.data
    iq_rows = base.imputed["row"].to_numpy()[base.imputed["column"].to_numpy() == "iqv"]
    both = data["lpo"].isna().to_numpy()[iq_rows]
    change = _cells(moved, "iqv") - _cells(base, "iqv")
    assert both.any() and (~both).any()
    np.testing.assert_array_equal(change[:, ~both], 0.0)
    assert (change[:, both] > 0).all()  # lpo and iqv correlate positively
    # the same change for every such row of one imputation: Cov(iqv, lpo)/Var(lpo) * delta
    np.testing.assert_allclose(change[:, both], change[:, both][:, :1], rtol=1e-9)


def test_derived_cluster_means_use_the_shifted_values(brandsma_imp):
    imp = brandsma_imp.with_columns(lpo_m=jm.cluster_mean("lpo"))
    base, moved = imp.complete(1), shifted(imp, "lpo", 5.0).complete(1)
    share = imp.data["lpo"].isna().groupby(imp.data["sch"]).transform("mean")
    np.testing.assert_allclose(moved["lpo_m"] - base["lpo_m"], 5.0 * share, atol=1e-9)


def test_per_group_delta(brandsma_imp):
    data = brandsma_imp.data
    first = sorted(data["sch"].unique())[:10]
    moved = shifted(brandsma_imp, "lpo", dict.fromkeys(first, -3.0), by="sch")
    rows = brandsma_imp.imputed["row"].to_numpy()[brandsma_imp.imputed["column"] == "lpo"]
    in_group = data["sch"].isin(first).to_numpy()[rows]
    change = _cells(moved, "lpo") - _cells(brandsma_imp, "lpo")
    np.testing.assert_allclose(change[:, in_group], -3.0, atol=1e-9)
    np.testing.assert_array_equal(change[:, ~in_group], 0.0)
    with pytest.raises(ValueError, match="not levels of 'sch'"):
        shifted(brandsma_imp, "lpo", {"nope": 1.0}, by="sch")
    with pytest.raises(ValueError, match="needs `by`"):
        shifted(brandsma_imp, "lpo", {1: 1.0})


def test_binary_and_nominal_shifts_stay_valid_categories(joint_imp):
    base = joint_imp.complete("long")
    up = shifted(joint_imp, "b", 3.0).complete("long")
    down = shifted(joint_imp, "n", -3.0).complete("long")
    assert up["b"].dtype == base["b"].dtype and up["b"].notna().all()
    assert set(up["b"].unique()) <= {True, False}
    missing_b = np.tile(joint_imp.data["b"].isna().to_numpy(), joint_imp.m)
    # a latent shift upwards can only turn imputed False into True
    assert (up["b"][missing_b].astype(bool) >= base["b"][missing_b].astype(bool)).all()
    assert up["b"][missing_b].mean() > base["b"][missing_b].mean()
    assert down["n"].notna().all() and set(down["n"].unique()) <= {"a", "b", "c"}
    missing_n = np.tile(joint_imp.data["n"].isna().to_numpy(), joint_imp.m)
    assert (down["n"][missing_n] == "a").mean() > (base["n"][missing_n] == "a").mean()


def test_sweep_of_a_binary_predictor(joint_imp):
    """A boolean target used in the analysis (nullable ``boolean`` in the completed sets)."""
    sens = jm.sensitivity(joint_imp, {"b": [-1.0, 0.0, 1.0]}, "y ~ x + b + (1|cluster)")
    share = sens.table[sens.table["term"] == "b[True]"]
    assert len(share) == 3 and share["estimate"].notna().all()


@pytest.mark.parametrize(("name", "delta"), [("w", 10.0), ("c", 3.0)])
def test_level2_shifts_stay_constant_within_clusters(joint_imp, name, delta):
    moved = shifted(joint_imp, name, delta)
    for k in range(1, moved.m + 1):
        frame = moved.complete(k)
        assert frame[name].notna().all()
        assert (frame.groupby("cluster")[name].nunique() == 1).all()
    base_l2, new_l2 = joint_imp.imputed_level2, moved.imputed_level2
    sel = base_l2["column2"].to_numpy() == name
    change = new_l2.to_numpy()[:, sel] - base_l2.to_numpy()[:, sel]
    if name == "w":
        np.testing.assert_allclose(change, delta, atol=1e-9)
    else:
        assert (change >= 0).all() and set(np.unique(new_l2.to_numpy()[:, sel])) <= {0, 1}


def test_sensitivity_table_plot_and_tipping_point(brandsma_imp):
    sens = jm.sensitivity(brandsma_imp, {"lpo": [-5, 0, 5]}, "lpo ~ iqv + (1|sch)")
    assert list(sens.table.columns) == [
        "delta", "variable", "term", "estimate", "std_error", "ci_lower", "ci_upper", "df", "fmi",
    ]  # fmt: skip
    assert len(sens.table) == 6
    icpt = sens.table[sens.table["term"] == "(Intercept)"].set_index("delta")["estimate"]
    assert icpt[-5] < icpt[0] < icpt[5]
    assert "Delta-adjusted" in str(sens) and "<table" in sens._repr_html_()
    fig = sens.plot("iqv")
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)

    lower0 = float(sens.table.query("delta == 0 and term == '(Intercept)'")["ci_lower"].iloc[0])
    value = lower0 - 0.15  # excluded at delta 0, included at delta -5 (checked below)
    lower = sens.table.query("delta == -5 and term == '(Intercept)'")["ci_lower"].iloc[0]
    assert lower < value
    tp = sens.tipping_point("(Intercept)", value=value, tol=0.1)
    assert -5 <= tp.lower < tp.upper <= 0 and tp.precision <= 0.1
    assert tp.includes_beyond and "Tipping point" in str(tp)
    at = tp.evaluations.set_index("delta")
    assert at.loc[tp.upper, "ci_lower"] > value >= at.loc[tp.lower, "ci_lower"]
    with pytest.raises(ValueError, match="widen the sweep"):
        sens.tipping_point("(Intercept)", value=1000.0)
    with pytest.raises(ValueError, match="`term` must be"):
        sens.plot("nope")


def test_compare_models_side_by_side(brandsma_imp):
    moved = shifted(brandsma_imp, "lpo", 2.0)
    table = jm.compare_models({"MAR": brandsma_imp, "MNAR +2": moved}, "lpo ~ iqv + (1|sch)")
    assert list(table.columns.get_level_values("model").unique()) == ["MAR", "MNAR +2"]
    assert (
        table.loc["(Intercept)", ("MNAR +2", "estimate")]
        > table.loc["(Intercept)", ("MAR", "estimate")]
    )


def test_bad_arguments(brandsma_imp):
    with pytest.raises(ValueError, match="not a target"):
        jm.sensitivity(brandsma_imp, {"apo": [1]}, "lpo ~ iqv + (1|sch)")
    with pytest.raises(TypeError, match="`delta` must map"):
        jm.sensitivity(brandsma_imp, [1, 2], "lpo ~ iqv + (1|sch)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs `data`"):
        jm.sensitivity(brandsma_imp.spec, {"lpo": [1]}, "lpo ~ iqv + (1|sch)")
    with pytest.raises(ValueError, match="not targets of the imputation model"):
        jm.sensitivity(brandsma_imp.spec, {"apo": [1]}, "lpo ~ iqv + (1|sch)", data=pd.DataFrame())
    with pytest.raises(ValueError, match="already has its data"):
        jm.sensitivity(brandsma_imp, {"lpo": [1]}, "lpo ~ iqv + (1|sch)", random_seed=1)
    with pytest.raises(TypeError, match="must be an Imputation"):
        jm.sensitivity("lpo ~ 1 + (1|sch)", {"lpo": [1]}, "lpo ~ iqv + (1|sch)")


@pytest.mark.slow
def test_model_file_as_source(tmp_path):
    """A model file is imputed as ``jmimpute run`` would, then swept."""
    path = tmp_path / "small.toml"
    path.write_text(
        '[data]\npath = "brandsma"\n[model]\nformula = "lpo ~ 1 + (1|sch)"\n'
        "[sampler]\nchains = 2\ntune = 150\ndraws = 150\nm = 2\nrandom_seed = 7\n"
    )
    with pytest.raises(ValueError, match="names its own data"):
        jm.sensitivity(path, {"lpo": [0]}, "lpo ~ 1 + (1|sch)", data=pd.DataFrame())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        sens = jm.sensitivity(str(path), {"lpo": [-2.0, 0.0]}, "lpo ~ 1 + (1|sch)")
    imp = sens.imputation
    assert imp.m == 2 and imp.tree.attrs["random_seed"] == 7
    est = sens.table.set_index("delta")["estimate"]
    assert est[-2.0] < est[0.0]


def test_subsets_and_loaded_results_redraw_the_same_streams(brandsma_imp, tmp_path):
    """Each imputation has its own stream: subsetting or saving does not change its re-draws."""
    both = shifted(brandsma_imp, "lpo", 2.5).imputed.to_numpy()
    part = shifted(brandsma_imp.subset([3, 1]), "lpo", 2.5).imputed.to_numpy()
    np.testing.assert_array_equal(part, both[[2, 0]])
    loaded = jm.load_imputation(brandsma_imp.to_netcdf(tmp_path / "imp.nc"))
    np.testing.assert_array_equal(
        shifted(loaded, "lpo", 0.0).imputed.to_numpy(), brandsma_imp.imputed.to_numpy()
    )
    np.testing.assert_array_equal(shifted(loaded, "lpo", 2.5).imputed.to_numpy(), both)


def test_loaded_categorical_results_redraw_exactly(joint_imp, tmp_path):
    """The latent values of observed categories at the retained draws are saved with them."""
    loaded = jm.load_imputation(joint_imp.to_netcdf(tmp_path / "joint.nc"))
    for name in ("imputed", "imputed_level2"):
        np.testing.assert_array_equal(
            shifted(loaded, "b", 0.0).tree["imputations"][name].to_numpy(),
            joint_imp.tree["imputations"][name].to_numpy(),
        )
    np.testing.assert_array_equal(
        shifted(loaded, "n", 1.0).imputed.to_numpy(),
        shifted(joint_imp, "n", 1.0).imputed.to_numpy(),
    )


def test_refit_reuses_the_compiled_model_and_equals_a_fresh_run(brandsma_imp):
    """New priors go into the compiled sampler as shared data; no second compile.

    ``jm.sensitivity`` on a spec imputes first (here compiling anew), so its imputation is
    the reference: a refit with the same priors and seed must give the same draws, bit for
    bit, and a refit with the original priors must give the original result back.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        same = brandsma_imp.refit()
        assert same.tree.attrs["compiled_from"] == "process"
        np.testing.assert_array_equal(same.imputed.to_numpy(), brandsma_imp.imputed.to_numpy())

        tight = jm.Priors(psi_sd=0.02)
        refit = brandsma_imp.refit(priors=tight)
        assert refit.tree.attrs["compiled_from"] == "process" and refit.spec.priors == tight
        data = brandsma_imp.data
        spec = jm.specify("lpo + iqv ~ 1 + (1|sch)", priors=tight, **SMALL)
        COMPILED.clear()  # else this process's compiled model of the same graph is taken
        sens = jm.sensitivity(spec, {"lpo": [0.0]}, "lpo ~ iqv + (1|sch)", data=data, random_seed=3)
    fresh = sens.imputation
    assert fresh.tree.attrs["compiled_from"] != "process"
    for group in ("standardised_posterior", "imputations"):
        xr.testing.assert_identical(refit.tree[group].dataset, fresh.tree[group].dataset)
    # the tight prior took effect: HalfNormal(0.02) on the sd of the lpo intercepts pulls
    # its posterior mean from about 0.49 (default prior) to about 0.24; the Monte Carlo
    # error of either mean of 300 draws is about 0.01, so a ratio below 0.6 is no accident
    # and a prior that was silently not applied would fail it
    sd = {
        k: float(np.sqrt(r.tree["standardised_posterior"]["psi"].isel(effect=0, effect_2=0)).mean())
        for k, r in (("default", brandsma_imp), ("tight", refit))
    }
    assert sd["tight"] < 0.6 * sd["default"]


@pytest.mark.slow
def test_delta_equal_to_the_true_mnar_shift_recovers_the_complete_data_estimate():
    """Pattern-mixture MNAR: the missing values are their MAR-model values plus 2.

    Missingness depends on the observed x (about 30%); the deleted y are shifted by +2,
    so their distribution given x and the cluster differs from that of the observed ones
    by exactly the shift that delta = 2 assumes. The truth is the complete-data estimate.
    With 60 clusters of 20 the intercept's s.e. is about 0.1; the MAR bias at delta = 0 is
    about 2 * 0.3 = 0.6, six s.e., while the MI estimate at the true delta differs from the
    complete-data one by its between-imputation and missing-information error only (sd
    well below the s.e.), so the 95% interval covers it except with small probability.
    """
    rng = np.random.default_rng(11)
    n_cl, size, shift = 60, 20, 2.0
    cluster = np.repeat(np.arange(n_cl), size)
    x = rng.normal(size=n_cl * size)
    y = 1.0 + 0.5 * x + rng.normal(0, np.sqrt(0.5), n_cl)[cluster] + rng.normal(size=x.size)
    missing = rng.random(x.size) < 1 / (1 + np.exp(-(-0.9 + 0.5 * x)))
    y = np.where(missing, y + shift, y)
    complete = pd.DataFrame({"cluster": cluster, "x": x, "y": y})
    data = complete.assign(y=np.where(missing, np.nan, y))
    imp = _impute(
        data, "y ~ 1 + x + (1|cluster)", chains=2, tune=500, draws=500, m=10, random_seed=5
    )
    analysis = "y ~ x + (1|cluster)"
    truth = fit_statsmodels(parse_analysis_formula(analysis), complete).params
    sens = jm.sensitivity(imp, {"y": [0.0, shift]}, analysis)
    t = sens.table.set_index(["delta", "term"])
    for key in ("(Intercept)", "x"):
        row = t.loc[(shift, key)]
        assert row["ci_lower"] <= truth[key] <= row["ci_upper"]
    mar = t.loc[(0.0, "(Intercept)")]
    assert mar["ci_upper"] < truth["(Intercept)"]  # MAR misses the MNAR shift
    assert 3 * mar["std_error"] < truth["(Intercept)"] - mar["estimate"]
