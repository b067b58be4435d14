"""Seeded example data simulated from the joint model, with the parameters that made it.

Used by the project's recovery tests and useful for checking an imputation model before
trusting it on real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Simulated:
    """Simulated incomplete data and the truth behind it.

    Attributes
    ----------
    data : pandas.DataFrame
        Columns ``cluster``, the covariate ``x``, and targets ``y1 .. yp`` with missing values.
    complete : pandas.DataFrame
        The same before the values were deleted.
    beta : ndarray, shape (2, p)
        Intercepts (row 0) and slopes of ``x`` (row 1).
    sigma, psi : ndarray, shape (p, p)
        Level-1 and random-intercept covariances.
    formula : str
        The imputation formula of the generating model.
    """

    data: pd.DataFrame
    complete: pd.DataFrame
    beta: np.ndarray
    sigma: np.ndarray
    psi: np.ndarray
    formula: str


def _covariance(sds: np.ndarray, corr: float) -> np.ndarray:
    p = sds.size
    c = np.full((p, p), corr)
    np.fill_diagonal(c, 1.0)
    return c * np.multiply.outer(sds, sds)


def simulate_two_level(
    *,
    n_clusters: int = 50,
    cluster_size: int = 20,
    p: int = 3,
    missing_rate: float = 0.2,
    seed: int = 0,
) -> Simulated:
    """Simulate ``y_ij = B' (1, x_ij) + u_j + e_ij`` with MAR missingness driven by ``x``.

    The targets have different means and scales (so the back-transformation from the
    internal standardised scale is exercised); the level-1 correlation is 0.4 and the
    cluster-level 0.5. Each target is deleted with probability ``logistic(a + x)``, ``a``
    set so that the expected rate is ``missing_rate``: missing at random given ``x``,
    which the imputation model includes.

    Parameters
    ----------
    n_clusters, cluster_size, p : int
    missing_rate : float
    seed : int

    Returns
    -------
    Simulated

    Examples
    --------
    >>> sim = simulate_two_level(seed=1)
    >>> sim.data.shape, sim.formula
    ((1000, 5), 'y1 + y2 + y3 ~ 1 + x + (1|cluster)')
    """
    rng = np.random.default_rng(seed)
    n = n_clusters * cluster_size
    cluster = np.repeat(np.arange(n_clusters), cluster_size)
    x = rng.normal(size=n)
    means = np.array([10.0, -5.0, 50.0, 0.0, 3.0, -1.0])[:p]
    slopes = np.array([1.0, -0.3, 4.0, 0.5, 0.0, 0.8])[:p]
    beta = np.vstack([means, slopes])
    sds = np.array([2.0, 0.5, 10.0, 1.0, 3.0, 1.5])[:p]
    sigma = _covariance(sds, 0.4)
    psi = _covariance(0.6 * sds, 0.5)
    u = rng.multivariate_normal(np.zeros(p), psi, size=n_clusters)
    e = rng.multivariate_normal(np.zeros(p), sigma, size=n)
    y = beta[0] + np.outer(x, beta[1]) + u[cluster] + e

    # a with mean(logistic(a + x)) = missing_rate, by bisection on a large normal sample
    z = np.random.default_rng(seed + 1).normal(size=200_000)
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        rate = np.mean(1.0 / (1.0 + np.exp(-(mid + z))))
        lo, hi = (mid, hi) if rate < missing_rate else (lo, mid)
    prob = 1.0 / (1.0 + np.exp(-(0.5 * (lo + hi) + x)))
    names = [f"y{v + 1}" for v in range(p)]
    complete = pd.DataFrame({"cluster": cluster, "x": x} | dict(zip(names, y.T, strict=True)))
    data = complete.copy()
    for name in names:
        data.loc[rng.random(n) < prob, name] = np.nan
    return Simulated(
        data=data,
        complete=complete,
        beta=beta,
        sigma=sigma,
        psi=psi,
        formula=f"{' + '.join(names)} ~ 1 + x + (1|cluster)",
    )
