"""Cluster-specific level-1 covariances: the prior, the collapsed likelihood, the latent rows.

Exact quantities are compared to independent references at float64 rounding (1e-9 relative
or better); the Wishart prior by Monte Carlo with its standard errors (tolerances below).
"""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import gammaln
from scipy.stats import chi2, multivariate_normal

from jmimpute.design.suffstats import cluster_sums
from jmimpute.models.collapsed.graph import collapsed_loglik, collapsed_loglik_clusters
from jmimpute.models.joint.cluster_cov import (
    chi2_log_density,
    cluster_covariances,
    draw_cluster_covariances,
    stirling_gap,
)
from jmimpute.models.latent.build import _rows_logp_clusters

from ..kernels.test_kernel import brute_force_loglik
from ..problems import CONFIGS, make_problem

CONTINUOUS = {name: cfg for name, cfg in CONFIGS.items() if not cfg.get("latent_share")}
CONTINUOUS["p2-level2"] = dict(p=2, q=2, r=1, n_clusters=9, n=90, p2=2)


def _eval(expr, inputs, values):
    fn = pytensor.function(inputs, expr, mode="FAST_COMPILE", on_unused_input="ignore")
    return fn(*values)


def _point_fn(model, outs):
    """A function of the model's value variables (a point dict) computing ``outs``."""
    outs = model.replace_rvs_by_values(outs)
    fn = pytensor.function(model.value_vars, outs, mode="FAST_COMPILE", on_unused_input="ignore")
    return lambda point: fn(**{v.name: point[v.name] for v in model.value_vars})


@pytest.mark.parametrize("a", [1.0, 2.5, 10.0, 29.999, 30.001, 200.0, 1e4])
def test_stirling_gap_equals_the_log_gamma_remainder(a):
    # scipy's gammaln at 1e4 carries an absolute error near 1e-16 * 8e4: tolerance 1e-10
    x = pt.dscalar("a")
    expected = gammaln(a) - ((a - 0.5) * np.log(a) - a + 0.5 * np.log(2 * np.pi))
    assert _eval(stirling_gap(x), [x], [a]) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("k", [2.0, 3.7, 25.0, 61.0, 5000.0])
def test_diagonal_density_is_the_chi_square_with_its_jacobian(k):
    e = np.linspace(-3.0, 3.0, 13)
    s = np.sqrt(2.0 / k)
    c = k * np.exp(s * e)
    expected = chi2(k).logpdf(c) + np.log(c * s)  # change of variables c -> e
    ev, kv = pt.dvector("e"), pt.dscalar("k")
    got = _eval(chi2_log_density(ev, kv), [ev, kv], [e, k])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_bartlett_construction_gives_the_wishart_moments():
    # The diagonal entries drawn from their chi-square and the off-diagonals from N(0, 1),
    # pushed through the model's graph, must give Sigma_j^{-1} ~ Wishart(nu, (nu Sigma)^-1):
    # mean Sigma^{-1} and Var(Omega_ab) = nu (V_ab^2 + V_aa V_bb), V = Sigma^{-1} / nu.
    # 40000 draws; means within 5 standard errors (sd / 200), variances within 8%
    # (the standard error of a sample variance of these entries is under 1.5%).
    n, p, tau = 40000, 3, 0.6
    nu = p + 1 + 2 / tau**2
    sigma = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
    lsig = np.linalg.cholesky(sigma)
    with pm.Model() as model:
        cluster_covariances(pt.as_tensor(lsig), p, n, 0.5)
    fn = _point_fn(model, [model["sigma_cluster_s"]])
    rng = np.random.default_rng(0)
    k = nu - np.arange(p)
    e = np.log(rng.chisquare(k, size=(n, p)) / k) / np.sqrt(2.0 / k)
    point = {
        "sigma_spread_log__": np.log(tau),
        "sigma_cluster_diag": e,
        "sigma_cluster_offdiag": rng.standard_normal((n, 3)),
    }
    omega = np.linalg.inv(fn(point)[0])
    v = np.linalg.inv(sigma) / nu
    sd = np.sqrt(nu * (v**2 + np.outer(np.diag(v), np.diag(v))))
    assert np.all(np.abs(omega.mean(0) - np.linalg.inv(sigma)) < 5 * sd / np.sqrt(n))
    np.testing.assert_allclose(omega.std(0), sd, rtol=0.04)  # sd: half of 8% on variances
    # and the simulator used by the recovery tests draws the same distribution
    sim = np.linalg.inv(draw_cluster_covariances(sigma, nu, n, rng))
    assert np.all(np.abs(sim.mean(0) - np.linalg.inv(sigma)) < 5 * sd / np.sqrt(n))
    np.testing.assert_allclose(sim.std(0), sd, rtol=0.04)


