"""Cluster-specific level-1 covariances ``Sigma_j`` around a common ``Sigma`` (jomo's "random").

The hierarchical prior is Wishart on the precisions (inverse Wishart on the covariances,
the family of jomo's ``meth = "random"``; the priors on its scale and degrees of freedom are
jmimpute's own)::

    Sigma_j^{-1} ~ Wishart(nu, (nu Sigma)^{-1}),    so  E[Sigma_j^{-1}] = Sigma^{-1},

and ``nu = p + 1 + 2 / tau^2``. The spread ``tau`` is about the coefficient of variation of
the cluster precisions' diagonal (exactly ``sqrt(2 / nu)`` for it); ``tau -> 0`` gives one
common ``Sigma``. ``tau ~ HalfNormal(sigma_cluster_sd)``.

Each ``Sigma_j^{-1}`` is written by the Bartlett decomposition, with ``Sigma = L L'``::

    Sigma_j^{-1} = L^{-T} B_j B_j' L^{-1},    B_j = A_j / sqrt(nu),

``A_j`` lower triangular with ``A_ii^2 = c_i ~ chi2(nu - i)`` (i = 0 .. p-1) and
``A_ik ~ N(0, 1)`` below the diagonal. For NUTS the parameters are non-centred:
off-diagonals ``o ~ N(0, 1)`` enter as ``o / sqrt(nu)``, and each ``c_i = k exp(s e)``
with ``k = nu - i`` and ``s = sqrt(2 / k)``, so the free ``e`` is close to ``N(0, 1)`` for
every ``nu``. The density of ``e`` is the exact chi-square density with its Jacobian
(:func:`chi2_log_density`), so the prior is exactly the Wishart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.linalg import Entries, inverse_from_factor

HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))
STIRLING_FROM = 30.0
"""Above this shape the Stirling series replaces ``gammaln`` (see :func:`stirling_gap`)."""


def stirling_gap(a: TensorVariable) -> TensorVariable:
    """``log Gamma(a) - [(a - 1/2) log a - a + log(2 pi)/2]``, accurate for large ``a`` too.

    For large shapes (``tau`` near 0) the direct difference cancels to noise; above
    ``STIRLING_FROM`` the asymptotic series (error below ``1 / (1680 a^7)``, under 1e-13)
    is used instead.
    """
    safe = pt.maximum(a, STIRLING_FROM)
    series = 1.0 / (12.0 * safe) - 1.0 / (360.0 * safe**3) + 1.0 / (1260.0 * safe**5)
    small = pt.minimum(a, STIRLING_FROM)
    direct = pt.gammaln(small) - (small - 0.5) * pt.log(small) + small - HALF_LOG_2PI
    return pt.switch(a > STIRLING_FROM, series, direct)


def chi2_log_density(e: TensorVariable, k: TensorVariable) -> TensorVariable:
    """Log density of ``e`` where ``k exp(e sqrt(2/k)) ~ chi2(k)``.

    With ``a = k / 2`` and ``x = e sqrt(2/k)`` the chi-square log density of
    ``c = k exp(x)`` plus the log Jacobian ``log(c sqrt(2/k))`` simplifies to
    ``-log(2 pi)/2 - gap(a) - a (exp(x) - 1 - x)``, which tends to the standard normal
    density as ``k`` grows.
    """
    a = 0.5 * k
    x = e * pt.sqrt(1.0 / a)
    return -HALF_LOG_2PI - stirling_gap(a) - a * (pt.expm1(x) - x)


@dataclass(frozen=True)
class ClusterCovariances:
    """The per-cluster factors, on the standardised scale.

    Attributes
    ----------
    factor : list of list of TensorVariable
        Entries ``B_j[i][k]`` (``k <= i``), each of shape (J,).
    log_diag : TensorVariable
        ``log B_j[i][i]``, shape (J, p).
    sigma : TensorVariable
        ``Sigma_j = L B_j^{-T} B_j^{-1} L'``, shape (J, p, p).
    """

    factor: Entries
    log_diag: TensorVariable
    sigma: TensorVariable


def cluster_covariances(
    lsig: TensorVariable, p: int, n_clusters: int, spread_sd: TensorVariable | float
) -> ClusterCovariances:
    """Declare ``tau``, ``nu`` and the Bartlett parameters; return every ``Sigma_j``.

    Called inside a ``pm.Model`` context, after the common factor ``lsig`` (``L``).
    Declares ``sigma_spread`` (``tau``), ``sigma_df`` (``nu``), the free
    ``sigma_cluster_diag`` (J, p) and ``sigma_cluster_offdiag`` (J, p(p-1)/2), and the
    deterministic ``sigma_cluster_s`` (J, p, p).
    """
    tau = pm.HalfNormal("sigma_spread", sigma=spread_sd)
    nu = pm.Deterministic("sigma_df", p + 1.0 + 2.0 / tau**2)
    k = nu - pt.arange(p)  # chi-square degrees of freedom of each diagonal entry
    e = pm.Flat("sigma_cluster_diag", shape=(n_clusters, p))
    pm.Potential("sigma_cluster_bartlett", chi2_log_density(e, k[None, :]).sum())
    # log B_ii = log(sqrt(c_i / nu)) = (log(k_i / nu) + e sqrt(2 / k_i)) / 2
    log_diag = 0.5 * (pt.log(k / nu)[None, :] + e * pt.sqrt(2.0 / k)[None, :])
    diag = pt.exp(log_diag)
    n_off = p * (p - 1) // 2
    if n_off:
        off = pm.Normal("sigma_cluster_offdiag", 0.0, 1.0, shape=(n_clusters, n_off))
        off = off / pt.sqrt(nu)
    # entry (i, c), c < i, is column i (i - 1) / 2 + c of `off` (row-major lower triangle)
    factor: Entries = [
        [off[:, i * (i - 1) // 2 + c] for c in range(i)] + [diag[:, i]] for i in range(p)
    ]
    _, inner = inverse_from_factor(factor)  # (B_j B_j')^{-1}, shape (J, p, p)
    # Sigma_j = L inner_j L', elementwise products and sums (no batched matmul for Numba)
    left = (lsig[None, :, :, None] * inner[:, None, :, :]).sum(axis=2)
    sigma = (left[:, :, :, None] * lsig.T[None, None, :, :]).sum(axis=2)
    sigma = pm.Deterministic("sigma_cluster_s", sigma)
    return ClusterCovariances(factor=factor, log_diag=log_diag, sigma=sigma)


def draw_cluster_covariances(
    sigma: np.ndarray, nu: float, n_clusters: int, rng: np.random.Generator
) -> np.ndarray:
    """Simulate ``Sigma_j`` from the prior given ``Sigma`` and ``nu`` (for tests and examples).

    Returns
    -------
    ndarray, shape (n_clusters, p, p)
    """
    from scipy.stats import wishart

    scale = np.linalg.inv(sigma) / nu
    prec = wishart(df=nu, scale=scale).rvs(size=n_clusters, random_state=rng)
    prec = np.asarray(prec).reshape(n_clusters, sigma.shape[0], sigma.shape[0])
    return np.linalg.inv(prec)
