"""The built and compiled imputation model behind a result, kept for reuse in a session."""

from __future__ import annotations

from dataclasses import dataclass

import pymc as pm

from jmimpute.design.standardised import Design
from jmimpute.models.collapsed.build import Layout


@dataclass(eq=False)
class FittedModel:
    """What :func:`jmimpute.impute` built, so that a re-run need not build or compile again.

    Attributes
    ----------
    design : Design
        The standardised design (data, targets and covariates).
    model : pymc.Model
        The PyMC model; its prior hyperparameters are shared data.
    layout : Layout
        How the sampler output maps to the design.
    compiled : object or None
        nutpie's compiled model (None for PyMC's sampler, or until first compiled).
    compiled_with : tuple or None
        The backend and the prior values ``compiled`` was made with: a Numba model takes
        new priors as shared data, a JAX model (which freezes them) only the same ones.
    """

    design: Design
    model: pm.Model
    layout: Layout
    compiled: object | None = None
    compiled_with: tuple | None = None

    def reusable(self, backend: str, priors: dict[str, float]) -> object | None:
        """The compiled model if a run with ``backend`` and these prior values may reuse it."""
        if self.compiled is None or self.compiled_with is None:
            return None
        was_backend, was_priors = self.compiled_with
        if was_backend != backend or (backend != "numba" and was_priors != priors):
            return None
        return self.compiled
