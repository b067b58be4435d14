"""Exact conditional draws against independent joint-normal computations."""

import numpy as np
import pandas as pd

from jmimpute.backend.conditional import (
    draw_random_effects,
    missing_conditional,
    missing_groups,
    random_effect_conditional,
)
from jmimpute.design import build_design
from jmimpute.spec.formula import parse_formula
from jmimpute.suffstats import compute_stats

from .conftest import make_problem


def test_random_effect_moments_equal_joint_normal_conditioning():
    prob = make_problem(2, 2, 2, 4, 40, seed=11)
    sigma = prob.lsig @ prob.lsig.T
    psi = prob.lpsi @ prob.lpsi.T
    mean, chol = random_effect_conditional(prob.stats, prob.beta, sigma, psi)
    p, d = 2, 4
    for j in range(prob.n_clusters):
        cells = [
            (i, v)
            for i in np.flatnonzero(prob.cluster == j)
            for v in range(p)
            if not np.isnan(prob.y[i, v])
        ]
        g = np.zeros((len(cells), d))
        for a, (i, v) in enumerate(cells):
            for col in range(2):
                g[a, col * p + v] = prob.z[i, col]
        cov_y = g @ psi @ g.T
        for a, (i, v) in enumerate(cells):
            for b, (i2, v2) in enumerate(cells):
                if i == i2:
                    cov_y[a, b] += sigma[v, v2]
        resid = np.array([prob.y[i, v] - prob.x[i] @ prob.beta[:, v] for i, v in cells])
        gain = psi @ g.T @ np.linalg.inv(cov_y)
        np.testing.assert_allclose(mean[j], gain @ resid, atol=1e-10)
        np.testing.assert_allclose(
            np.linalg.inv(chol[j] @ chol[j].T), psi - gain @ g @ psi, atol=1e-10
        )


def test_missing_cell_moments_equal_precision_form():
    rng = np.random.default_rng(5)
    n = 60
    frame = pd.DataFrame(
        {"g": np.repeat(np.arange(6), 10), "y1": rng.normal(size=n), "y2": rng.normal(size=n)}
    )
    frame["y3"] = rng.normal(size=n)
    frame.loc[rng.random(n) < 0.3, "y1"] = np.nan
    frame.loc[rng.random(n) < 0.3, "y3"] = np.nan
    design = build_design(frame, parse_formula("y1 + y2 + y3 ~ 1 + (1|g)"))
    sigma = np.array([[1.0, 0.4, 0.2], [0.4, 1.5, -0.3], [0.2, -0.3, 0.8]])
    beta = np.array([[0.1, -0.2, 0.3]])
    effects = rng.normal(size=(6, 1, 3))
    q_mat = np.linalg.inv(sigma)
    for g in missing_groups(design):
        mean, chol = missing_conditional(design, g, beta, sigma, effects)
        m, o = g.missing, g.observed
        q_mm = q_mat[np.ix_(m, m)]
        np.testing.assert_allclose(chol @ chol.T, np.linalg.inv(q_mm), atol=1e-12)
        mu = beta[0] + effects[design.cluster[g.rows], 0]
        expected = (
            mu[:, m]
            - (design.y[np.ix_(g.rows, o)] - mu[:, o])
            @ (np.linalg.solve(q_mm, q_mat[np.ix_(m, o)])).T
        )
        np.testing.assert_allclose(mean, expected, atol=1e-12)


def test_random_effect_draws_have_the_conditional_moments():
    # Monte Carlo check of the sampling step itself; 40000 draws give a standard error
    # of about 0.005 sd on the mean, and the tolerance is 5 standard errors.
    prob = make_problem(1, 1, 1, 3, 30, seed=2)
    sigma = prob.lsig @ prob.lsig.T
    psi = prob.lpsi @ prob.lpsi.T
    stats = compute_stats(prob.y, prob.x, prob.z, prob.cluster, prob.n_clusters)
    mean, chol = random_effect_conditional(stats, prob.beta, sigma, psi)
    sd = 1.0 / np.abs(chol[:, 0, 0])
    rng = np.random.default_rng(0)
    draws = np.stack([draw_random_effects(stats, prob.beta, sigma, psi, rng) for _ in range(40000)])
    draws = draws[:, :, 0, 0]
    se = sd / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(0) - mean[:, 0]) < 5 * se)
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.02)
