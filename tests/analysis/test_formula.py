import pytest

from jmimpute.analysis.formula import parse_analysis_formula
from jmimpute.spec.parser import FormulaError, parse_terms
from jmimpute.spec.terms import Interaction, RandomTerm, Variable


@pytest.mark.parametrize(
    ("text", "fixed", "random", "group", "variables"),
    [
        ("lpo ~ 1 + (1|sch)", "lpo ~ 1", "1", "sch", ("lpo", "sch")),
        ("lpo ~ (1|sch)", "lpo ~ 1", "1", "sch", ("lpo", "sch")),
        (
            "lpo ~ iqv + iqm + (1 | sch)",
            "lpo ~ iqv + iqm",
            "1",
            "sch",
            ("lpo", "iqv", "iqm", "sch"),
        ),
        (
            "lpo ~ 1 + iqv + factor(den) + (1|sch)",
            "lpo ~ 1 + iqv + C(den)",
            "1",
            "sch",
            ("lpo", "iqv", "den", "sch"),
        ),
        (
            "mathach ~ minority + female + ses + meanses + (1 + ses|schid)",
            "mathach ~ minority + female + ses + meanses",
            "1 + ses",
            "schid",
            ("mathach", "minority", "female", "ses", "meanses", "schid"),
        ),
        ("y ~ x*z + I(x**2)", "y ~ x*z + I(x**2)", None, None, ("y", "x", "z")),
        ("y ~ np.log(x) + (0 + x|g)", "y ~ np.log(x)", "0 + x", "g", ("y", "x", "g")),
        ("y ~ x - 1 + (x | g)", "y ~ x - 1", "x", "g", ("y", "x", "g")),
        ("y ~ x*z - x:z", "y ~ x*z - x:z", None, None, ("y", "x", "z")),
        ("log(y) ~ I(x^2)", "log(y) ~ I(x**2)", None, None, ("y", "x")),
        (
            "y ~ C(d, Treatment(reference='a')) + (1 + factor(e)|`my g`)",
            "y ~ C(d, Treatment(reference='a'))",
            "1 + C(e)",
            "my g",
            ("y", "d", "e", "my g"),
        ),
    ],
)
def test_split(text, fixed, random, group, variables):
    f = parse_analysis_formula(text)
    assert (f.fixed, f.random, f.group, f.variables) == (fixed, random, group, variables)
    assert f.mixed is (group is not None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lpo iqv", "one '~'"),
        ("~ x", "needs one response"),
        ("y ~ x + (1|g) + (x|h)", "2 random terms"),
        ("y ~ x + (1|g + h)", "must be one column name"),
        ("y ~ x + (|g)", "is empty"),
        ("y1 + y2 ~ x", "needs one response"),
        ("y ~ x + (1|g) + (x|g)", "2 random terms"),
        ("y ~ mean(x) + (1|g)", r"derive=\{'x_mean': jm.cluster_mean\('x'\)\}"),
        ("y ~ x:cwc(x)", r"derive=\{'x_cwc': jm.cluster_centre\('x'\)\}"),
        ("y ~ x + (cwc(x)|g)", r"'cwc\(x\)' \(a within-cluster centring\) is not supported"),
    ],
)
def test_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_analysis_formula(text)


def test_not_a_string():
    with pytest.raises(ValueError, match="must be a string with one '~'"):
        parse_analysis_formula(None)  # type: ignore[arg-type]


def test_errors_point_at_the_term():
    with pytest.raises(FormulaError, match="not supported in analysis formulas") as info:
        parse_analysis_formula("y ~ x + mean(x)")
    assert str(info.value).splitlines()[-1] == " " * 12 + "^"


def test_terms_are_the_shared_parse():
    f = parse_analysis_formula("y ~ x*z + (1|g)")
    assert f.terms == parse_terms("y ~ x*z + (1|g)")
    assert f.terms.fixed == (
        Variable("x"),
        Variable("z"),
        Interaction((Variable("x"), Variable("z"))),
    )
    assert f.terms.random == (RandomTerm((), True, "g"),)
