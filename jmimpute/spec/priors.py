"""Priors of the joint imputation model, on internally standardised data.

Every incomplete target is centred and scaled by its observed mean and standard deviation,
and every covariate by its own, before sampling; the priors below are stated on that
scale, where "weakly informative" has a fixed meaning whatever the units of the data.
Results are transformed back to the data's scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Priors:
    """Weakly-informative priors, all overridable.

    Parameters
    ----------
    beta_sd : float, default 2.5
        Fixed effects ``B ~ Normal(0, beta_sd)``. On standardised data a coefficient
        beyond 2.5 would mean a covariate explains more than the whole spread of the
        target; the prior still allows it.
    sigma_sd : float, default 1.0
        Level-1 standard deviations ``~ HalfNormal(sigma_sd)``; the total standard
        deviation of a standardised target is 1.
    sigma_eta : float, default 1.0
        LKJ shape of the level-1 correlations (1 is uniform over correlation matrices).
    psi_sd : float, default 1.0
        Standard deviations of the random effects ``~ HalfNormal(psi_sd)``.
    psi_eta : float, default 1.0
        LKJ shape of the random-effect correlations.
    sigma_cluster_sd : float, default 0.5
        With ``cluster_covariance="random"`` only: the spread ``tau`` of the clusters'
        level-1 covariances around the common one ``~ HalfNormal(sigma_cluster_sd)``.
        ``tau`` is about the coefficient of variation of the cluster variances (the
        Wishart degrees of freedom are ``p + 1 + 2 / tau^2``); 0.5 allows clusters whose
        variances differ by a factor of two or more, and also nearly equal ones.

    Examples
    --------
    >>> Priors(psi_sd=0.5)
    Priors(beta_sd=2.5, sigma_sd=1.0, sigma_eta=1.0, psi_sd=0.5, psi_eta=1.0, sigma_cluster_sd=0.5)
    """

    beta_sd: float = 2.5
    sigma_sd: float = 1.0
    sigma_eta: float = 1.0
    psi_sd: float = 1.0
    psi_eta: float = 1.0
    sigma_cluster_sd: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(
                    f"Priors({f.name}=...) must be a positive number, got "
                    f"{type(value).__name__} {value!r}"
                )
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"Priors({f.name}={value!r}) must be a positive, finite number; "
                    f"the default is {f.default}"
                )
