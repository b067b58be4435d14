"""jmimpute: Bayesian joint-model multiple imputation of multilevel data, sampled with NUTS.

The verb chain, as in mitml::

    import jmimpute as jm
    data = jm.datasets.load_brandsma()
    jm.missingness(data, cluster="sch")  # per variable, patterns, complete rows
    imp = jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=20, random_seed=1)
    imp.summary()       # missingness and convergence
    imp.complete(1)     # a completed DataFrame
    jm.pool(estimates, variances)   # Rubin's rules on plain arrays
    jm.analyze(mice_long, "lpo ~ iqv + (1|sch)")  # completed sets made elsewhere, too
    imp.to_netcdf("brandsma.nc"); jm.load_imputation("brandsma.nc")  # save and load

Importing jmimpute is light: pooling, missingness summaries and the data sets need none of
PyMC, PyTensor, Numba or JAX, which load on the first use of what needs them (PEP 562's
module ``__getattr__`` below).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from jmimpute import datasets
from jmimpute._version import __version__
from jmimpute.diagnostics import ConvergenceWarning
from jmimpute.missingness import MissingnessSummary, missingness
from jmimpute.pooling import d1_test, d2_test, pool
from jmimpute.spec import FormulaError, ImputationSpec, Priors, specify

if TYPE_CHECKING:
    from jmimpute import analysis, plots, testing  # noqa: F401 (loaded on first use)
    from jmimpute.analysis.analyze import AnalysisError, analyze
    from jmimpute.analysis.derive import cluster_centre, cluster_mean
    from jmimpute.analysis.external import completed_sets
    from jmimpute.pipeline import impute
    from jmimpute.results.imputation import Imputation, ImputationSummary
    from jmimpute.results.load import load_imputation
    from jmimpute.sensitivity_analysis import (
        SensitivityResult,
        TippingPoint,
        compare_models,
        sensitivity,
    )

logging.getLogger("jmimpute").addHandler(logging.NullHandler())

_LAZY = {
    "AnalysisError": "jmimpute.analysis.analyze",
    "analyze": "jmimpute.analysis.analyze",
    "cluster_centre": "jmimpute.analysis.derive",
    "cluster_mean": "jmimpute.analysis.derive",
    "completed_sets": "jmimpute.analysis.external",
    "impute": "jmimpute.pipeline",
    "Imputation": "jmimpute.results.imputation",
    "ImputationSummary": "jmimpute.results.imputation",
    "load_imputation": "jmimpute.results.load",
    "SensitivityResult": "jmimpute.sensitivity_analysis",
    "TippingPoint": "jmimpute.sensitivity_analysis",
    "compare_models": "jmimpute.sensitivity_analysis",
    "sensitivity": "jmimpute.sensitivity_analysis",
}
"""Public names whose modules load on first use, and where they live."""
_SUBMODULES = ("analysis", "plots", "testing")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"jmimpute.{name}")
    else:
        raise AttributeError(f"module 'jmimpute' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AnalysisError",
    "ConvergenceWarning",
    "FormulaError",
    "Imputation",
    "ImputationSpec",
    "ImputationSummary",
    "MissingnessSummary",
    "Priors",
    "SensitivityResult",
    "TippingPoint",
    "__version__",
    "analyze",
    "cluster_centre",
    "cluster_mean",
    "compare_models",
    "completed_sets",
    "d1_test",
    "d2_test",
    "datasets",
    "impute",
    "load_imputation",
    "missingness",
    "plots",
    "pool",
    "sensitivity",
    "specify",
    "testing",
]
