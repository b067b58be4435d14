"""The analysis formula read against the data: roles of the variables, design columns, and
a clear error for every term the substantive model cannot build."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jmimpute.models.substantive.columns import RowValues, evaluate, observed_means
from jmimpute.models.substantive.structure import Atom, Column, derive_structure
from jmimpute.simulate import DESIGNS, simulate_design
from jmimpute.spec.parser import FormulaError


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 6)
    frame = pd.DataFrame(
        {
            "g": g,
            "y": rng.normal(size=60),
            "x": rng.normal(size=60),
            "v": rng.normal(size=60),
            "w": rng.normal(size=10)[g],
            "k": rng.normal(size=10)[g],
            "sex": np.tile(["f", "m"], 30),
            "z": rng.normal(size=60),
        }
    )
    frame.loc[[1, 7, 20], "y"] = np.nan
    frame.loc[[2, 30], "x"] = np.nan
    frame.loc[frame.g == 3, "w"] = np.nan
    frame.loc[[5], "z"] = np.nan
    return frame


def test_roles_and_columns(data):
    st = derive_structure(
        "y ~ x * w + I(x**2) + v + k + mean(x) + factor(sex) + (1 + x | g)",
        data,
        auxiliary=("z",),
    )
    assert st.outcome == "y" and st.cluster == "g"
    assert st.level1 == ("x",) and st.level2 == ("w",)
    assert st.auxiliary == ("z",)
    assert [c.label for c in st.covariates1] == ["v", "sex[m]"]
    assert [c.label for c in st.covariates2] == ["k"]
    assert st.fixed_labels == (
        "(Intercept)", "x", "w", "x:w", "I(x**2)", "v", "k", "mean(x)", "sex[m]",
    )  # fmt: skip
    assert st.random_labels == ("(Intercept)", "x")
    assert st.level1_targets == ("y", "x", "z")
    assert st.imputation_formulas() == ["`y` + `x` + `z` ~ 1 + (1 | `g`)", "`w` ~ 1"]


def test_columns_are_products_of_atoms(data):
    values = {n: data[n].fillna(0.0).to_numpy() for n in ("x", "w")}
    means = {"x": observed_means(values["x"], data["g"].to_numpy(), 10)}
    dummies = {("sex", "m"): (data["sex"] == "m").to_numpy(dtype=float)}
    rows = RowValues(values, means, dummies)
    col = Column((Atom("value", "x", 2), Atom("cwc", "x"), Atom("dummy", "sex", level="m")))
    expected = values["x"] ** 2 * (values["x"] - means["x"]) * dummies[("sex", "m")]
    np.testing.assert_array_equal(evaluate(col, rows), expected)


@pytest.mark.parametrize(
    ("formula", "kwargs", "message"),
    [
        ("y ~ x + q + (1 | g)", {}, r"names 'q' .*not a column of `data`"),
        ("y ~ x:qq + (1 | g)", {}, r"names 'qq' \(in 'qq'\)"),
        ("y ~ x + (1 + w | g)", {}, r"'w' in the random term is a level-2 variable"),
        ("y ~ x + mean(w) + (1 | g)", {}, r"'mean\(w\)': 'w' is a level-2 variable"),
        ("y ~ x + (1 + mean(x) | g)", {}, r"'mean\(x\)' in the random term is a level-2"),
        ("y ~ x + (1 | g)", {"categorical": ("y",)}, r"'y' is categorical with 57 observed"),
        ("y ~ x", {}, r"exactly one random term"),
        ("y ~ x + (1 | g) + (1 | v)", {}, r"exactly one random term"),
        ("y ~ 0 + x + (1 | g)", {}, r"without a fixed intercept"),
        ("y ~ log(x) + (1 | g)", {}, r"'log\(x\)' .* is not a term the substantive model"),
        ("y ~ x + g + (1 | g)", {}, r"cluster variable 'g' can only appear after"),
        ("y ~ x + y + (1 | g)", {}, r"outcome 'y' also appears on the right"),
        ("y ~ x + (1 | h)", {}, r"grouping factor 'h' is not a column"),
        ("y ~ x + mean(sex) + (1 | g)", {}, r"'sex' is categorical; cluster means"),
        ("y ~ x + (1 | g)", {"auxiliary": ("zz",)}, r"`auxiliary` names 'zz'"),
        ("y ~ x + (1 | g)", {"auxiliary": ("x",)}, r"'x', which is a predictor of `analysis`"),
        ("y ~ x + (1 | g)", {"auxiliary": ("sex",)}, r"auxiliary variable 'sex' is categorical"),
        ("y ~ x + (1 | g)", {"auxiliary": ("k",)}, r"'k' is constant within clusters"),
        ("y ~ x + (1 | g)", {"cluster_means": "both"}, r"`cluster_means` must be one of"),
        ("y x", {}, r"`analysis` must be an lme4-style formula"),
    ],
)
def test_clear_errors(data, formula, kwargs, message):
    with pytest.raises((FormulaError, ValueError), match=message):
        derive_structure(formula, data, **kwargs)


def test_a_binary_outcome_is_summed_over_after_the_predictors(data):
    frame = data.assign(sex=data["sex"].where(data.index != 3), s2=data["sex"])
    frame.loc[4, "s2"] = None
    st = derive_structure("sex ~ x + s2 + (1 | g)", frame)
    assert st.binary_outcome and st.discrete == ("s2",)
    assert st.summed == ("s2", "sex")
    assert not derive_structure("y ~ x + (1 | g)", data).binary_outcome


def test_incomplete_binary_predictors_are_summed_over(data):
    frame = data.assign(sex=data["sex"].where(data.index != 4))
    st = derive_structure("y ~ x * sex + (1 | g)", frame)
    assert st.discrete == ("sex",) and st.level1 == ("x",)
    assert st.fixed_labels == ("(Intercept)", "x", "sex[m]", "x:sex[m]")
    assert st.level1_targets == ("y", "x", "sex")
    numeric = data.assign(v=(data["v"] > 0).astype(float).where(data.index != 3))
    assert derive_structure("y ~ v + (1 | g)", numeric, categorical=("v",)).discrete == ("v",)


def test_nominal_and_level2_categorical_predictors_are_summed_over(data):
    three = data.assign(sex=np.tile(["f", "m", "x"], 20)).assign(
        sex=lambda d: d["sex"].where(d.index != 4)
    )
    st = derive_structure("y ~ x + factor(sex) + (1 | g)", three)
    assert st.discrete == ("sex",) and st.fixed_labels == ("(Intercept)", "x", "sex[m]", "sex[x]")
    level2 = data.assign(c=np.where(data["g"] % 2 == 0, "a", "b")).assign(
        c=lambda d: d["c"].where(d["g"] != 3)
    )
    st = derive_structure("y ~ x * c + (1 | g)", level2)
    assert st.discrete2 == ("c",) and st.discrete == ()
    assert st.imputation_formulas()[1] == "`c` ~ 1"
    with pytest.raises(FormulaError, match=r"'c' in the random term is a level-2 variable"):
        derive_structure("y ~ x + c + (1 + c | g)", level2)


def test_categories_follow_the_dtype_order(data):
    """As R's factor levels: the first category of an ordered dtype is the baseline."""
    order = pd.CategoricalDtype(["low", "mid", "high"], ordered=True)
    frame = data.assign(k=pd.Series(np.tile(["high", "low", "mid"], 20)).astype(order))
    st = derive_structure("y ~ x + k + (1 | g)", frame)
    assert st.fixed_labels == ("(Intercept)", "x", "k[mid]", "k[high]")


