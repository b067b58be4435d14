import pytest

from jmimpute.spec.formula import FormulaError, parse_formula


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
        ("lpo ~ x * z", r"expected '\+'"),
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
