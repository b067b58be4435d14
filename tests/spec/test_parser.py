import pytest

from jmimpute.spec.parser import FormulaError, parse_terms
from jmimpute.spec.terms import (
    Call,
    CentredWithinCluster,
    ClusterMean,
    Interaction,
    Intercept,
    Piece,
    Power,
    RandomTerm,
    Variable,
    quote,
    render,
)

x, z, w = Variable("x"), Variable("z"), Variable("w")
a, b, c = Variable("a"), Variable("b"), Variable("c")


def ix(*factors):
    return Interaction(tuple(factors))


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("y ~ x", (x,)),
        ("y ~ x:w", (ix(x, w),)),
        ("y ~ x*w", (x, w, ix(x, w))),
        ("y ~ x * w", (x, w, ix(x, w))),
        ("y ~ a*b*c", (a, b, c, ix(a, b), ix(a, c), ix(b, c), ix(a, b, c))),
        # ':' binds tighter than '*', as in R
        ("y ~ x*z:w", (x, ix(z, w), ix(x, z, w))),
        ("y ~ a:b:c", (ix(a, b, c),)),
        # repeats are one term: x*x is x, x:x is x, z:x is x:z
        ("y ~ x*x", (x,)),
        ("y ~ x:x", (x,)),
        ("y ~ x:z + z:x + x", (ix(x, z), x)),
        # '-' removes terms, as in R
        ("y ~ x*z - x:z", (x, z)),
        ("y ~ a*b*c - a:b:c - b", (a, c, ix(a, b), ix(a, c), ix(b, c))),
        ("y ~ I(x**2)", (Power("x", 2),)),
        ("y ~ I(x^3)", (Power("x", 3),)),
        ("y ~ I( `a b` ** 2 )", (Power("a b", 2),)),
        ("y ~ mean(x) + cwc(`a b`)", (ClusterMean("x"), CentredWithinCluster("a b"))),
        ("y ~ C(den)", (Call("C", "den", ("den",)),)),
        ("y ~ factor(den)", (Call("factor", "den", ("den",)),)),
        ("y ~ np.log(x)", (Call("np.log", "x", ("x",)),)),
        ("y ~ center(x)", (Call("center", "x", ("x",)),)),
        ("y ~ I(a + b)", (Call("I", "a + b", ("a", "b")),)),
        ("y ~ I(x**0.5)", (Call("I", "x**0.5", ("x",)),)),
        ("y ~ I(x * 1.5 + .5)", (Call("I", "x * 1.5 + .5", ("x",)),)),
        ('y ~ Q("a b")', (Call("Q", '"a b"', ("a b",)),)),
        (
            'y ~ C(den, Treatment(reference="a"))',
            (Call("C", 'den, Treatment(reference="a")', ("den",)),),
        ),
        ("y ~ scale(x, with_mean=False)", (Call("scale", "x, with_mean=False", ("x",)),)),
        ("y ~ C(den):x", (ix(Call("C", "den", ("den",)), x),)),
        ("y ~ I(x**2)*z", (Power("x", 2), z, ix(Power("x", 2), z))),
        ("y ~ 1", ()),
        ("y ~ (1|g)", ()),
    ],
)
def test_fixed_terms(text, fixed):
    assert parse_terms(text).fixed == fixed


@pytest.mark.parametrize(
    ("text", "intercept"),
    [
        ("y ~ x", True),
        ("y ~ 1 + x", True),
        ("y ~ 0 + x", False),
        ("y ~ x - 1", False),
        ("y ~ -1 + x", False),
        ("y ~ x - 0", True),
        ("y ~ 0 + x + 1", True),  # the last one wins
    ],
)
def test_fixed_intercept(text, intercept):
    assert parse_terms(text).intercept is intercept


def test_two_random_terms_with_different_groups():
    f = parse_terms("y ~ x + (1|sch) + (1 + x|class)")
    assert f.random == (
        RandomTerm((), True, "sch"),
        RandomTerm((x,), True, "class"),
    )
    assert f.fixed == (x,)
    assert [r.source for r in f.random] == ["(1|sch)", "(1 + x|class)"]
    assert [r.pos for r in f.random] == [8, 18]
    assert f.variables == ("y", "x", "sch", "class")


