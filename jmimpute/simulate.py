"""The substantive model's simulation designs (docs/design/substantive-model.md), seeded.

Each design returns the incomplete data, the complete data and the true parameters of its
analysis model, so that a benchmark or test can compare pooled estimates with the truth.
Missingness is MAR on an auxiliary variable ``z`` correlated with the outcome: the rows
with the largest ``z + noise`` lose their values with the higher probability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DESIGNS", "SimulatedDesign", "simulate_design"]


@dataclass(frozen=True)
class SimulatedDesign:
    """One simulated data set of a design.

    Attributes
    ----------
    data, complete : pandas.DataFrame
        Incomplete and complete data (columns ``g``, ``y``, ``x``, ``z`` and the design's).
    analysis : str
        The analysis formula (lme4 syntax, with ``mean(x)`` where the design has one).
    truth : dict of str to float
        True values of the estimands: fixed effects by term, ``var(x)``/``cov(...)``
        random-effect variances by name.
    auxiliary : tuple of str
    """

    data: pd.DataFrame
    complete: pd.DataFrame
    analysis: str
    truth: dict[str, float]
    auxiliary: tuple[str, ...] = field(default=("z",))


def _mar(rng: np.random.Generator, z: np.ndarray, rate: float) -> np.ndarray:
    """Missing with probability rising in ``z`` (logistic), ``rate`` on average."""
    score = (z - z.mean()) / z.std()
    lo, hi = -10.0, 10.0
    for _ in range(60):  # the intercept that gives the rate
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(mid + 1.5 * score)))).mean() < rate:
            lo = mid
        else:
            hi = mid
    return rng.random(z.size) < 1 / (1 + np.exp(-(lo + 1.5 * score)))


def _aux(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """An auxiliary correlated about 0.6 with ``y``."""
    return 0.6 * (y - y.mean()) / y.std() + 0.8 * rng.standard_normal(y.size)


def _predictor(rng: np.random.Generator, clusters: int, size: int) -> tuple[np.ndarray, ...]:
    """Cluster codes and a level-1 predictor with ICC 0.2 and variance 1."""
    g = np.repeat(np.arange(clusters), size)
    x = np.sqrt(0.2) * rng.standard_normal(clusters)[g] + np.sqrt(0.8) * rng.standard_normal(g.size)
    return g, x


def _incomplete(
    rng: np.random.Generator,
    g: np.ndarray,
    y: Any,
    cols: dict[str, Any],
    latent: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Complete and incomplete data: an auxiliary ``z`` added, 25% of y and x MAR on it.

    ``z`` is drawn from ``latent`` where given (a binary ``y``'s latent normal), else from
    ``y``.
    """
    z = _aux(rng, y if latent is None else latent)
    complete = pd.DataFrame({"g": g, "y": y, **cols, "z": z})
    data = complete.copy()
    data.loc[_mar(rng, z, 0.25), "y"] = np.nan
    data.loc[_mar(rng, z, 0.25), "x"] = np.nan
    return data, complete


def random_slope(rng: np.random.Generator, clusters: int = 100, size: int = 10) -> SimulatedDesign:
    """S1: ``y = 0.5 x + u0 + u1 x + e``, 25% of ``y`` and of ``x`` missing MAR on ``z``."""
    g, x = _predictor(rng, clusters, size)
    tau = np.array([[0.3, 0.05], [0.05, 0.1]])
    u = rng.multivariate_normal(np.zeros(2), tau, clusters)
    y = 0.5 * x + u[g, 0] + u[g, 1] * x + rng.standard_normal(g.size)
    data, complete = _incomplete(rng, g, y, {"x": x})
    return SimulatedDesign(
        data,
        complete,
        "y ~ x + (1 + x | g)",
        {"(Intercept)": 0.0, "x": 0.5, "var(x)": 0.1, "cov((Intercept),x)": 0.05},
    )


def cross_level(rng: np.random.Generator, clusters: int = 100, size: int = 10) -> SimulatedDesign:
    """S2: ``y = 0.5 x + 0.3 w + 0.3 x w + u0 + e``; 20% of clusters lose ``w``."""
    w = rng.standard_normal(clusters)
    g, x = _predictor(rng, clusters, size)
    y = 0.5 * x + 0.3 * w[g] + 0.3 * x * w[g] + np.sqrt(0.3) * rng.standard_normal(clusters)[g]
    y = y + rng.standard_normal(g.size)
    data, complete = _incomplete(rng, g, y, {"x": x, "w": w[g]})
    lost = rng.random(clusters) < 0.2
    data.loc[lost[g], "w"] = np.nan
    return SimulatedDesign(
        data,
        complete,
        "y ~ x * w + (1 | g)",
        {"(Intercept)": 0.0, "x": 0.5, "w": 0.3, "x:w": 0.3, "var((Intercept))": 0.3},
    )


def contextual(rng: np.random.Generator, clusters: int = 200, size: int = 5) -> SimulatedDesign:
    """S4: ``y = 0.5 (x - mu_j) + 1.0 mu_j + u0 + e`` with the latent mean ``mu_j``, n = 5."""
    g = np.repeat(np.arange(clusters), size)
    mu = np.sqrt(0.2) * rng.standard_normal(clusters)
    x = mu[g] + np.sqrt(0.8) * rng.standard_normal(g.size)
    y = 0.5 * (x - mu[g]) + 1.0 * mu[g] + np.sqrt(0.3) * rng.standard_normal(clusters)[g]
    y = y + rng.standard_normal(g.size)
    data, complete = _incomplete(rng, g, y, {"x": x})
    # with the latent mean, y = 0.5 cwc(x) + 1.0 mean(x): the within and between slopes
    return SimulatedDesign(
        data,
        complete,
        "y ~ cwc(x) + mean(x) + (1 | g)",
        {"(Intercept)": 0.0, "cwc(x)": 0.5, "mean(x)": 1.0},
    )


def binary_square(rng: np.random.Generator, clusters: int = 100, size: int = 10) -> SimulatedDesign:
    """S3: ``y = 0.5 x + 0.3 b + 0.4 x b + 0.2 x^2 + u0 + e``, 15% of the binary ``b`` missing.

    ``b`` is categorical (``"no"``/``"yes"``), related to ``x`` and to its cluster
    (probit with a random intercept); 25% of ``y`` and ``x`` missing MAR on ``z`` as in
    the other designs, 15% of ``b`` completely at random.
    """
    g, x = _predictor(rng, clusters, size)
    latent = 0.4 * x + np.sqrt(0.2) * rng.standard_normal(clusters)[g] + rng.standard_normal(g.size)
    b = (latent > 0).astype(float)
    y = 0.5 * x + 0.3 * b + 0.4 * x * b + 0.2 * x**2
    y = y + np.sqrt(0.3) * rng.standard_normal(clusters)[g] + rng.standard_normal(g.size)
    labels = pd.Categorical(np.where(b > 0, "yes", "no"), categories=["no", "yes"])
    data, complete = _incomplete(rng, g, y, {"x": x, "b": labels})
    data.loc[rng.random(g.size) < 0.15, "b"] = np.nan
    return SimulatedDesign(
        data,
        complete,
        "y ~ x * b + I(x**2) + (1 | g)",
        {"(Intercept)": 0.0, "x": 0.5, "b[yes]": 0.3, "x:b[yes]": 0.4, "I(x**2)": 0.2},
    )


def categories(rng: np.random.Generator, clusters: int = 100, size: int = 10) -> SimulatedDesign:
    """S5: an ordinal level-1 ``o`` and a nominal level-2 ``d``, both incomplete.

    ``y = 0.5 x + 0.4 [o = mid] + 0.8 [o = hi] + 0.5 [d = b] - 0.3 [d = c]
    + 0.3 x [d = b] - 0.2 x [d = c] + u0 + e``. ``o`` is an ordered probit of ``x`` with
    a cluster effect (thresholds -0.3 and 0.7), ``d`` a multinomial logit of the cluster's
    mean of ``x``; 25% of ``y`` and ``x`` missing MAR on ``z`` as in the other designs,
    15% of ``o`` and 20% of the clusters' ``d`` completely at random.
    """
    g = np.repeat(np.arange(clusters), size)
    mu = np.sqrt(0.2) * rng.standard_normal(clusters)
    x = mu[g] + np.sqrt(0.8) * rng.standard_normal(g.size)
    latent = 0.6 * x + np.sqrt(0.2) * rng.standard_normal(clusters)[g] + rng.standard_normal(g.size)
    o = np.digitize(latent, [-0.3, 0.7])
    logits = np.column_stack([np.zeros(clusters), 0.3 + 2.0 * mu, -0.3 - 2.0 * mu])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d = (p.cumsum(axis=1) < rng.random((clusters, 1))).sum(axis=1)
    y = 0.5 * x + 0.4 * (o == 1) + 0.8 * (o == 2) + 0.5 * (d[g] == 1) - 0.3 * (d[g] == 2)
    y = y + 0.3 * x * (d[g] == 1) - 0.2 * x * (d[g] == 2)
    y = y + np.sqrt(0.3) * rng.standard_normal(clusters)[g] + rng.standard_normal(g.size)
    cols = {
        "x": x,
        "o": pd.Categorical(np.array(["lo", "mid", "hi"])[o], ["lo", "mid", "hi"], ordered=True),
        "d": pd.Categorical(np.array(["a", "b", "c"])[d[g]], categories=["a", "b", "c"]),
    }
    data, complete = _incomplete(rng, g, y, cols)
    data.loc[rng.random(g.size) < 0.15, "o"] = np.nan
    data.loc[(rng.random(clusters) < 0.2)[g], "d"] = np.nan
    truth = {"(Intercept)": 0.0, "x": 0.5, "o[mid]": 0.4, "o[hi]": 0.8, "d[b]": 0.5}
    truth |= {"d[c]": -0.3, "x:d[b]": 0.3, "x:d[c]": -0.2}
    return SimulatedDesign(data, complete, "y ~ x * d + o + (1 | g)", truth)


def binary_outcome(
    rng: np.random.Generator, clusters: int = 200, size: int = 10
) -> SimulatedDesign:
    """S6, a binary outcome: ``P(y = yes) = Phi(-0.2 + 0.6 x + 0.4 v - 0.4 x v + u0)``.

    ``var(u0) = 0.3``, ``v`` a complete binary; 25% of ``y`` and ``x`` missing MAR on
    ``z``, which is drawn from the latent normal of ``y`` so that it carries what a
    missing ``y`` would have been. ``y`` is categorical (``"no"``/``"yes"``). The
    auxiliary's model (normal given ``y``'s 0/1 code and ``x``) is then an approximation:
    ``z`` given ``y`` and ``x`` is a skewed mixture, which can leave a small bias that is
    the design's, not the model's.
    """
    g, x = _predictor(rng, clusters, size)
    v = (rng.random(g.size) < 0.5).astype(float)
    eta = -0.2 + 0.6 * x + 0.4 * v - 0.4 * x * v + np.sqrt(0.3) * rng.standard_normal(clusters)[g]
    latent = eta + rng.standard_normal(g.size)
    y = pd.Categorical(np.where(latent > 0, "yes", "no"), categories=["no", "yes"])
    data, complete = _incomplete(rng, g, y, {"x": x, "v": v}, latent=latent)
    return SimulatedDesign(
        data,
        complete,
        "y ~ x * v + (1 | g)",
        {"(Intercept)": -0.2, "x": 0.6, "v": 0.4, "x:v": -0.4, "var((Intercept))": 0.3},
    )


def square(rng: np.random.Generator, clusters: int = 100, size: int = 10) -> SimulatedDesign:
    """S3c, S3 with a complete moderator: ``y = 0.5 x + 0.3 v + 0.4 x v + 0.2 x^2 + u0 + e``.

    The design note's S3 with its binary moderator complete: the interaction and the
    square of an incomplete continuous ``x`` alone (the first variant built, kept as the
    continuous-only check; S3 has the incomplete binary).
    """
    g, x = _predictor(rng, clusters, size)
    v = (rng.random(g.size) < 0.5).astype(float)
    y = 0.5 * x + 0.3 * v + 0.4 * x * v + 0.2 * x**2
    y = y + np.sqrt(0.3) * rng.standard_normal(clusters)[g] + rng.standard_normal(g.size)
    data, complete = _incomplete(rng, g, y, {"x": x, "v": v})
    return SimulatedDesign(
        data,
        complete,
        "y ~ x * v + I(x**2) + (1 | g)",
        {"(Intercept)": 0.0, "x": 0.5, "v": 0.3, "x:v": 0.4, "I(x**2)": 0.2},
    )


DESIGNS: dict[str, Callable[..., SimulatedDesign]] = {
    "S1": random_slope,
    "S2": cross_level,
    "S3": binary_square,
    "S3c": square,
    "S4": contextual,
    "S5": categories,
    "S6": binary_outcome,
}
"""The designs by the design note's names."""


def simulate_design(name: str, seed: int, **sizes: int) -> SimulatedDesign:
    """One seeded data set of design ``name`` (:data:`DESIGNS`)."""
    try:
        make = DESIGNS[name]
    except KeyError:
        raise ValueError(f"no design {name!r}; the designs are {', '.join(DESIGNS)}") from None
    return make(np.random.default_rng(seed), **sizes)
