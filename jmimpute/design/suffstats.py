"""Sufficient statistics of the collapsed likelihood, grouped by missingness pattern.

Rows are grouped by the set of level-1 dimensions they observe (pattern ``k``) and by
(cluster, pattern). The collapsed log-likelihood (docs/design/collapsed-likelihood.md)
then needs only these sums, so its cost does not grow with the number of rows. A
categorical target observed in a row makes its latent dimensions "observed" there, with
values sampled by NUTS: those rows are kept apart (:class:`LatentRows`) and their sums are
added on every likelihood call. Everything here is plain NumPy, computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatternStats:
    """Per-pattern and per-(cluster, pattern) sums of the observed level-1 data.

    Attributes
    ----------
    masks : ndarray of bool, shape (K, p)
        Which dimensions pattern ``k`` observes. Patterns observing nothing are left out.
    n_k : ndarray, shape (K,)
        Rows per pattern (all rows, latent or not).
    syy, syx, sxx : ndarray
        ``sum y~ y~'`` (K, p, p), ``sum y~ x'`` (K, p, q), ``sum x x'`` (K, q, q), where
        ``y~`` is the row's values with unobserved cells set to 0. ``syy`` and ``syx`` sum
        only the rows without latent values; ``sxx`` sums all rows.
    n_jk : ndarray, shape (J, K)
        Rows per (cluster, pattern).
    zz, syz, sxz : ndarray
        Per (cluster, pattern): ``sum z z'`` (J, K, r, r), ``sum y~ z'`` (J, K, p, r, rows
        without latent values) and ``sum x z'`` (J, K, q, r), with ``z`` the random-effect
        design of the row.
    n_obs : int
        Number of observed cells (latent cells of observed categorical values included).
    pattern : ndarray of int, shape (n,)
        Pattern index of each row, ``-1`` for rows that observe nothing.
    """

    masks: np.ndarray
    n_k: np.ndarray
    syy: np.ndarray
    syx: np.ndarray
    sxx: np.ndarray
    n_jk: np.ndarray
    zz: np.ndarray
    syz: np.ndarray
    sxz: np.ndarray
    n_obs: int
    pattern: np.ndarray

    @property
    def n_patterns(self) -> int:
        """Number of patterns with at least one observed dimension."""
        return int(self.masks.shape[0])


@dataclass(frozen=True)
class LatentRows:
    """The rows that hold latent values, whose sums depend on the sampled latents.

    Attributes
    ----------
    rows : ndarray of int, shape (R,)
        Row numbers in the data.
    y : ndarray, shape (R, p)
        Observed continuous values, 0 at latent and unobserved cells.
    x, z : ndarray
        Fixed and random design of those rows.
    pattern, cluster : ndarray of int, shape (R,)
    """

    rows: np.ndarray
    y: np.ndarray
    x: np.ndarray
    z: np.ndarray
    pattern: np.ndarray
    cluster: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of rows holding latent values."""
        return int(self.rows.size)