@pytest.mark.parametrize(
    ("text", "random"),
    [
        ("y ~ (x|g)", RandomTerm((x,), True, "g")),
        ("y ~ (1 + x|g)", RandomTerm((x,), True, "g")),
        ("y ~ (0 + x|g)", RandomTerm((x,), False, "g")),
        ("y ~ (x - 1|g)", RandomTerm((x,), False, "g")),
        ("y ~ (x*z | `my group`)", RandomTerm((x, z, ix(x, z)), True, "my group")),
        ("y ~ (1 + I(x^2) | g)", RandomTerm((Power("x", 2),), True, "g")),
    ],
)
def test_random_term(text, random):
    assert parse_terms(text).random == (random,)


def test_random_term_renders_its_effects_as_written():
    (r,) = parse_terms("y ~ x + ( 0 + x + factor(d) | g )").random
    assert r.effects_text() == "0 + x + factor(d)"
    assert r.effects_text(patsy=True) == "0 + x + C(d)"
    assert r.effects == (x, Call("factor", "d", ("d",)))
    assert r.intercept is False
    assert r.variables == ("x", "d", "g")


def test_backticked_names():
    f = parse_terms("`a b` ~ `c d` + `c d`:x + (1 + `c d`|`my group`)")
    cd = Variable("c d")
    assert f.outcomes == (Variable("a b"),)
    assert f.fixed == (cd, ix(cd, x))
    assert f.random == (RandomTerm((cd,), True, "my group"),)
    assert f.fixed[0].source == "`c d`"
    assert f.fixed[1].source == "`c d`:x"
    assert f.variables == ("a b", "c d", "x", "my group")


def test_pieces_keep_what_was_written():
    f = parse_terms("y ~ 1 + x*z - x:z + factor(d) + (1|g)")
    assert [(p.sign, p.source, p.patsy) for p in f.rhs] == [
        ("+", "1", "1"),
        ("+", "x*z", "x*z"),
        ("-", "x:z", "x:z"),
        ("+", "factor(d)", "C(d)"),
        ("+", "(1|g)", "(1|g)"),
    ]
    assert [p.pos for p in f.rhs] == [4, 8, 14, 20, 32]
    assert f.rhs[1].terms == (x, z, ix(x, z))
    assert f.rhs[0].terms == (Intercept(True),)
    assert render(f.rhs) == "1 + x*z - x:z + factor(d) + (1|g)"
    assert f.fixed_formula() == "y ~ 1 + x*z - x:z + factor(d)"
    assert f.fixed_formula(patsy=True) == "y ~ 1 + x*z - x:z + C(d)"


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("y ~ x * z", "y ~ x * z"),
        ("y ~ 0 + x", "y ~ 0 + x"),
        ("y ~ x - 1", "y ~ x - 1"),
        ("y ~ -1 + x", "y ~ -1 + x"),
        ("y~x+z", "y ~ x + z"),
        ("y ~ (1|g)", "y ~ 1"),
        ("y ~ I(x^2) + I(x ** 3)", "y ~ I(x**2) + I(x ** 3)"),
        ("log(y) ~ factor(d):x", "log(y) ~ C(d):x"),
    ],
)
def test_fixed_formula_for_patsy(text, fixed):
    assert parse_terms(text).fixed_formula(patsy=True) == fixed


def test_intercept_terms_carry_their_sign():
    f = parse_terms("y ~ x - 1")
    assert f.rhs[1] == Piece("-", (Intercept(False),), "1", "1")
    assert f.rhs[1].terms[0].source == "1"


def test_term_variables():
    cd = Call("C", "den", ("den",))
    assert x.variables == ("x",)
    assert Intercept().variables == ()
    assert Power("x", 2).variables == ("x",)
    assert ClusterMean("x").variables == ("x",)
    assert CentredWithinCluster("x").variables == ("x",)
    assert Call("I", "a + b + a", ("a", "b")).variables == ("a", "b")
    assert ix(x, cd, Power("x", 2)).variables == ("x", "den")
    assert RandomTerm((x, ix(x, z)), True, "g").variables == ("x", "z", "g")


