"""Small random problems for the likelihood and conditional-draw tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jmimpute._kernels.ops import KernelData
from jmimpute.design.suffstats import LatentRows, PatternStats, compute_stats, pattern_index


@dataclass
class Problem:
    y: np.ndarray  # NaN where unobserved; latent cells hold their current value
    observed: np.ndarray
    latent: np.ndarray
    x: np.ndarray
    z: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    stats: PatternStats
    rows: LatentRows
    data: KernelData
    lat_cells: tuple
    l2_masks: np.ndarray
    l2_pattern: np.ndarray
    l2_observed: np.ndarray
    lsig: np.ndarray
    beta: np.ndarray
    lpsi: np.ndarray  # lower Cholesky factor of Psi (d + p2)
    resid2: np.ndarray  # (J, p2), meaningful where l2_observed
    zvals: np.ndarray


def make_problem(p, q, r, n_clusters, n, seed, *, empty_cluster=False, latent_share=0.0, p2=0):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters - (1 if empty_cluster else 0), n)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, q - 1))])
    z = np.column_stack([np.ones(n), rng.normal(size=(n, r - 1))])
    y = rng.normal(size=(n, p))
    y[rng.random((n, p)) < 0.25] = np.nan
    y[:3] = np.nan
    observed = ~np.isnan(y)
    latent = observed & (rng.random((n, p)) < latent_share) & (np.arange(p) == 0)
    dim = r * p + p2
    lsig = np.tril(rng.normal(size=(p, p)) * 0.3, -1) + np.diag(rng.uniform(0.6, 1.2, p))
    beta = rng.normal(size=(q, p))
    lpsi = np.tril(rng.normal(size=(dim, dim)) * 0.3, -1) + np.diag(rng.uniform(0.4, 0.9, dim))
    l2_observed = rng.random((n_clusters, p2)) < 0.7
    resid2 = np.where(l2_observed, rng.normal(size=(n_clusters, p2)), 0.0)
    masks, pattern = pattern_index(l2_observed) if p2 else (np.zeros((0, 0), bool), None)
    if p2 == 0:
        masks, pattern = np.zeros((1, 0), bool), np.zeros(n_clusters, np.int64)
    elif (pattern < 0).any():
        masks = np.vstack([masks, np.zeros((1, p2), bool)])
        pattern = np.where(pattern < 0, masks.shape[0] - 1, pattern)
    stats, rows = compute_stats(y, x, z, cluster, n_clusters, observed=observed, latent=latent)
    cells = np.nonzero(latent)
    data = KernelData.build(stats, rows, cells, masks, pattern)
    return Problem(
        y, observed, latent, x, z, cluster, n_clusters, stats, rows, data, cells, masks, pattern,
        l2_observed, lsig, beta, lpsi, resid2, y[cells],
    )  # fmt: skip


CONFIGS = {
    "p1-intercept": dict(p=1, q=1, r=1, n_clusters=6, n=40),
    "p2-intercept": dict(p=2, q=1, r=1, n_clusters=10, n=80),
    "p3-covariates": dict(p=3, q=3, r=1, n_clusters=8, n=90),
    "p2-slopes": dict(p=2, q=2, r=2, n_clusters=7, n=70),
    "p3-slopes-latent-level2": dict(p=3, q=2, r=2, n_clusters=12, n=150, latent_share=0.6, p2=2),
    "p2-latent-level2": dict(p=2, q=1, r=1, n_clusters=9, n=100, latent_share=0.8, p2=3),
}
