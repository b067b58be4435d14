"""Seeded example data simulated from the joint model, with the parameters that made it.

Used by the project's recovery tests and useful for checking an imputation model before
trusting it on real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jmimpute.missingness import add_mcar

__all__ = ["Simulated", "SimulatedJoint", "add_mcar", "simulate_joint", "simulate_two_level"]


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
    sigma : ndarray, shape (p, p)
        Level-1 covariance.
    psi : ndarray, shape (p, p), or (2p, 2p) with random slopes
        Covariance of the random effects (effect-major: intercepts, then slopes).
    formula : str
        The imputation formula of the generating model.
    sigma_cluster : ndarray, shape (n_clusters, p, p), or None
        Each cluster's level-1 covariance, when simulated with ``cluster_df``; ``sigma``
        is then their centre (``E[Sigma_j^{-1}] = sigma^{-1}``).
    cluster_df : float or None
        The Wishart degrees of freedom ``nu`` of ``sigma_cluster``.
    """

    data: pd.DataFrame
    complete: pd.DataFrame
    beta: np.ndarray
    sigma: np.ndarray
    psi: np.ndarray
    formula: str
    sigma_cluster: np.ndarray | None = None
    cluster_df: float | None = None

    @property
    def sigma_spread(self) -> float | None:
        """``tau = sqrt(2 / (nu - p - 1))``, the parameter jmimpute reports (or None)."""
        if self.cluster_df is None:
            return None
        return float(np.sqrt(2.0 / (self.cluster_df - self.sigma.shape[0] - 1.0)))


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
    random_slope: bool = False,
    cluster_df: float | None = None,
) -> Simulated:
    """Simulate ``y_ij = B' (1, x_ij) + u_j + e_ij`` with MAR missingness driven by ``x``.

    With ``random_slope=True`` the slopes of ``x`` vary by cluster too:
    ``y_ij = B' (1, x_ij) + u_j + v_j x_ij + e_ij`` with ``(u_j, v_j) ~ N(0, Psi)``, ``Psi``
    of size ``2p`` in jmimpute's effect-major order (all intercepts, then all slopes).
    With ``cluster_df`` each cluster has its own level-1 covariance,
    ``Sigma_j^{-1} ~ Wishart(cluster_df, (cluster_df Sigma)^{-1})`` (the model of
    ``cluster_covariance="random"``).

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
    if random_slope:
        psi = _covariance(np.concatenate([0.6 * sds, 0.3 * sds]), 0.3)
    else:
        psi = _covariance(0.6 * sds, 0.5)
    u = rng.multivariate_normal(np.zeros(psi.shape[0]), psi, size=n_clusters)
    sigma_cluster = None
    if cluster_df is None:
        e = rng.multivariate_normal(np.zeros(p), sigma, size=n)
    else:
        from jmimpute.models.joint.cluster_cov import draw_cluster_covariances

        sigma_cluster = draw_cluster_covariances(sigma, cluster_df, n_clusters, rng)
        factors = np.linalg.cholesky(sigma_cluster)[cluster]
        e = np.einsum("nab,nb->na", factors, rng.standard_normal((n, p)))
    y = beta[0] + np.outer(x, beta[1]) + u[cluster, :p] + e
    if random_slope:
        y += x[:, None] * u[cluster, p:]

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
        formula=f"{' + '.join(names)} ~ 1 + x + ({'1 + x' if random_slope else '1'}|cluster)",
        sigma_cluster=sigma_cluster,
        cluster_df=cluster_df,
    )


@dataclass(frozen=True)
class SimulatedJoint:
    """Data simulated from the full joint model, with its truth on the model's scale.

    Attributes
    ----------
    data, complete : pandas.DataFrame
        Columns ``cluster``, ``x`` (level 1), ``v`` (level 2, observed), the level-1
        targets ``y`` (continuous), ``b`` (bool), ``n`` (category a/b/c), ``o`` (ordered
        category lo/mid/hi) and the level-2 targets ``w`` (continuous), ``c`` (bool).
    formula : list of str
        The generating model in jmimpute's list form.
    truth : dict of str to float
        Parameters by name as jmimpute reports them on the data's scale:
        ``beta[covariate,variable]``, ``sigma[variable,variable_2]``,
        ``psi[effect,effect_2]``, ``gamma[covariate2,variable2]``, ``thresholds_o[k]``;
        latent dimensions have scale 1 and the fixed entries (latent variances, the nominal
        block) are left out.
    """

    data: pd.DataFrame
    complete: pd.DataFrame
    formula: list[str]
    truth: dict[str, float]


def simulate_joint(
    *, n_clusters: int = 80, cluster_size: int = 15, missing_rate: float = 0.15, seed: int = 0
) -> SimulatedJoint:
    """Simulate categorical, ordinal and level-2 targets from jomo's latent-normal model.

    Level-1 latent dimensions ``(n[b], n[c], y, b, o)`` follow
    ``l_ij = B' (1, x_ij) + u_j + e_ij``; the observed categories are read off the latents
    (``b = l_b > 0``; ``n`` the baseline ``a`` when both its latents are negative, else the
    larger; ``o`` by thresholds ``(0, 0.8)``). Level 2: ``(w_j, c*_j) = G' (1, v_j) + f_j``
    with ``c = c* > 0``, and ``(u_j, f_j) ~ N(0, Psi)`` jointly. Every target loses about
    ``missing_rate`` of its values completely at random (level-2 ones per cluster).

    Examples
    --------
    >>> sim = simulate_joint(seed=1)
    >>> sim.formula
    ['n + y + b + o ~ 1 + x + (1|cluster)', 'w + c ~ 1 + v']
    """
    rng = np.random.default_rng(seed)
    dims = ["n[b]", "n[c]", "y", "b", "o"]
    beta = np.array([[0.2, -0.3, 5.0, 0.3, 0.4], [0.5, 0.2, 1.5, -0.6, 0.7]])
    sd = np.array([1.0, 1.0, 2.0, 1.0, 1.0])
    corr = np.array(
        [
            [1.0, 0.5, 0.3, 0.1, 0.0],
            [0.5, 1.0, -0.2, 0.0, 0.2],
            [0.3, -0.2, 1.0, 0.4, 0.3],
            [0.1, 0.0, 0.4, 1.0, -0.3],
            [0.0, 0.2, 0.3, -0.3, 1.0],
        ]
    )
    sigma = corr * np.outer(sd, sd)
    l2_dims = ["w", "c"]
    gamma = np.array([[10.0, -0.2], [2.0, 0.8]])
    psi_sd = np.array([0.6, 0.5, 1.2, 0.7, 0.6, 3.0, 1.0])
    psi_corr = np.eye(7)
    for a, b, r in [(2, 5, 0.4), (3, 6, 0.3), (2, 4, 0.3), (0, 1, 0.3), (3, 4, -0.2), (5, 6, 0.2)]:
        psi_corr[a, b] = psi_corr[b, a] = r
    psi = psi_corr * np.outer(psi_sd, psi_sd)
    thresholds = np.array([0.0, 0.8])

    n = n_clusters * cluster_size
    cluster = np.repeat(np.arange(n_clusters), cluster_size)
    x = rng.normal(size=n)
    v = rng.normal(size=n_clusters)
    effects = rng.multivariate_normal(np.zeros(7), psi, size=n_clusters)
    lat = beta[0] + np.outer(x, beta[1]) + effects[cluster, :5]
    lat += rng.multivariate_normal(np.zeros(5), sigma, size=n)
    l2 = gamma[0] + np.outer(v, gamma[1]) + effects[:, 5:]

    nominal = np.where(lat[:, :2].max(axis=1) > 0, lat[:, :2].argmax(axis=1) + 1, 0)
    complete = pd.DataFrame(
        {
            "cluster": cluster,
            "x": x,
            "v": v[cluster],
            "y": lat[:, 2],
            "b": lat[:, 3] > 0,
            "n": pd.Categorical.from_codes(nominal, dtype=pd.CategoricalDtype(["a", "b", "c"])),
            "o": pd.Categorical.from_codes(
                np.searchsorted(thresholds, lat[:, 4]),
                dtype=pd.CategoricalDtype(["lo", "mid", "hi"], ordered=True),
            ),
            "w": l2[cluster, 0],
            "c": (l2[:, 1] > 0)[cluster],
        }
    )
    data = add_mcar(
        complete.astype({"b": "boolean", "c": "boolean"}),
        ["y", "b", "n", "o", "w", "c"],
        missing_rate,
        cluster="cluster",
        level2=["w", "c"],
        seed=seed + 1,
    )

    truth: dict[str, float] = {}
    for i, cov in enumerate(["(Intercept)", "x"]):
        for k, dim in enumerate(dims):
            truth[f"beta[{cov},{dim}]"] = beta[i, k]
        for k, dim in enumerate(l2_dims):
            truth[f"gamma[{cov.replace('x', 'v')},{dim}]"] = gamma[i, k]
    for a in range(5):
        for b in range(a + 1):
            if (a == b and dims[a] != "y") or a < 2:
                continue  # fixed for identification
            truth[f"sigma[{dims[a]},{dims[b]}]"] = sigma[a, b]
    eff = [f"{d}|(Intercept)" for d in dims] + l2_dims
    for a in range(7):
        for b in range(a + 1):
            if a == b == 6:
                continue  # the level-2 binary latent's residual variance is fixed
            truth[f"psi[{eff[a]},{eff[b]}]"] = psi[a, b]
    truth["thresholds_o[1]"] = thresholds[1]
    return SimulatedJoint(
        data=data,
        complete=complete,
        formula=["n + y + b + o ~ 1 + x + (1|cluster)", "w + c ~ 1 + v"],
        truth=truth,
    )
