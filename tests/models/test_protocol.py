"""The seam: the pipeline calls a model only through the protocol, and judges whatever
parameters the model declares."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest

import jmimpute as jm
import jmimpute.spec.model as spec_model
from jmimpute.models import MODELS, CollapsedModel, LatentModel, model_for
from jmimpute.models.protocol import ImputationModel, ParameterGroup
from jmimpute.testing import simulate_two_level


class BuildOnly(CollapsedModel):
    """The collapsed model with one more parameter, added in ``build`` alone."""

    name = "build_only"
    added = "added_s"

    def build(self, design, spec):
        built = super().build(design, spec)
        with built.model:
            pm.Normal(self.added, 0.0, 1.0)
        built.keep.append(self.added)
        built.judged = (*built.judged, self.added)
        return built


class WithExtra(BuildOnly):
    """... and declared, in a group of its own, on the data's scale as ``extra``."""

    name = "with_extra"
    added = "extra_s"

    def posterior(self, design, draws):
        posterior, standardised = super().posterior(design, draws)
        group = ParameterGroup("extra things").attrs()
        posterior = posterior.drop_vars(self.added)  # judged once, under its own name
        posterior["extra"] = (("chain", "draw"), draws.values[self.added], group)
        return posterior, standardised


def _impute_with(model, monkeypatch):
    """A short run of a small simulation with ``model`` registered as a method."""
    monkeypatch.setitem(MODELS, model.name, model)
    monkeypatch.setattr(spec_model, "METHODS", (*spec_model.METHODS, model.name))
    sim = simulate_two_level(n_clusters=12, cluster_size=8, p=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return jm.impute(
            sim.data, sim.formula, method=model.name, chains=2, tune=100, draws=100, m=2,
            random_seed=1, progressbar=False,
        )  # fmt: skip


def test_the_registered_models_follow_the_protocol():
    for name, model in MODELS.items():
        assert isinstance(model, ImputationModel) and model.name == name
    assert isinstance(model_for("collapsed"), CollapsedModel)
    assert isinstance(model_for("latent"), LatentModel)
    with pytest.raises(ValueError, match="no imputation model is registered as method='gibbs'"):
        model_for("gibbs")


def test_the_methods_users_choose_are_the_registered_models():
    assert set(spec_model.METHODS) == set(MODELS)


def test_a_new_parameter_of_a_model_is_judged(monkeypatch):
    """Declared by the model, it reaches the convergence table, the groups and the report,
    and the checkpoints of ``draws=None`` read it (it is among ``judged``)."""
    imp = _impute_with(WithExtra(), monkeypatch)
    table = imp.convergence()
    assert table.loc["extra", "group"] == "extra things"
    assert np.isfinite(table.loc["extra", "r_hat"]) and table.loc["extra", "ess_bulk"] > 0
    assert "extra things" in imp.rhat().index
    assert "extra things" in imp.convergence_report().table.index
    assert imp.posterior["extra"].attrs["group"] == "extra things"
    assert "extra_s" in imp._built.judged


def test_a_parameter_the_model_does_not_convert_is_still_judged(monkeypatch):
    """Kept by the sampler but unknown to the posterior's conversion: judged, by its name."""
    imp = _impute_with(BuildOnly(), monkeypatch)
    table = imp.convergence()
    assert table.loc["added_s", "group"] == "added_s"
    assert "added_s" in imp.rhat().index
