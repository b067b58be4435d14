"""Two samplers, one posterior (design note, check 2): the substantive model with the
analysis model's random effects integrated out and with them sampled agree on every
parameter within Monte Carlo error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import jmimpute as jm
from jmimpute.simulate import simulate_design


@pytest.mark.slow
def test_integrated_and_sampled_random_effects_agree():
    """Posterior means of every parameter (data scale) differ by at most 4 Monte Carlo
    standard errors of the difference, ``sqrt(sd1^2 / ess1 + sd2^2 / ess2)``: with about
    20 parameters, a false alarm has probability about 20 * 6e-5."""
    sim = simulate_design("S1", 3, clusters=60, size=8)
    runs = {}
    for method in ("substantive", "substantive_sampled"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jm.ConvergenceWarning)
            imp = jm.impute(
                sim.data, analysis=sim.analysis, auxiliary=["z"], method=method, m=2,
                draws=2000, random_seed=5, progressbar=False,
            )  # fmt: skip
        runs[method] = imp.convergence()
        assert imp.convergence()["r_hat"].max() < 1.02, method
    a, b = runs["substantive"], runs["substantive_sampled"]
    assert list(a.index) == list(b.index)
    se = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
    z = (a["mean"] - b["mean"]).abs() / se
    assert (z < 4).all(), z.sort_values().tail()