def _cluster_sigmas(prob, seed):
    rng = np.random.default_rng(seed)
    p = prob.lsig.shape[0]
    a = rng.normal(size=(prob.n_clusters, p, p)) * 0.4
    return a @ np.swapaxes(a, 1, 2) + np.eye(p) * rng.uniform(0.3, 2.0, (prob.n_clusters, 1, 1))


def _clusters_value(prob, sigma_cluster):
    sig, b, lp, f = pt.dtensor3("s"), pt.dmatrix("b"), pt.dmatrix("lp"), pt.dmatrix("f")
    sums = cluster_sums(prob.y, prob.x, prob.cluster, prob.n_clusters, prob.stats)
    value = collapsed_loglik_clusters(
        b, sig, lp @ lp.T, f, prob.l2_masks, prob.l2_pattern, prob.stats, sums
    )
    return _eval(value, [sig, b, lp, f], [sigma_cluster, prob.beta, prob.lpsi, prob.resid2])


@pytest.mark.parametrize("config", list(CONTINUOUS))
def test_collapsed_likelihood_with_cluster_covariances_matches_brute_force(config):
    prob = make_problem(seed=len(config), empty_cluster=True, **CONTINUOUS[config])
    sigma_cluster = _cluster_sigmas(prob, 1)
    value = _clusters_value(prob, sigma_cluster)
    assert value == pytest.approx(brute_force_loglik(prob, sigma_cluster), rel=1e-9)


def test_equal_cluster_covariances_give_the_common_likelihood():
    prob = make_problem(seed=3, p=2, q=2, r=2, n_clusters=7, n=70, p2=2)
    sigma = prob.lsig @ prob.lsig.T
    value = _clusters_value(prob, np.broadcast_to(sigma, (prob.n_clusters, 2, 2)).copy())
    ls, b, lp, f = pt.dmatrix("ls"), pt.dmatrix("b"), pt.dmatrix("lp"), pt.dmatrix("f")
    common = collapsed_loglik(
        b, ls @ ls.T, lp @ lp.T, f, prob.l2_masks, prob.l2_pattern, prob.stats, prob.rows,
        prob.lat_cells, pt.zeros((0,)),
    )  # fmt: skip
    expected = _eval(common, [ls, b, lp, f], [prob.lsig, prob.beta, prob.lpsi, prob.resid2])
    assert value == pytest.approx(expected, rel=1e-12)


def test_latent_rows_use_their_clusters_covariance():
    rng = np.random.default_rng(2)
    n, p, n_clusters = 30, 3, 4
    cluster = rng.integers(0, n_clusters, n)
    resid = rng.normal(size=(n, p))
    sigma = np.array([[1.5, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.7]])
    lsig = np.linalg.cholesky(sigma)
    with pm.Model() as model:
        cc = cluster_covariances(pt.as_tensor(lsig), p, n_clusters, 0.5)
        logp = _rows_logp_clusters(pt.as_tensor(resid), pt.as_tensor(lsig), cc, cluster)
    point = {
        "sigma_spread_log__": np.log(0.7),
        "sigma_cluster_diag": rng.normal(size=(n_clusters, p)),
        "sigma_cluster_offdiag": rng.normal(size=(n_clusters, 3)),
    }
    got, sigmas = _point_fn(model, [logp, model["sigma_cluster_s"]])(point)
    expected = [
        multivariate_normal(np.zeros(p), sigmas[c]).logpdf(r)
        for c, r in zip(cluster, resid, strict=True)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
