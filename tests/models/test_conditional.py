"""Exact conditional draws against independent joint-normal computations."""

import numpy as np
import pytest

from jmimpute.design.suffstats import compute_stats
from jmimpute.models.joint.conditional import (
    MissingGroup,
    _draw_normal_precision,
    cluster_priors,
    conditional_normal,
    missing_groups,
    random_effect_conditional,
    shift_missing,
)

from ..problems import make_problem


@pytest.mark.parametrize("per_cluster", [False, True], ids=["common", "cluster-specific"])
def test_random_effect_moments_equal_joint_normal_conditioning(per_cluster):
    prob = make_problem(2, 2, 2, 4, 40, seed=11)
    common = prob.lsig @ prob.lsig.T
    rng = np.random.default_rng(3)
    d, p = 4, 2
    lam = np.stack([np.eye(d) * 2 + 0.1 for _ in range(4)])
    h = rng.normal(size=(4, d))
    stats, _ = compute_stats(prob.y, prob.x, prob.z, prob.cluster, 4)
    sigmas = np.stack([common * s for s in (0.5, 1.0, 2.0, 3.0)])
    if per_cluster:
        sigmas[1] += np.diag([0.3, 0.0])  # also a different correlation
    mean, chol = random_effect_conditional(
        stats, prob.beta, sigmas if per_cluster else common, lam, h
    )
    for j in range(4):
        sigma = sigmas[j] if per_cluster else common
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


def test_per_unit_covariances_give_each_unit_its_own_conditional():
    # cluster-specific covariances: one (n_g, p, p) call equals a call per unit
    rng = np.random.default_rng(8)
    n, p = 40, 3
    values = rng.normal(size=(n, p))
    observed = rng.random((n, p)) > 0.35
    mu = rng.normal(size=(n, p))
    a = rng.normal(size=(n, p, p))
    covs = a @ np.swapaxes(a, 1, 2) + np.eye(p)
    for g in missing_groups(observed):
        mean, chol = conditional_normal(values, mu, covs[g.rows], g)
        cov_g = chol @ np.swapaxes(chol, 1, 2)
        shift = rng.normal(size=(g.rows.size, g.missing.size))
        dims = np.arange(g.missing.size) == 0
        shifted = shift_missing(mean, cov_g, shift, dims)
        for u, row in enumerate(g.rows):
            one = MissingGroup(rows=np.array([row]), observed=g.observed, missing=g.missing)
            m1, c1 = conditional_normal(values, mu, covs[row], one)
            np.testing.assert_allclose(mean[u], m1[0], atol=1e-12)
            np.testing.assert_allclose(cov_g[u], c1 @ c1.T, atol=1e-12)
            s1 = shift_missing(m1, c1 @ c1.T, shift[u : u + 1], dims)
            np.testing.assert_allclose(shifted[u], s1[0], atol=1e-12)
