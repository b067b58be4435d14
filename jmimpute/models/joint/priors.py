"""The prior hyperparameters as shared data: one vector, so a compiled model takes new priors.

Shared, not constants, so a compiled model can be re-run with other priors without
compiling again; one vector, not one shared value each, because nutpie's Numba backend
generates code per shared value (``python benchmarks/bench_compile.py --toy`` compares
them).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from jmimpute.spec.priors import Priors

PRIORS_DATA = "priors"


def prior_values(priors: Priors) -> dict[str, float]:
    """The values of the prior hyperparameters, by field name."""
    return {f.name: float(getattr(priors, f.name)) for f in fields(priors)}


def prior_shared(values: dict[str, float]) -> dict[str, np.ndarray]:
    """The shared data of the model for these :func:`prior_values`."""
    return {PRIORS_DATA: np.array(list(values.values()))}
