"""A malformed analysis formula is refused once, before any set is fitted."""

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm
from jmimpute.analysis import analyze as analyze_module


@pytest.fixture
def sets() -> list[pd.DataFrame]:
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(10), 5)
    return [
        pd.DataFrame({"g": g, "x": rng.normal(size=50), "y": rng.normal(size=50)}) for _ in range(3)
    ]


@pytest.fixture
def fits_made(monkeypatch):
    """How many per-set fits analyze started."""
    calls = []
    real = analyze_module.fit_statsmodels

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(analyze_module, "fit_statsmodels", counting)
    return calls


@pytest.mark.parametrize(
    ("formula", "message", "pointed"),
    [
        ("y ~ x +", "a term is missing here", ""),
        ("y ~ (1|", r"this '\(' is never closed", "(1|"),
        ("y ~ x + (1|g", r"this '\(' is never closed", "(1|g"),
        # parsed, then refused by the formula engine on the first set, not m times
        ("y ~ foo(x) + (1|g)", r"cannot be evaluated .*name 'foo' is not defined", "foo(x)"),
        ("y ~ I(x +)", "cannot be evaluated .*SyntaxError", "I(x +)"),
        ("y ~ C(x, Foo)", "cannot be evaluated .*name 'Foo' is not defined", "C(x, Foo)"),
    ],
)
def test_malformed_formula_fails_once_before_any_fit(sets, fits_made, formula, message, pointed):
    with pytest.raises(jm.FormulaError, match=message) as err:
        jm.analyze(sets, formula, progressbar=False)
    assert fits_made == []
    text, pointer = str(err.value).splitlines()[-2:]
    assert text.strip() == formula
    # the caret stands under the term (text and pointer are both indented by 4)
    assert text[pointer.index("^") :].startswith(pointed)


def test_unknown_column_fails_before_any_fit(sets, fits_made):
    with pytest.raises(ValueError, match=r"names 'z', which is neither a column"):
        jm.analyze(sets, "y ~ x + z + (1|g)", progressbar=False)
    assert fits_made == []


def test_python_functions_are_evaluated_as_the_fits_evaluate_them(sets):
    fits = jm.analyze(sets, "y ~ np.exp(x) + (1|g)", progressbar=False)
    assert list(fits.pool().table.index) == ["(Intercept)", "np.exp(x)"]


def test_problems_of_the_data_are_still_reported_by_set(sets):
    calls = []

    def flaky(data):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("no variance")
        return data["x"] * 2

    with pytest.raises(jm.AnalysisError, match=r"(?s)failed on 1 of 3 .*set 2: .*no variance"):
        jm.analyze(sets, "y ~ x2 + (1|g)", derive={"x2": flaky}, progressbar=False)
