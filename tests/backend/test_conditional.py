"""Exact conditional draws against independent joint-normal computations."""

import numpy as np

from jmimpute.backend.conditional import (
    MissingGroup,
    _draw_normal_precision,
    cluster_priors,
    conditional_normal,
    missing_groups,
    random_effect_conditional,
)
from jmimpute.suffstats import compute_stats

from .conftest import make_problem


def test_random_effect_moments_equal_joint_normal_conditioning():
    prob = make_problem(2, 2, 2, 4, 40, seed=11)
    sigma = prob.lsig @ prob.lsig.T
    rng = np.random.default_rng(3)
    d, p = 4, 2
    lam = np.stack([np.eye(d) * 2 + 0.1 for _ in range(4)])
    h = rng.normal(size=(4, d))
    stats, _ = compute_stats(prob.y, prob.x, prob.z, prob.cluster, 4)
    mean, chol = random_effect_conditional(stats, prob.beta, sigma, lam, h)
    for j in range(4):
        psi = np.linalg.inv(lam[j])
        mu_u = psi @ h[j]
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
        np.testing.assert_allclose(mean[j], mu_u + gain @ (resid - g @ mu_u), atol=1e-10)
        np.testing.assert_allclose(
            np.linalg.inv(chol[j] @ chol[j].T), psi - gain @ g @ psi, atol=1e-10
        )


def test_cluster_priors_condition_the_effects_on_level2_values():
    rng = np.random.default_rng(1)
    d, p2 = 2, 2
    a = rng.normal(size=(d + p2, d + p2))
    psi = a @ a.T + np.eye(d + p2)
    resid2 = rng.normal(size=(3, p2))
    masks = np.array([[True, True], [True, False], [False, False]])
    pattern = np.array([0, 1, 2])

    class _D:  # the two attributes cluster_priors reads
        pass

    design = _D()
    design.d, design.n_clusters = d, 3
    lam, h = cluster_priors(design, psi, resid2, masks, pattern)
    for j in range(3):
        obs = np.flatnonzero(masks[pattern[j]])
        idx_o = d + obs
        s_uo = psi[:d][:, idx_o]
        s_oo = psi[np.ix_(idx_o, idx_o)]
        cond_cov = psi[:d, :d] - s_uo @ np.linalg.solve(s_oo, s_uo.T) if obs.size else psi[:d, :d]
        cond_mean = s_uo @ np.linalg.solve(s_oo, resid2[j, obs]) if obs.size else np.zeros(d)
        np.testing.assert_allclose(np.linalg.inv(lam[j]), cond_cov, atol=1e-10)
        np.testing.assert_allclose(np.linalg.solve(lam[j], h[j]), cond_mean, atol=1e-10)


def test_missing_cell_moments_equal_precision_form():
    rng = np.random.default_rng(5)
    n, p = 60, 3
    values = rng.normal(size=(n, p))
    observed = rng.random((n, p)) > 0.3
    sigma = np.array([[1.0, 0.4, 0.2], [0.4, 1.5, -0.3], [0.2, -0.3, 0.8]])
    mu = rng.normal(size=(n, p))
    q_mat = np.linalg.inv(sigma)
    for g in missing_groups(observed):
        mean, chol = conditional_normal(values, mu, sigma, g)
        m, o = g.missing, g.observed
        q_mm = q_mat[np.ix_(m, m)]
        np.testing.assert_allclose(chol @ chol.T, np.linalg.inv(q_mm), atol=1e-12)
        expected = (
            mu[np.ix_(g.rows, m)]
            - (values[np.ix_(g.rows, o)] - mu[np.ix_(g.rows, o)])
            @ (np.linalg.solve(q_mm, q_mat[np.ix_(m, o)])).T
        )
        np.testing.assert_allclose(mean, expected, atol=1e-12)
    assert all(isinstance(g, MissingGroup) for g in missing_groups(observed))


def test_precision_draws_have_the_right_moments():
    # 40000 draws: the standard error of a mean is sd / 200; tolerance 5 standard errors,
    # and 2% on the standard deviations (their standard error is about 0.35%).
    rng = np.random.default_rng(0)
    prec = np.array([[[4.0, 1.0], [1.0, 2.0]]])
    chol = np.linalg.cholesky(prec)
    mean = np.array([[0.5, -1.0]])
    draws = np.stack([_draw_normal_precision(mean, chol, rng)[0] for _ in range(40000)])
    cov = np.linalg.inv(prec[0])
    se = np.sqrt(np.diag(cov)) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(0) - mean[0]) < 5 * se)
    np.testing.assert_allclose(draws.std(0), np.sqrt(np.diag(cov)), rtol=0.02)
