"""Incomplete discrete predictors of the substantive model and their categories' models.

:data:`LINKS` has one entry per variable kind.

A discrete predictor is never a NUTS coordinate: where it is missing, the model sums over
its categories (docs/design/substantive-model.md, "Discrete missing predictors"), each
weighted by its probability under the predictor's own model. That model gives every
predictor one or more linear predictors (intercept, complete predictors, random intercept
or the cluster's other effects, the continuous predictors' residuals) and the link turns
them into the K categories' log-probabilities:

* ``binary``: probit, ``P(1) = Phi(m)`` (the joint model's latent normal with threshold 0);
* ``ordinal``: ordered probit, thresholds ``0 = t_1 < ... < t_{K-1}`` with the first fixed
  (the intercept is in ``m``); a binary one is the ordinal one with K = 2;
* ``nominal``: multinomial logit, one linear predictor per non-baseline category, as
  JointAI and mdmb model nominal covariates: closed form, where the joint model's
  multinomial probit would need orthant probabilities of K - 1 correlated normals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.dist_math import normal_lcdf
from pytensor.tensor.variable import TensorVariable

from jmimpute.models.substantive.names import CUTPOINTS

Hyper = dict[str, TensorVariable]
"""The prior hyperparameters as entries of the shared prior vector."""


@dataclass(frozen=True)
class Link:
    """How a kind of discrete predictor turns linear predictors into category probabilities.

    Attributes
    ----------
    n_predictors : callable
        ``K -> `` how many linear predictors a variable with K categories has.
    log_probs : callable
        ``(predictor, linear predictors, hyper, keep) -> `` the K categories'
        log-probabilities (tensors shaped as the linear predictors); may add the link's own
        parameters to the model (and their names to ``keep``).
    """

    n_predictors: Callable[[int], int]
    log_probs: Callable[[Discrete, list[TensorVariable], Hyper, list[str]], list[TensorVariable]]


@dataclass(frozen=True)
class Discrete:
    """One incomplete discrete predictor.

    Attributes
    ----------
    name : str
    kind : str
        Its kind (a key of :data:`LINKS`).
    categories : tuple
        Its categories in code order (baseline first).
    codes : ndarray of int
        Category code per row (level 1) or cluster (level 2), ``-1`` where missing.
    """

    name: str
    kind: str
    categories: tuple[object, ...]
    codes: np.ndarray

    @property
    def link(self) -> Link:
        """Its :data:`LINKS` entry."""
        return LINKS[self.kind]

    @property
    def n_categories(self) -> int:
        """K."""
        return len(self.categories)

    @property
    def n_predictors(self) -> int:
        """Linear predictors of its model."""
        return self.link.n_predictors(self.n_categories)

    @property
    def predictor_names(self) -> tuple[str, ...]:
        """A name per linear predictor.

        The variable's, or ``name[category]`` for each non-baseline category of a nominal one.
        """
        if self.n_predictors == 1:
            return (self.name,)
        return tuple(f"{self.name}[{c}]" for c in self.categories[1:])

    def indicators(self, code: int) -> list[float]:
        """Its non-baseline categories' indicators at ``code`` (what an auxiliary reads)."""
        return [float(code == k) for k in range(1, self.n_categories)]


def _probit(
    d: Discrete, linear: list[TensorVariable], hyper: Hyper, keep: list[str]
) -> list[TensorVariable]:
    (m,) = linear
    return [normal_lcdf(0.0, 1.0, -m), normal_lcdf(0.0, 1.0, m)]


def _ordered_probit(
    d: Discrete, linear: list[TensorVariable], hyper: Hyper, keep: list[str]
) -> list[TensorVariable]:
    if d.n_categories == 2:
        return _probit(d, linear, hyper, keep)
    (m,) = linear
    gaps = pm.HalfNormal(f"{CUTPOINTS}{d.name}", hyper["beta_sd"], shape=(d.n_categories - 2,))
    keep.append(f"{CUTPOINTS}{d.name}")
    cuts = [pt.as_tensor(0.0), *pt.cumsum(gaps)]  # t_1 = 0 < t_2 < ... < t_{K-1}
    middle = [_interval(m, cuts[k - 1], cuts[k]) for k in range(1, len(cuts))]
    return [normal_lcdf(0.0, 1.0, -m), *middle, normal_lcdf(0.0, 1.0, m - cuts[-1])]


def _interval(m: TensorVariable, lo: TensorVariable, hi: TensorVariable) -> TensorVariable:
    """``log(Phi(hi - m) - Phi(lo - m))``, from the tail the interval lies in.

    Below the interval's midpoint the upper tails ``Phi(m - lo) - Phi(m - hi)`` keep
    their digits (both lower-tail CDFs would round to 1, the log to ``log 0``); each
    branch sees a harmless ``m`` where it is not used, so that its gradient is finite
    there too (a ``switch`` multiplies the unused branch's gradient by 0, and 0 * inf
    is NaN).
    """
    mid = 0.5 * (lo + hi)
    upper = m >= mid
    m_up, m_down = pt.switch(upper, m, mid), pt.switch(upper, mid, m)
    from_below = pm.math.logdiffexp(
        normal_lcdf(0.0, 1.0, hi - m_up), normal_lcdf(0.0, 1.0, lo - m_up)
    )
    from_above = pm.math.logdiffexp(
        normal_lcdf(0.0, 1.0, m_down - lo), normal_lcdf(0.0, 1.0, m_down - hi)
    )
    return pt.switch(upper, from_below, from_above)


def _logit(
    d: Discrete, linear: list[TensorVariable], hyper: Hyper, keep: list[str]
) -> list[TensorVariable]:
    eta = pt.stack([pt.zeros_like(linear[0]), *linear], axis=0)
    norm = pm.math.logsumexp(eta, axis=0, keepdims=False)
    return [eta[k] - norm for k in range(d.n_categories)]


LINKS: dict[str, Link] = {
    "binary": Link(lambda k: 1, _probit),
    "ordinal": Link(lambda k: 1, _ordered_probit),
    "nominal": Link(lambda k: k - 1, _logit),
}
"""The model of each kind of discrete predictor (the kinds of :mod:`jmimpute.kinds`)."""


def combinations(predictors: tuple[Discrete, ...]) -> list[tuple[int, ...]]:
    """Every combination of the predictors' codes.

    The first predictor's is the most significant: the order :func:`numpy.unravel_index`
    reads back.
    """
    return list(product(*(range(d.n_categories) for d in predictors)))


def agrees(predictors: tuple[Discrete, ...], combo: tuple[int, ...]) -> np.ndarray:
    """Units whose observed codes agree with ``combo`` (a missing code agrees with any)."""
    units = predictors[0].codes.shape[0] if predictors else 0
    out = np.ones(units, dtype=bool)
    for d, code in zip(predictors, combo, strict=True):
        out &= (d.codes < 0) | (d.codes == code)
    return out


def unknown(predictors: tuple[Discrete, ...]) -> np.ndarray:
    """Units with a missing code among ``predictors``."""
    if not predictors:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.column_stack([d.codes < 0 for d in predictors]).any(axis=1))
