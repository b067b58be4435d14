"""The analysis model's random effects integrated in closed form equal the marginal normal
density of each cluster's residuals, computed directly."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy.stats import multivariate_normal

from jmimpute.models.substantive.build import _integrated_logp


@pytest.mark.parametrize("q", [1, 2, 3])
def test_integrated_logp_is_the_marginal_density(q):
    rng = np.random.default_rng(q)
    sizes = np.array([1, 3, 5, 2])
    cluster = np.repeat(np.arange(sizes.size), sizes)
    n = cluster.size
    g = np.column_stack([np.ones(n), rng.normal(size=(n, q - 1))])
    resid = rng.normal(size=n)
    a = rng.normal(size=(q, q))
    tau = np.linalg.cholesky(a @ a.T + q * np.eye(q))
    sigma = 0.7
    with pm.Model():
        pm.Data("cluster", cluster)
        pm.Data("cluster_sizes", sizes.astype(float))
        got = _integrated_logp(
            pt.as_tensor(resid), [pt.as_tensor(c) for c in g.T], pt.as_tensor(tau), sigma
        ).eval()
    t = tau @ tau.T
    want = sum(
        multivariate_normal(
            np.zeros(sizes[j]),
            g[cluster == j] @ t @ g[cluster == j].T + sigma**2 * np.eye(sizes[j]),
        ).logpdf(resid[cluster == j])
        for j in range(sizes.size)
    )
    np.testing.assert_allclose(got, want, rtol=1e-10)
