"""The built and compiled imputation model behind a result, kept for reuse in a session."""

from __future__ import annotations

from dataclasses import dataclass

import pymc as pm

from jmimpute.backend.model import Layout
from jmimpute.design import Design


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
    """

    design: Design
    model: pm.Model
    layout: Layout
    compiled: object | None = None