def test_terms_know_their_source_and_position():
    f = parse_terms("y ~ x + np.log(z) + I(x^2) + mean(w) + cwc(w)")
    assert [(t.source, t.pos) for t in f.fixed] == [
        ("x", 4),
        ("np.log(z)", 8),
        ("I(x^2)", 20),
        ("mean(w)", 29),
        ("cwc(w)", 39),
    ]
    assert [t.patsy() for t in f.fixed] == ["x", "np.log(z)", "I(x**2)", "mean(w)", "cwc(w)"]


def test_outcomes():
    assert parse_terms("y1 + y2 ~ 1").outcomes == (Variable("y1"), Variable("y2"))
    assert parse_terms("log(y) ~ 1").outcomes == (Call("log", "y", ("y",)),)
    assert parse_terms("~ x").outcomes == ()


def test_quote_and_render_without_source():
    assert quote("x.1_b") == "x.1_b"
    assert quote("a b") == "`a b`"
    assert Power("a b", 2).patsy() == "I(`a b`**2)"
    assert Call("factor", "d").patsy() == "C(d)"
    assert render(()) == ""


def _pointer(err: FormulaError) -> int:
    return str(err).splitlines()[-1].index("^") - 4


@pytest.mark.parametrize(
    ("text", "message", "pos"),
    [
        ("y x", "exactly one '~'", 3),
        ("y ~ ", "term is missing", 4),
        ("y ~ x + + z", "term is missing", 8),
        ("y ~ x z", r"expected '\+' between terms, found 'z'", 6),
        ("y ~ 2 + x", "only 0 and 1", 4),
        ("y ~ 1:x", "intercept '1' cannot be part of a product", 5),
        ("y ~ x:2", "a number cannot be part of a product", 6),
        ("y ~ x*", "formula ends where a term was expected", 6),
        ("y ~ (a + b):c", "parentheses can only hold a random term", 4),
        ("y ~ x:(1|g)", "parentheses can only hold a random term", 6),
        ("y ~ x + (1|g", r"this '\(' is never closed", 8),
        ("y ~ np.log(x", r"the '\(' of np.log\( is never closed", 10),
        ("y ~ `a b + x", "backtick is never closed", 4),
        ("y ~ mean(x + 1)", r"mean\(\) takes one column name", 9),
        ("y ~ cwc()", r"cwc\(\) takes one column name", 8),
        ("y ~ .", "all other columns", 4),
        ("y ~ x + (|g)", r"the random term '\(\|g\)' is empty; write \(1 \| g\)", 8),
        ("y ~ x + (1 + |g)", "term is missing", 13),
        ("y ~ x + (0|g)", "no effects left", 8),
        ("y ~ x + (1||g)", "'||'", 11),
        ("y ~ x + (1|g + h)", "must be one column name, found '[+]'", 13),
        ("y ~ x + (1|g/h)", "must be one column name, found '/'", 12),
        ("y ~ x + (1|1)", "must be one column name, found '1'", 11),
        ("y ~ x + (1|factor(g))", r"must be one column name, found '\('", 17),
        ("y ~ x + ((1|g)|h)", "cannot be nested", 9),
        ("y ~ x - (1|g)", "cannot be removed", 8),
        ("1 ~ x", "only variable names", 0),
        ("y*z ~ x", "only variable names", 0),
        ("y + (1|g) ~ x", "only variable names", 4),
        ("y ~ x ? z", "expected '[+]' between terms, found '[?]'", 6),
    ],
)
def test_errors_point_at_the_problem(text, message, pos):
    with pytest.raises(FormulaError, match=message) as info:
        parse_terms(text)
    assert text in str(info.value)
    assert _pointer(info.value) == pos


def test_not_a_string():
    with pytest.raises(TypeError, match="must be a string"):
        parse_terms(None)  # type: ignore[arg-type]
