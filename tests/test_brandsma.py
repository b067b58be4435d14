"""brandsma `lpo + iqv ~ 1 + (1|sch)`: the reference posterior and convergence with defaults.

Reference (docs/reference.md): the posterior of the imputation model on
standardised (lpo, iqv), NUTS 2 x 1000 draws: level-1 sds 0.898 / 0.937, correlation
0.605; cluster sds 0.49 / 0.378, correlation 0.753; means -0.055 / -0.024.

Tolerance for each posterior mean: 4 combined Monte Carlo standard errors plus half a unit
of the reference's last printed digit. Our MCSE is posterior sd / sqrt(ESS); for the
reference we assume an ESS of at least 500 from its 2000 draws (ours, with the same
model, reach 3000 from 4000).
"""

import numpy as np
import pytest
from arviz_stats.base import array_stats

import jmimpute as jm

REFERENCE = {
    # name: (value, half a unit of its last digit)
    "sd_lpo": (0.898, 0.0005),
    "sd_iqv": (0.937, 0.0005),
    "cor": (0.605, 0.0005),
    "psi_sd_lpo": (0.49, 0.005),
    "psi_sd_iqv": (0.378, 0.0005),
    "psi_cor": (0.753, 0.0005),
    "mean_lpo": (-0.055, 0.0005),
    "mean_iqv": (-0.024, 0.0005),
}
REFERENCE_ESS = 500


@pytest.fixture(scope="module")
def imp(brandsma_imputation):
    return brandsma_imputation


def standardised_quantities(post):
    s, p, b = post["sigma"], post["psi"], post["beta"]
    return {
        "sd_lpo": np.sqrt(s[:, :, 0, 0]),
        "sd_iqv": np.sqrt(s[:, :, 1, 1]),
        "cor": s[:, :, 0, 1] / np.sqrt(s[:, :, 0, 0] * s[:, :, 1, 1]),
        "psi_sd_lpo": np.sqrt(p[:, :, 0, 0]),
        "psi_sd_iqv": np.sqrt(p[:, :, 1, 1]),
        "psi_cor": p[:, :, 0, 1] / np.sqrt(p[:, :, 0, 0] * p[:, :, 1, 1]),
        "mean_lpo": b[:, :, 0, 0],
        "mean_iqv": b[:, :, 0, 1],
    }


def test_reference_posterior_within_monte_carlo_error(imp):
    post = imp.tree["standardised_posterior"]
    for name, draws in standardised_quantities(post).items():
        values = draws.to_numpy()
        ess = float(array_stats.ess(values, chain_axis=0, draw_axis=1, method="bulk"))
        sd = values.std()
        tol = 4 * np.hypot(sd / np.sqrt(ess), sd / np.sqrt(REFERENCE_ESS)) + REFERENCE[name][1]
        assert abs(values.mean() - REFERENCE[name][0]) <= tol, (name, values.mean(), tol)


def test_converges_with_defaults(imp):
    table = imp.rhat()
    assert (table["max_r_hat"] <= 1.01).all(), table
    assert (table["min_ess_bulk"] >= 400).all(), table
    assert (table["min_ess_tail"] >= 400).all(), table
    assert imp.summary().converged


def test_standardised_scale_uses_observed_mean_and_sd(imp):
    data = jm.datasets.load_brandsma()
    attrs = imp.tree["standardised_posterior"].attrs
    np.testing.assert_allclose(attrs["y_center"], data[["lpo", "iqv"]].mean())
    np.testing.assert_allclose(attrs["y_scale"], data[["lpo", "iqv"]].std())
