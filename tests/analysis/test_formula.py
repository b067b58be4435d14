import pytest

from jmimpute.analysis.formula import parse_analysis_formula


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
    ],
)
def test_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_analysis_formula(text)