def test_too_many_combinations_of_categories_are_refused(data):
    many = data.assign(**{f"b{i}": np.tile(["p", "q", "r"], 20) for i in range(4)}).assign(
        **{f"b{i}": (lambda d, i=i: d[f"b{i}"].where(d.index != i)) for i in range(4)}
    )
    with pytest.raises(ValueError, match=r"'b0' \(3 categories\).*81 combinations.*at most 32"):
        derive_structure("y ~ x + b0 + b1 + b2 + b3 + (1 | g)", many)


def test_an_incomplete_binary_outcome_counts_among_the_combinations(data):
    """Two 4-category predictors: 16 combinations; times 2 with an incomplete binary outcome
    (summed over with them), not with a complete one (its observed codes enter)."""
    many = data.assign(**{f"c{i}": np.tile(["p", "q", "r", "s"], 15) for i in range(2)})
    many = many.assign(c0=many["c0"].where(many.index != 0), c1=many["c1"].where(many.index != 1))
    many = many.assign(c2=np.tile(["u", "v"], 30))
    complete = derive_structure("sex ~ x + c0 + c1 + c2 + (1 | g)", many)
    assert complete.summed == ("c0", "c1", "sex")
    many = many.assign(c2=many["c2"].where(many.index != 2), sex=many["sex"].where(many.index != 3))
    with pytest.raises(ValueError, match=r"'sex' \(2 categories\): 64 combinations"):
        derive_structure("sex ~ x + c0 + c1 + c2 + (1 | g)", many)


