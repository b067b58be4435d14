"""Sufficient statistics of the collapsed likelihood, grouped by missingness pattern.

Rows are grouped by the set of level-1 targets they observe (pattern ``k``) and by
(cluster, pattern). The collapsed log-likelihood (shared/design/collapsed-likelihood.md)
then needs only these sums, so its cost does not grow with the number of rows.
Everything here is plain NumPy, computed once from the data.
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
        Which targets pattern ``k`` observes. Patterns observing nothing are left out.
    n_k : ndarray, shape (K,)
        Rows per pattern.
    syy, syx, sxx : ndarray
        ``sum y~ y~'`` (K, p, p), ``sum y~ x'`` (K, p, q), ``sum x x'`` (K, q, q), where
        ``y~`` is the row's targets with missing cells set to 0.
    n_jk : ndarray, shape (J, K)
        Rows per (cluster, pattern).
    zz, syz, sxz : ndarray
        Per (cluster, pattern): ``sum z z'`` (J, K, r, r), ``sum y~ z'`` (J, K, p, r) and
        ``sum x z'`` (J, K, q, r), with ``z`` the random-effect design of the row.
    n_obs : int
        Number of observed target cells.
    pattern : ndarray of int, shape (n,)
        Pattern index of each row, ``-1`` for rows that observe no target.
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
        """Number of patterns with at least one observed target."""
        return int(self.masks.shape[0])


def pattern_index(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by their observed-target pattern.

    Parameters
    ----------
    observed : ndarray of bool, shape (n, p)

    Returns
    -------
    masks : ndarray of bool, shape (K, p)
        The distinct patterns that observe at least one target, in a stable order
        (most observed first).
    pattern : ndarray of int, shape (n,)
        Index into ``masks`` per row, ``-1`` where the row observes nothing.
    """
    n, p = observed.shape
    weights = 1 << np.arange(p, dtype=np.int64)
    keys = observed.astype(np.int64) @ weights
    full = int(weights.sum())
    uniq = np.unique(keys[keys > 0])
    # order: complete rows first, then by decreasing number observed, then key
    counts = np.array([bin(int(u)).count("1") for u in uniq], dtype=np.int64)
    order = np.lexsort((-uniq, -counts)) if uniq.size else np.array([], dtype=np.int64)
    uniq = uniq[order]
    if uniq.size and full in uniq:
        uniq = np.concatenate([[full], uniq[uniq != full]])
    pattern = np.full(n, -1, dtype=np.int64)
    if uniq.size:
        order_sorted = np.argsort(uniq)
        pos = np.searchsorted(uniq[order_sorted], keys)
        pos = np.clip(pos, 0, uniq.size - 1)
        hit = uniq[order_sorted][pos] == keys
        pattern[hit] = order_sorted[pos[hit]]
    masks = ((uniq[:, None] & weights[None, :]) > 0) if uniq.size else np.zeros((0, p), bool)
    return masks.astype(bool), pattern


def compute_stats(
    y: np.ndarray, x: np.ndarray, z: np.ndarray, cluster: np.ndarray, n_clusters: int
) -> PatternStats:
    """Compute the pattern statistics of the collapsed likelihood.

    Parameters
    ----------
    y : ndarray, shape (n, p)
        Level-1 targets (standardised), NaN where missing.
    x : ndarray, shape (n, q)
        Fully observed fixed-effect design.
    z : ndarray, shape (n, r)
        Fully observed random-effect design.
    cluster : ndarray of int, shape (n,)
        Cluster code ``0 .. J-1`` per row.
    n_clusters : int
        ``J``.

    Returns
    -------
    PatternStats
    """
    observed = ~np.isnan(y)
    masks, pattern = pattern_index(observed)
    n_pat = masks.shape[0]
    p, q, r = y.shape[1], x.shape[1], z.shape[1]
    keep = pattern >= 0
    yt = np.where(observed, y, 0.0)[keep]
    xk, zk, pk, ck = x[keep], z[keep], pattern[keep], cluster[keep]

    n_k = np.bincount(pk, minlength=n_pat).astype(float)
    syy = np.zeros((n_pat, p, p))
    syx = np.zeros((n_pat, p, q))
    sxx = np.zeros((n_pat, q, q))
    np.add.at(syy, pk, yt[:, :, None] * yt[:, None, :])
    np.add.at(syx, pk, yt[:, :, None] * xk[:, None, :])
    np.add.at(sxx, pk, xk[:, :, None] * xk[:, None, :])

    n_jk = np.zeros((n_clusters, n_pat))
    np.add.at(n_jk, (ck, pk), 1.0)
    zz = np.zeros((n_clusters, n_pat, r, r))
    syz = np.zeros((n_clusters, n_pat, p, r))
    sxz = np.zeros((n_clusters, n_pat, q, r))
    np.add.at(zz, (ck, pk), zk[:, :, None] * zk[:, None, :])
    np.add.at(syz, (ck, pk), yt[:, :, None] * zk[:, None, :])
    np.add.at(sxz, (ck, pk), xk[:, :, None] * zk[:, None, :])
    return PatternStats(
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
