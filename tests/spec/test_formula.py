import dataclasses

import pytest

from jmimpute.spec.formula import Formula, FormulaError, parse_formula, parse_terms
from jmimpute.spec.terms import RandomTerm, Variable


@pytest.mark.parametrize(
    ("text", "targets", "fixed", "intercept", "random", "rint", "cluster"),
    [
        ("lpo + iqv ~ 1 + (1|sch)", ("lpo", "iqv"), (), True, (), True, "sch"),
        ("lpo ~ (1|sch)", ("lpo",), (), True, (), True, "sch"),
        ("lpo ~ 0 + ses + (1|sch)", ("lpo",), ("ses",), False, (), True, "sch"),
        ("lpo ~ ses - 1 + (1|sch)", ("lpo",), ("ses",), False, (), True, "sch"),
        (
            "lpo + iqv ~ 1 + ses + (1 + ses|sch)",
            ("lpo", "iqv"),
            ("ses",),
            True,
            ("ses",),
            True,
            "sch",
        ),
        ("y ~ x + (x | g)", ("y",), ("x",), True, ("x",), True, "g"),
        ("y ~ x + (0 + x | g)", ("y",), ("x",), True, ("x",), False, "g"),
        ("`a b` + y.2 ~ 1 + (1|`my group`)", ("a b", "y.2"), (), True, (), True, "my group"),
        ("den ~ 1", ("den",), (), True, (), False, None),
    ],
)
def test_parse(text, targets, fixed, intercept, random, rint, cluster):
    f = parse_formula(text)
    assert f.targets == targets
    assert f.fixed == fixed
    assert f.intercept is intercept
    assert f.random == random
    assert f.random_intercept is rint
    assert f.cluster == cluster
    assert f.text == text


def test_variables_lists_each_once():
    f = parse_formula("y1 + y2 ~ x + (1 + x|g)")
    assert f.variables == ("y1", "y2", "x", "g")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lpo + iqv (1|sch)", "exactly one '~'"),
        ("lpo ~ iqv ~ 1", "exactly one '~'"),
        ("lpo ~ ", "term is missing"),
        ("lpo ~ 1 + + x", "term is missing"),
        ("lpo ~ 1 + x + (1|g) + (1|h)", "only one random-effect term"),
        ("lpo ~ lpo + (1|g)", "both imputed"),
        ("lpo ~ 1 + (lpo|g)", "random slope"),
        ("lpo ~ 2 + (1|g)", "only 0 and 1"),
        ("1 ~ x + (1|g)", "only variable names"),
        ("lpo ~ x + (1||g)", "'||'"),
        ("lpo ~ x - z + (1|g)", "removing a variable"),
        ("lpo ~ x + (0|g)", "no effects left"),
        ("lpo ~ x * z", "plain covariates .* is a product, expanding to x, z, x:z"),
        ("lpo ~ x + x", "appears twice"),
    ],
)
def test_errors_point_at_the_problem(text, message):
    with pytest.raises(FormulaError, match=message) as info:
        parse_formula(text)
    assert text in str(info.value)
    assert "^" in str(info.value)


def test_not_a_string():
    with pytest.raises(TypeError, match="must be a string"):
        parse_formula(3)  # type: ignore[arg-type]


def _pointer(err: FormulaError) -> int:
    return str(err).splitlines()[-1].index("^") - 4


@pytest.mark.parametrize(
    ("text", "what", "pos"),
    [
        ("lpo ~ x:z + (1|g)", "'x:z' is an interaction", 6),
        ("lpo ~ x + x * z + (1|g)", "'x [*] z' is a product, expanding to x, z, x:z", 10),
        ("lpo ~ I(x**2) + (1|g)", r"'I\(x\*\*2\)' is a power", 6),
        ("lpo ~ mean(x) + (1|g)", r"'mean\(x\)' is a cluster mean", 6),
        ("lpo ~ cwc(x) + (1|g)", r"'cwc\(x\)' is a within-cluster centring", 6),
        ("lpo ~ factor(den) + (1|g)", r"'factor\(den\)' is a function call", 6),
        ("lpo ~ np.log(x) + (1|g)", r"'np.log\(x\)' is a function call", 6),
        ("lpo ~ x + (1 + x:z|g)", "'x:z' is an interaction", 15),
        ("lpo ~ x + (1 + center(x)|g)", r"'center\(x\)' is a function call", 15),
    ],
)
def test_terms_an_imputation_model_does_not_take(text, what, pos):
    with pytest.raises(FormulaError, match=f"take plain covariates .*; {what}. Compute it") as info:
        parse_formula(text)
    assert _pointer(info.value) == pos


@pytest.mark.parametrize(
    ("text", "message", "pos"),
    [
        ("lpo ~ 1 + x + (1|g) + (1|h)", "only one random-effect term", 22),
        ("lpo ~ (1|g) + (x|g)", "only one random-effect term", 14),
        ("lpo ~ x + z + x", "'x' appears twice", 14),
        ("lpo + iqv + lpo ~ 1 + (1|g)", "'lpo' appears twice", 12),
        ("lpo ~ x + lpo + (1|g)", "both imputed", 10),
        ("lpo ~ x - z + (1|g)", "removing a variable", 10),
        ("log(lpo) ~ 1 + (1|g)", r"'log\(lpo\)' is a function call: impute the variable", 0),
        ("~ x + (1|g)", "name the incomplete variables", 0),
    ],
)
def test_imputation_errors_point_at_the_term(text, message, pos):
    with pytest.raises(FormulaError, match=message) as info:
        parse_formula(text)
    assert _pointer(info.value) == pos


def test_formula_fields_stay_plain_and_terms_parse_the_text_again():
    f = parse_formula("lpo + `a b` ~ 0 + ses + (ses | sch)")
    assert dataclasses.asdict(f) == {
        "text": "lpo + `a b` ~ 0 + ses + (ses | sch)",
        "targets": ("lpo", "a b"),
        "fixed": ("ses",),
        "intercept": False,
        "random": ("ses",),
        "random_intercept": True,
        "cluster": "sch",
    }
    assert Formula(**dataclasses.asdict(f)) == f
    assert f.terms == parse_terms(f.text)
    assert f.terms.random == (RandomTerm((Variable("ses"),), True, "sch"),)
