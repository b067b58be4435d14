"""The compiled collapsed likelihood against two independent references.

Tolerances: both references are exact in float64, so values agree to rounding
(relative 1e-9) and gradients to 1e-7 relative to their scale.
"""

from dataclasses import replace

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import expit
from scipy.stats import multivariate_normal

from jmimpute._kernels.kernel_latent import softplus_parts
from jmimpute._kernels.ops import KernelData
from jmimpute.models.collapsed.graph import collapsed_loglik

from .helpers import PARAMS, kernel


def brute_force_loglik(prob, sigma_cluster=None):
    """Joint normal density, cluster by cluster, of the observed level-1 cells (latent
    values included) and the observed level-2 residuals; ``sigma_cluster`` (J, p, p)
    replaces the common level-1 covariance by one per cluster."""
    common = prob.lsig @ prob.lsig.T
    psi = prob.lpsi @ prob.lpsi.T
    p = common.shape[0]
    d = prob.z.shape[1] * p
    total = 0.0
    for j in range(prob.n_clusters):
        sigma = common if sigma_cluster is None else sigma_cluster[j]
        cells = [
            (i, v)
            for i in np.flatnonzero(prob.cluster == j)
            for v in range(p)
            if prob.observed[i, v]
        ]
        obs2 = np.flatnonzero(prob.l2_observed[j]) if prob.l2_observed.size else np.array([], int)
        n1, n2 = len(cells), obs2.size
        if n1 + n2 == 0:
            continue
        # stacked loading of (y cells, f_o) on (u, f)
        load = np.zeros((n1 + n2, psi.shape[0]))
        for a, (i, v) in enumerate(cells):
            for col in range(prob.z.shape[1]):
                load[a, col * p + v] = prob.z[i, col]
        for b, o in enumerate(obs2):
            load[n1 + b, d + o] = 1.0
        cov = load @ psi @ load.T
        for a, (i, v) in enumerate(cells):
            for b, (i2, v2) in enumerate(cells):
                if i == i2:
                    cov[a, b] += sigma[v, v2]
        resid = [prob.y[i, v] - prob.x[i] @ prob.beta[:, v] for i, v in cells]
        resid += list(prob.resid2[j, obs2])
        total += multivariate_normal(np.zeros(n1 + n2), cov).logpdf(np.array(resid))
    return total


def reference_graph(prob):
    ls, b, lp, f, zv = (pt.dmatrix("ls"), pt.dmatrix("b"), pt.dmatrix("lp"), pt.dmatrix("f"),
                        pt.dvector("z"))  # fmt: skip
    value = collapsed_loglik(
        b, ls @ ls.T, lp @ lp.T, f, prob.l2_masks, prob.l2_pattern, prob.stats, prob.rows,
        prob.lat_cells, zv,
    )  # fmt: skip
    wrt = [ls, b, lp, f, zv]
    outputs = [value, *pytensor.grad(value, wrt, disconnected_inputs="ignore")]
    fn = pytensor.function(wrt, outputs, mode="FAST_COMPILE")
    return fn(prob.lsig, prob.beta, prob.lpsi, prob.resid2, prob.zvals)


def test_value_matches_brute_force_density(problem):
    value, _ = kernel(problem)
    assert value == pytest.approx(brute_force_loglik(problem), rel=1e-9)


def test_value_and_gradient_match_the_pytensor_graph(problem):
    value, grads = kernel(problem)
    ref_value, *ref = reference_graph(problem)
    assert value == pytest.approx(ref_value, rel=1e-9)
    ref[0], ref[2] = np.tril(ref[0]), np.tril(ref[2])  # gradients w.r.t. factors
    ref[3] = np.where(problem.l2_observed, ref[3], 0.0)
    for name, got, want in zip(PARAMS, grads, ref, strict=True):
        scale = max(1.0, np.abs(want).max()) if want.size else 1.0
        np.testing.assert_allclose(got, want, atol=1e-7 * scale, err_msg=name)


