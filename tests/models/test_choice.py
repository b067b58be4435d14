"""``method`` not given: the joint model chosen from the data (jmimpute/models/choice.py)."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from jmimpute.models import choice
from jmimpute.models.collapsed.model import stored_gigabytes
from jmimpute.spec.model import build_spec, nuts_defaults, spec_arguments
from tests.helpers import design_for

FORMULA = "y + b ~ 1 + (1|g)"


def _frame(rows: int = 120, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(rows // 6), 6)
    frame = pd.DataFrame(
        {
            "g": g,
            "y": rng.normal(size=rows),
            "w": pd.Categorical(np.where(g % 2 == 0, "x", "z")),
            "b": pd.Categorical(np.where(rng.normal(size=rows) > 0, "yes", "no")),
            "o": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], rows), categories=["lo", "mid", "hi"], ordered=True
            ),
        }
    )
    frame.loc[::7, "y"] = np.nan
    frame.loc[::5, "b"] = np.nan
    frame.loc[::9, "o"] = np.nan
    return frame


def _chosen(formula: str | list[str] = FORMULA, **options: object):
    spec = build_spec(formula, **options)
    design = design_for(_frame(), formula, **options)
    return spec, design, choice.choose_method(spec, design)


def test_the_default_is_recorded_as_not_given():
    spec = build_spec(FORMULA, categorical=["b"])
    assert (spec.method, spec.auto_method) == ("collapsed", True)
    assert spec_arguments(spec)["method"] is None  # a model file or re-run chooses again
    given = build_spec(FORMULA, categorical=["b"], method="collapsed")
    assert (given.method, given.auto_method) == ("collapsed", False)
    assert spec_arguments(given)["method"] == "collapsed"


def test_analysis_without_method_is_the_substantive_model(monkeypatch):
    """``jm.specify(formula, analysis=...)`` needs no ``method``, and is not a choice."""
    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    spec = build_spec(FORMULA, analysis="y ~ b + (1|g)", categorical=["b"])
    assert (spec.method, spec.auto_method) == ("substantive", False)
    assert choice.choose_method(spec, design_for(_frame(), FORMULA, categorical=["b"])) is spec


def test_an_unknown_method_names_the_way_to_choose_none():
    with pytest.raises(ValueError, match=r"got 'auto'; or leave it out, and jmimpute chooses"):
        build_spec(FORMULA, method="auto")


def test_analysis_with_the_collapsed_method_is_refused():
    """``method="collapsed"`` no longer doubles as the default: with ``analysis`` it is an
    error, as in ``jm.specify`` and model files."""
    import jmimpute as jm

    with pytest.raises(ValueError, match="cannot be combined with it"):
        jm.impute(_frame(), analysis="y ~ b + (1|g)", method="collapsed")


def test_the_choice_keeps_the_nuts_settings():
    """A spec's warm-up and target were filled in for the collapsed model before the data
    were read; the choice may switch to the augmented model only because they agree."""
    assert nuts_defaults("augmented", "common") == nuts_defaults("collapsed", "common")


def test_small_stores_keep_the_collapsed_model():
    spec, design, chosen = _chosen(categorical=["b"])
    assert stored_gigabytes(design, spec) < choice.AUGMENTED_ABOVE_GB
    assert chosen is spec


def test_large_stores_choose_the_augmented_model(monkeypatch, caplog):
    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    with caplog.at_level(logging.INFO, logger="jmimpute"):
        spec, _, chosen = _chosen(categorical=["b"])
    assert (chosen.method, chosen.auto_method) == ("augmented", True)
    assert chosen.sampler == spec.sampler
    assert "method='augmented'" in caplog.text and "method='collapsed' to keep" in caplog.text


def test_a_spec_chosen_for_other_data_is_chosen_again(monkeypatch):
    """``jm.impute(data, imp.spec)``: the method a spec holds from its first data is not
    kept when the method was chosen; ``refit`` keeps it (tested below)."""
    spec = build_spec(FORMULA, categorical=["b"])
    design = design_for(_frame(), FORMULA, categorical=["b"])
    chosen_before = replace(spec, method="augmented")
    assert choice.choose_method(chosen_before, design) == spec  # small data: collapsed
    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    assert choice.choose_method(chosen_before, design).method == "augmented"


def test_a_given_method_is_never_replaced(monkeypatch):
    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    spec, _, chosen = _chosen(categorical=["b"], method="collapsed")
    assert chosen is spec


@pytest.mark.parametrize(
    ("formula", "options", "reason"),
    [
        ("y + o ~ 1 + (1|g)", {"ordinal": ["o"]}, "'o' (ordinal)"),
        (FORMULA, {"categorical": ["b"], "sampler": "pymc"}, "sampler='pymc'"),
        (
            FORMULA,
            {"categorical": ["b"], "cluster_covariance": "random", "backend": "numba"},
            "cluster_covariance='common'",
        ),
        ([FORMULA, "w ~ 1"], {"categorical": ["b", "w"]}, "level-2 categorical"),
    ],
)
def test_what_the_augmented_model_cannot_draw_stays_collapsed(
    monkeypatch, caplog, formula, options, reason
):
    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    with caplog.at_level(logging.INFO, logger="jmimpute"):
        spec, _, chosen = _chosen(formula, **options)
    assert chosen is spec
    assert reason in caplog.text


@pytest.mark.filterwarnings("ignore::jmimpute.diagnostics.ConvergenceWarning")
def test_impute_records_the_choice_and_refit_keeps_it(monkeypatch):
    """End to end: the choice runs the augmented sampler, the result says so, and a refit
    with other settings reuses the built model instead of choosing again (short runs:
    convergence is not the point here)."""
    import jmimpute as jm

    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    frame = _frame()
    imp = jm.impute(
        frame, FORMULA, categorical=["b"], m=2, chains=2, tune=50, draws=50,
        random_seed=1, progressbar=False,
    )  # fmt: skip
    assert (imp.spec.method, imp.spec.auto_method) == ("augmented", True)
    assert imp.tree.attrs["method"] == "augmented"
    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 1e9)  # would choose otherwise now
    again = imp.refit(draws=60)
    assert (again.spec.method, again.spec.auto_method) == ("augmented", True)


@pytest.mark.filterwarnings("ignore::jmimpute.diagnostics.ConvergenceWarning")
def test_a_specified_model_is_chosen_when_it_runs(monkeypatch):
    """``jm.specify`` reads no data, so ``jm.impute(data, spec)`` makes the choice."""
    import jmimpute as jm

    monkeypatch.setattr(choice, "AUGMENTED_ABOVE_GB", 0.0)
    spec = jm.specify(FORMULA, categorical=["b"], m=2, chains=2, tune=50, draws=50)
    assert (spec.method, spec.auto_method) == ("collapsed", True)
    frame = _frame()
    before = frame.copy(deep=True)
    imp = jm.impute(frame, spec, random_seed=2, progressbar=False)
    assert imp.spec.method == "augmented"
    pd.testing.assert_frame_equal(frame, before)  # the user's frame is not mutated
    done = imp.complete(1)
    seen = before["b"].notna()
    pd.testing.assert_series_equal(done.loc[seen, "b"], before.loc[seen, "b"])
    assert done["b"].notna().all() and set(done["b"].unique()) <= {"no", "yes"}
