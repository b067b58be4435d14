"""Reduction (design note, check 1): with an analysis model linear in the incomplete
variables and random intercepts only, the substantive model and the joint model carry the
same information, so their pooled estimates on brandsma agree within Monte Carlo error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import jmimpute as jm

ANALYSIS = "lpo ~ iqv + (1 | sch)"


@pytest.mark.slow
def test_substantive_and_joint_pooled_estimates_agree_on_brandsma():
    """Each pooled estimate is a mean over m imputations: its Monte Carlo standard error is
    about ``sqrt(B / m)`` (B the between-imputation variance). The two methods' estimates
    differ by less than 4 standard errors of the difference."""
    data = jm.datasets.load_brandsma()
    m = 40
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        sub = jm.impute(data, analysis=ANALYSIS, m=m, random_seed=3, progressbar=False)
        joint = jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=m, random_seed=3, progressbar=False)
    tables = []
    for imp in (sub, joint):
        pooled = jm.analyze(imp, ANALYSIS, progressbar=False).pool().table
        between = pooled["riv"] * (pooled["std_error"] ** 2) / (1 + pooled["riv"])
        tables.append((pooled["estimate"], between * m / (m + 1)))
    (a, ba), (b, bb) = tables
    se = np.sqrt(ba / m + bb / m)
    z = (a - b).abs() / se
    assert (z < 4).all(), z