def test_gradient_matches_finite_differences(problem):
    _, grads = kernel(problem)
    eps = 1e-6
    for name, grad in zip(PARAMS, grads, strict=True):
        base = np.asarray(getattr(problem, name), dtype=float)
        for idx in list(np.ndindex(base.shape))[:8]:
            if name in ("lsig", "lpsi") and idx[1] > idx[0]:
                continue
            if name == "resid2" and not problem.l2_observed[idx]:
                continue
            step = np.zeros_like(base)
            step[idx] = eps
            up = kernel(problem, **{name: base + step})[0]
            down = kernel(problem, **{name: base - step})[0]
            numeric = (up - down) / (2 * eps)
            assert grad[idx] == pytest.approx(numeric, rel=1e-5, abs=1e-5), (name, idx)


def test_not_positive_definite_is_minus_infinity(problem):
    bad = problem.lsig.copy()
    bad[0, 0] = 0.0
    assert kernel(problem, lsig=bad)[0] == -np.inf
    bad = problem.lpsi.copy()
    bad[0, 0] = 0.0
    assert kernel(problem, lpsi=bad)[0] == -np.inf


def test_binary_latents_passed_raw(problem):
    """A latent given raw (``lat_sign`` +-1) equals the mapped value ``sign softplus(a)``
    given directly, plus the log-Jacobian ``log sigmoid(a)``; its gradient follows the chain
    rule. Raw values up to +-40 check the map's stable form (exact in float64: rel 1e-12)."""
    n_lat = problem.zvals.size
    if n_lat == 0:
        pytest.skip("no latent values in this problem")
    rng = np.random.default_rng(7)
    sign = np.where(rng.random(n_lat) < 0.5, -1.0, 1.0)
    raw = rng.normal(scale=3.0, size=n_lat)
    raw[:2] = [40.0, -40.0][: min(2, n_lat)]
    data = KernelData.build(
        problem.stats, problem.rows, problem.lat_cells, problem.l2_masks, problem.l2_pattern, sign
    )
    got_value, got = kernel(replace(problem, data=data), zvals=raw)
    mapped = sign * np.logaddexp(0.0, raw)
    value, grads = kernel(problem, zvals=mapped)
    log_jac = -np.logaddexp(0.0, -raw).sum()
    assert got_value == pytest.approx(value + log_jac, rel=1e-12)
    sig = expit(raw)
    np.testing.assert_allclose(got[4], grads[4] * sign * sig + (1.0 - sig), rtol=1e-10, atol=1e-12)
    for a, b in zip(got[:4], grads[:4], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_softplus_parts_match_numpy():
    """The kernel's own exp/log1p (polynomials, so the loop vectorises) give
    ``log1p(exp(-|a|))`` and ``sigmoid(a)`` to rel 4e-15 (20 ulp; both series truncate
    below 2e-16) for |a| < 100, to rel 1e-13 where the values are below 1e-43 (larger errors
    there, but absolute errors below 1e-56, nothing a log-density
    can see), and 0 where the exact values are below 1e-304; over +-800 and near 0."""
    rng = np.random.default_rng(3)
    a = np.concatenate(
        [
            rng.normal(scale=3.0, size=20_000),
            np.linspace(-800.0, 800.0, 16_001),
            rng.normal(scale=1e-8, size=100),
            np.array([0.0, -0.0, 1e-300, -1e-300]),
        ]
    )
    l1p, sig = np.empty_like(a), np.empty_like(a)
    softplus_parts(a, l1p, sig)
    for inside, rtol in [(np.abs(a) < 100.0, 4e-15), (np.abs(a) < 700.0, 1e-13)]:
        want_l1p = np.log1p(np.exp(-np.abs(a[inside])))
        np.testing.assert_allclose(l1p[inside], want_l1p, rtol=rtol)
        np.testing.assert_allclose(sig[inside], expit(a[inside]), rtol=rtol)
    outside = np.abs(a) >= 700.0
    assert np.all(l1p[outside] == 0.0)
    np.testing.assert_array_equal(sig[outside], (a[outside] > 0).astype(float))