def test_infinite_values_are_refused(data):
    with pytest.raises(ValueError, match=r"'v', which has infinite values"):
        derive_structure(
            "y ~ x + v + (1 | g)", data.assign(v=data["v"].replace(data["v"][3], np.inf))
        )


def test_string_options_are_names_not_letters(data):
    from jmimpute.pipeline import _substantive

    options = {"categorical": "sex", "ordinal": None, "method": None}
    formulas, out = _substantive(data, None, "y ~ x + sex + (1 | g)", "z", "latent", options)
    assert out["auxiliary"] == ["z"] and out["method"] == "substantive"
    assert formulas == ["`y` + `x` + `z` ~ 1 + (1 | `g`)"]


def test_the_data_are_not_modified(data):
    before = data.copy(deep=True)
    derive_structure("y ~ x * w + mean(x) + (1 + x | g)", data, auxiliary=("z",))
    pd.testing.assert_frame_equal(data, before)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + cwc(x) + mean(x) + (1 | g)", r"fixed term 'mean\(x\)' is a linear combination"),
        ("y ~ x + c + (1 | g)", r"fixed term 'c' is a linear combination of the intercept"),
        ("y ~ x + (1 + x + x2 | g)", r"random term 'x2' is a linear combination"),
    ],
)
def test_dependent_columns_are_refused(data, formula, message):
    from jmimpute.models.substantive.design import build_substantive_design
    from jmimpute.spec.model import build_spec
    from jmimpute.spec.validate import validate

    frame = data.assign(c=1.0, x2=2.0 * data["x"])
    st = derive_structure(formula, frame)
    spec = build_spec(st.imputation_formulas(), method="substantive", analysis=formula)
    _, level1, level2 = validate(frame, spec)
    with pytest.raises(ValueError, match=message):
        build_substantive_design(frame, formula, (), (), "latent", level1, level2)


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_every_simulation_design_names_its_estimands_as_the_model_does(name):
    """The known-truth benchmark looks each truth up by the model's labels."""
    sim = simulate_design(name, 1)
    st = derive_structure(sim.analysis, sim.data, auxiliary=sim.auxiliary)
    fixed = {k for k in sim.truth if not k.startswith(("var(", "cov("))}
    assert fixed <= set(st.fixed_labels)
    assert sim.data.isna().any().any() and not sim.complete.isna().any().any()


def test_factor_of_an_incomplete_numeric_column_asks_for_a_declaration(data):
    frame = data.assign(k=(data["v"] > 0).astype(float).where(data.index != 2))
    with pytest.raises(FormulaError, match=r"'factor\(k\)': 'k' is numeric.*categorical=\['k'\]"):
        derive_structure("y ~ x + factor(k) + (1 | g)", frame)
    st = derive_structure("y ~ x + factor(k) + (1 | g)", frame, categorical=("k",))
    assert st.discrete == ("k",)