def pattern_index(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by their observed-dimension pattern.

    Parameters
    ----------
    observed : ndarray of bool, shape (n, p)

    Returns
    -------
    masks : ndarray of bool, shape (K, p)
        The distinct patterns that observe at least one dimension, complete rows first,
        then by decreasing number observed.
    pattern : ndarray of int, shape (n,)
        Index into ``masks`` per row, ``-1`` where the row observes nothing.
    """
    n, p = observed.shape
    weights = 1 << np.arange(p, dtype=np.int64)
    keys = observed.astype(np.int64) @ weights
    full = int(weights.sum())
    uniq = np.unique(keys[keys > 0])
    counts = np.array([bin(int(u)).count("1") for u in uniq], dtype=np.int64)
    order = np.lexsort((-uniq, -counts)) if uniq.size else np.array([], dtype=np.int64)
    uniq = uniq[order]
    if uniq.size and full in uniq:
        uniq = np.concatenate([[full], uniq[uniq != full]])
    pattern = np.full(n, -1, dtype=np.int64)
    if uniq.size:
        order_sorted = np.argsort(uniq)
        pos = np.clip(np.searchsorted(uniq[order_sorted], keys), 0, uniq.size - 1)
        hit = uniq[order_sorted][pos] == keys
        pattern[hit] = order_sorted[pos[hit]]
    masks = ((uniq[:, None] & weights[None, :]) > 0) if uniq.size else np.zeros((0, p), bool)
    return masks.astype(bool), pattern


def compute_stats(
    y: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
    *,
    observed: np.ndarray | None = None,
    latent: np.ndarray | None = None,
) -> tuple[PatternStats, LatentRows]:
    """Compute the pattern statistics of the collapsed likelihood.

    Parameters
    ----------
    y : ndarray, shape (n, p)
        Level-1 values (standardised); NaN where missing (and at latent cells).
    x : ndarray, shape (n, q)
        Fully observed fixed-effect design.
    z : ndarray, shape (n, r)
        Fully observed random-effect design.
    cluster : ndarray of int, shape (n,)
        Cluster code ``0 .. J-1`` per row.
    n_clusters : int
        ``J``.
    observed : ndarray of bool, shape (n, p), optional
        Which cells are observed; defaults to the non-NaN cells of ``y``.
    latent : ndarray of bool, shape (n, p), optional
        Which observed cells are latent (values sampled, not data).

    Returns
    -------
    PatternStats
    LatentRows
    """
    p = y.shape[1]
    q, r = x.shape[1], z.shape[1]
    if observed is None:
        observed = ~np.isnan(y)
    if latent is None:
        latent = np.zeros_like(observed)
    masks, pattern = pattern_index(observed)
    n_pat = masks.shape[0]
    has_latent = latent.any(axis=1)
    values = np.where(observed & ~latent, np.nan_to_num(y), 0.0)

    keep = pattern >= 0
    plain = keep & ~has_latent
    n_k = np.bincount(pattern[keep], minlength=n_pat).astype(float)
    syy = np.zeros((n_pat, p, p))
    syx = np.zeros((n_pat, p, q))
    sxx = np.zeros((n_pat, q, q))
    np.add.at(syy, pattern[plain], values[plain, :, None] * values[plain, None, :])
    np.add.at(syx, pattern[plain], values[plain, :, None] * x[plain, None, :])
    np.add.at(sxx, pattern[keep], x[keep, :, None] * x[keep, None, :])

    n_jk = np.zeros((n_clusters, n_pat))
    np.add.at(n_jk, (cluster[keep], pattern[keep]), 1.0)
    zz = np.zeros((n_clusters, n_pat, r, r))
    syz = np.zeros((n_clusters, n_pat, p, r))
    sxz = np.zeros((n_clusters, n_pat, q, r))
    np.add.at(zz, (cluster[keep], pattern[keep]), z[keep, :, None] * z[keep, None, :])
    np.add.at(syz, (cluster[plain], pattern[plain]), values[plain, :, None] * z[plain, None, :])
    np.add.at(sxz, (cluster[keep], pattern[keep]), x[keep, :, None] * z[keep, None, :])
    stats = PatternStats(
        masks=masks,
        n_k=n_k,
        syy=syy,
        syx=syx,
        sxx=sxx,
        n_jk=n_jk,
        zz=zz,
        syz=syz,
        sxz=sxz,
        n_obs=int(observed.sum()),
        pattern=pattern,
    )
    rows = np.flatnonzero(has_latent)
    lat = LatentRows(
        rows=rows,
        y=values[rows],
        x=x[rows],
        z=z[rows],
        pattern=pattern[rows],
        cluster=cluster[rows],
    )
    return stats, lat


@dataclass(frozen=True)
class ClusterSums:
    """Per-(cluster, pattern) second moments, for cluster-specific level-1 covariances.

    With one ``Sigma_j`` per cluster the residual quadratic form no longer pools over
    clusters, so :class:`PatternStats`' per-pattern sums are split by cluster as well.

    Attributes
    ----------
    syy, syx, sxx : ndarray
        ``sum y~ y~'`` (J, K, p, p), ``sum y~ x'`` (J, K, p, q) and ``sum x x'``
        (J, K, q, q) over the rows of cluster ``j`` and pattern ``k``.
    """

    syy: np.ndarray
    syx: np.ndarray
    sxx: np.ndarray


def cluster_sums(
    y: np.ndarray, x: np.ndarray, cluster: np.ndarray, n_clusters: int, stats: PatternStats
) -> ClusterSums:
    """Split the pattern sums of ``stats`` by cluster (rows without latent values only).

    Parameters
    ----------
    y : ndarray, shape (n, p)
        Level-1 values; NaN where unobserved.
    x : ndarray, shape (n, q)
    cluster : ndarray of int, shape (n,)
    n_clusters : int
    stats : PatternStats
        From :func:`compute_stats` on the same rows; gives each row's pattern.

    Returns
    -------
    ClusterSums
    """
    p, q = y.shape[1], x.shape[1]
    n_pat = stats.n_patterns
    keep = stats.pattern >= 0
    values = np.nan_to_num(y)
    j, k = cluster[keep], stats.pattern[keep]
    yv, xv = values[keep], x[keep]
    syy = np.zeros((n_clusters, n_pat, p, p))
    syx = np.zeros((n_clusters, n_pat, p, q))
    sxx = np.zeros((n_clusters, n_pat, q, q))
    np.add.at(syy, (j, k), yv[:, :, None] * yv[:, None, :])
    np.add.at(syx, (j, k), yv[:, :, None] * xv[:, None, :])
    np.add.at(sxx, (j, k), xv[:, :, None] * xv[:, None, :])
    return ClusterSums(syy=syy, syx=syx, sxx=sxx)


def level2_patterns(observed: np.ndarray | None, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed-pattern masks of the level-2 targets and each cluster's pattern.

    Parameters
    ----------
    observed : ndarray of bool, shape (J, p2), or None
        Which level-2 dimensions each cluster observes; None without level-2 targets.
    n_clusters : int

    Returns
    -------
    masks : ndarray of bool, shape (G, p2)
    pattern : ndarray of int, shape (J,)
        Clusters observing no level-2 target share one pattern with an empty mask.
    """
    if observed is None:
        return np.zeros((1, 0), dtype=bool), np.zeros(n_clusters, dtype=np.int64)
    masks, pattern = pattern_index(observed)
    if (pattern < 0).any():
        masks = np.vstack([masks, np.zeros((1, observed.shape[1]), dtype=bool)])
        pattern = np.where(pattern < 0, masks.shape[0] - 1, pattern)
    return masks, pattern
