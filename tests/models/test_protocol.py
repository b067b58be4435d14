"""The seam: the pipeline calls a model only through the protocol, and judges whatever
parameters the model declares."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest

import jmimpute as jm
from jmimpute.models import MODELS, CollapsedModel, LatentModel, model_for
from jmimpute.models.protocol import ImputationModel, ParameterGroup
from jmimpute.testing import simulate_two_level


class WithExtra(CollapsedModel):
    """The collapsed model with one more parameter, in a group of its own."""

    name = "with_extra"

    def build(self, design, spec):
        built = super().build(design, spec)
        with built.model:
            pm.Normal("extra_s", 0.0, 1.0)
        built.keep.append("extra_s")
        built.judged = (*built.judged, "extra_s")
        return built

    def posterior(self, design, draws):
        posterior, standardised = super().posterior(design, draws)
        group = ParameterGroup("extra things").attrs()
        posterior["extra"] = (("chain", "draw"), draws.values["extra_s"], group)
        return posterior, standardised


def test_the_registered_models_follow_the_protocol():
    for name, model in MODELS.items():
        assert isinstance(model, ImputationModel) and model.name == name
    assert isinstance(model_for("collapsed"), CollapsedModel)
    assert isinstance(model_for("latent"), LatentModel)
    with pytest.raises(ValueError, match="no imputation model is registered as method='gibbs'"):
        model_for("gibbs")


def test_a_new_parameter_of_a_model_is_judged(monkeypatch):
    """Declared by the model, it reaches the convergence table, the groups and the report,
    and the checkpoints of ``draws=None`` read it (it is among ``judged``)."""
    import jmimpute.spec.model as spec_model

    monkeypatch.setitem(MODELS, "with_extra", WithExtra())
    monkeypatch.setattr(spec_model, "METHODS", (*spec_model.METHODS, "with_extra"))
    sim = simulate_two_level(n_clusters=12, cluster_size=8, p=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        imp = jm.impute(
            sim.data, sim.formula, method="with_extra", chains=2, tune=100, draws=100, m=2,
            random_seed=1, progressbar=False,
        )  # fmt: skip
    table = imp.convergence()
    assert table.loc["extra", "group"] == "extra things"
    assert np.isfinite(table.loc["extra", "r_hat"]) and table.loc["extra", "ess_bulk"] > 0
    assert "extra things" in imp.rhat().index
    assert "extra things" in imp.convergence_report().table.index
    assert imp.posterior["extra"].attrs["group"] == "extra things"
    assert "extra_s" in imp._built.judged


def test_the_methods_users_choose_are_the_registered_models():
    import jmimpute.spec.model as spec_model

    assert set(spec_model.METHODS) == set(MODELS)


class BuildOnly(CollapsedModel):
    """A new parameter added in ``build`` alone: the model converts nothing for it."""

    name = "build_only"

    def build(self, design, spec):
        built = super().build(design, spec)
        with built.model:
            pm.Normal("added_s", 0.0, 1.0)
        built.keep.append("added_s")
        built.judged = (*built.judged, "added_s")
        return built


def test_a_parameter_the_model_does_not_convert_is_still_judged(monkeypatch):
    """Kept by the sampler but unknown to the posterior's conversion: judged, by its name."""
    import jmimpute.spec.model as spec_model

    monkeypatch.setitem(MODELS, "build_only", BuildOnly())
    monkeypatch.setattr(spec_model, "METHODS", (*spec_model.METHODS, "build_only"))
    sim = simulate_two_level(n_clusters=12, cluster_size=8, p=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        imp = jm.impute(
            sim.data, sim.formula, method="build_only", chains=2, tune=100, draws=100, m=2,
            random_seed=1, progressbar=False,
        )  # fmt: skip
    table = imp.convergence()
    assert table.loc["added_s", "group"] == "added_s"
    assert "added_s" in imp.rhat().index
