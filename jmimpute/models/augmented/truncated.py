"""Normal draws confined to a half-line, by exact rejection (Numba).

The data-augmentation sampler draws every observed category's latent value from a normal
truncated to its category's region, a half-line given the row's other latents
(:mod:`jmimpute.models.augmented.sweep`). The draws take their random numbers from a
generator state the caller passes (:mod:`jmimpute.models.augmented.generator`).

Where the bound leaves more than 30% of the mass (standardised bound ``a < 1/2``), normal
draws are repeated until one falls above it: for ``a >= 0`` their absolute values, since
the normal above a non-negative bound is the half-normal above it, which accepts more
than 61% of the proposals where plain draws would accept more than 30%. Further out,
translated exponential proposals with Robert's optimal rate ``(a + sqrt(a^2 + 4)) / 2``
are accepted with probability ``exp(-t)``, ``t = (z - rate)^2 / 2`` (Robert 1995,
"Simulation of truncated normal variables"), which accepts more than 80% of them for every
``a >= 1/2``; a uniform below ``1 - t``, which is below ``exp(-t)``, accepts without the
exponential. All are exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from jmimpute.models.augmented.generator import normal, uniform

FAST = 0.5
"""Below this standardised bound, normal (half-normal from 0) draws; from it, exponential."""


@njit(cache=True, nogil=True)
def above(mean: float, sd: float, lower: float, state: np.ndarray) -> float:
    """A draw of ``N(mean, sd^2)`` given that it exceeds ``lower``, from ``state``."""
    a = (lower - mean) / sd
    if a < 0.0:
        while True:
            x = normal(state)
            if x > a:
                return mean + sd * x
    if a < FAST:
        while True:
            x = abs(normal(state))
            if x > a:
                return mean + sd * x
    rate = 0.5 * (a + math.sqrt(a * a + 4.0))
    while True:
        z = a - math.log(1.0 - uniform(state)) / rate
        t = 0.5 * (z - rate) * (z - rate)
        u = uniform(state)
        if u <= 1.0 - t or u <= math.exp(-t):
            return mean + sd * z


@njit(cache=True, nogil=True)
def below(mean: float, sd: float, upper: float, state: np.ndarray) -> float:
    """A draw of ``N(mean, sd^2)`` given that it is below ``upper``, from ``state``."""
    return -above(-mean, sd, -upper, state)
