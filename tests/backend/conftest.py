"""Small random problems for the likelihood tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from jmimpute.suffstats import PatternStats, compute_stats


@dataclass
class Problem:
    y: np.ndarray
    x: np.ndarray
    z: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    stats: PatternStats
    lsig: np.ndarray
    lpsi: np.ndarray
    beta: np.ndarray


def make_problem(p, q, r, n_clusters, n, seed, *, empty_cluster=False, all_missing_rows=True):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters - (1 if empty_cluster else 0), n)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, q - 1))])
    z = np.column_stack([np.ones(n), rng.normal(size=(n, r - 1))])
    y = rng.normal(size=(n, p))
    y[rng.random((n, p)) < 0.25] = np.nan
    if all_missing_rows:
        y[:3] = np.nan
    d = r * p
    lsig = np.tril(rng.normal(size=(p, p)) * 0.3, -1) + np.diag(rng.uniform(0.6, 1.2, p))
    lpsi = np.tril(rng.normal(size=(d, d)) * 0.3, -1) + np.diag(rng.uniform(0.3, 0.9, d))
    beta = rng.normal(size=(q, p))
    stats = compute_stats(y, x, z, cluster, n_clusters)
    return Problem(y, x, z, cluster, n_clusters, stats, lsig, lpsi, beta)


CONFIGS = {
    "p1-intercept": (1, 1, 1, 6, 40),
    "p2-intercept": (2, 1, 1, 10, 80),
    "p3-covariates": (3, 3, 1, 8, 90),
    "p2-slopes": (2, 2, 2, 7, 70),
    "p3-slopes": (3, 2, 2, 12, 150),
}


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def problem(request):
    p, q, r, n_clusters, n = CONFIGS[request.param]
    return make_problem(p, q, r, n_clusters, n, seed=len(request.param), empty_cluster=True)
