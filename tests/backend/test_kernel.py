"""The compiled collapsed likelihood against two independent references.

Tolerances: both references are exact in float64, so values agree to rounding
(relative 1e-9) and gradients to 1e-7 relative to their scale.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from jmimpute.backend.collapsed import collapsed_loglik

from .helpers import kernel


def brute_force_loglik(prob):
    """Sum over clusters of the joint normal density of the observed cells."""
    sigma = prob.lsig @ prob.lsig.T
    psi = prob.lpsi @ prob.lpsi.T
    p = sigma.shape[0]
    total = 0.0
    for j in range(prob.n_clusters):
        cells = [(i, v) for i in np.flatnonzero(prob.cluster == j) for v in range(p)]
        cells = [(i, v) for i, v in cells if not np.isnan(prob.y[i, v])]
        if not cells:
            continue
        mean = np.array([prob.x[i] @ prob.beta[:, v] for i, v in cells])
        # y_iv = ... + sum_l z_il U[l, v]; vec_r(U) index l * p + v
        design = np.zeros((len(cells), prob.lpsi.shape[0]))
        for a, (i, v) in enumerate(cells):
            for col in range(prob.z.shape[1]):
                design[a, col * p + v] = prob.z[i, col]
        cov = design @ psi @ design.T
        for a, (i, v) in enumerate(cells):
            for b, (i2, v2) in enumerate(cells):
                if i == i2:
                    cov[a, b] += sigma[v, v2]
        obs = np.array([prob.y[i, v] for i, v in cells])
        total += multivariate_normal(mean, cov).logpdf(obs)
    return total


def reference_graph(prob):
    ls, lp, b = pt.dmatrix("ls"), pt.dmatrix("lp"), pt.dmatrix("b")
    psi_inv = pt.linalg.matrix_inverse(lp @ lp.T)
    logdet = 2.0 * pt.log(pt.diagonal(lp)).sum()
    value = collapsed_loglik(b, ls @ ls.T, psi_inv, logdet, prob.stats)
    fn = pytensor.function(
        [ls, lp, b], [value, *pytensor.grad(value, [ls, lp, b])], mode="FAST_COMPILE"
    )
    return fn(prob.lsig, prob.lpsi, prob.beta)


def test_value_matches_brute_force_density(problem):
    value, _ = kernel(problem)
    assert value == pytest.approx(brute_force_loglik(problem), rel=1e-9)


def test_value_and_gradient_match_the_pytensor_graph(problem):
    value, (g_sig, g_psi, g_beta) = kernel(problem)
    ref_value, ref_sig, ref_psi, ref_beta = reference_graph(problem)
    assert value == pytest.approx(ref_value, rel=1e-9)
    for got, ref in [(g_sig, np.tril(ref_sig)), (g_psi, np.tril(ref_psi)), (g_beta, ref_beta)]:
        scale = max(1.0, np.abs(ref).max())
        np.testing.assert_allclose(got, ref, atol=1e-7 * scale)


def test_gradient_matches_finite_differences(problem):
    _, (g_sig, g_psi, g_beta) = kernel(problem)
    eps = 1e-6
    for name, grad in [("lsig", g_sig), ("lpsi", g_psi), ("beta", g_beta)]:
        base = getattr(problem, name)
        for idx in list(np.ndindex(base.shape))[:6]:
            if name != "beta" and idx[1] > idx[0]:
                continue
            step = np.zeros_like(base)
            step[idx] = eps
            up = kernel(problem, **{name: base + step})[0]
            down = kernel(problem, **{name: base - step})[0]
            assert grad[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-5)


def test_not_positive_definite_is_minus_infinity(problem):
    bad = problem.lsig.copy()
    bad[0, 0] = 0.0
    assert kernel(problem, lsig=bad)[0] == -np.inf
    bad = problem.lpsi.copy()
    bad[-1, -1] = -0.1
    assert kernel(problem, lpsi=bad)[0] == -np.inf
