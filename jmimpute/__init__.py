"""jmimpute: Bayesian joint-model multiple imputation of multilevel data, sampled with NUTS.

The verb chain, as in mitml::

    import jmimpute as jm
    data = jm.datasets.load_brandsma()
    jm.missingness(data, cluster="sch")  # per variable, patterns, complete rows
    imp = jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=20, random_seed=1)
    imp.summary()       # missingness and convergence
    imp.complete(1)     # a completed DataFrame
    jm.pool(estimates, variances)   # Rubin's rules on plain arrays
    imp.to_netcdf("brandsma.nc"); jm.load_imputation("brandsma.nc")  # save and load
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from jmimpute import datasets, plots, testing
from jmimpute.analysis.analyze import AnalysisError, analyze
from jmimpute.analysis.derive import cluster_centre, cluster_mean
from jmimpute.impute import ConvergenceWarning, impute
from jmimpute.missingness import MissingnessSummary, missingness
from jmimpute.pooling import d1_test, d2_test, pool
from jmimpute.results.imputation import Imputation, ImputationSummary
from jmimpute.results.io import load_imputation
from jmimpute.sensitivity import SensitivityResult, TippingPoint, compare_models, sensitivity
from jmimpute.spec import FormulaError, ImputationSpec, Priors, specify

logging.getLogger("jmimpute").addHandler(logging.NullHandler())

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
