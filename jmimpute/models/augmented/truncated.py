"""Normal draws confined to a half-line, by exact rejection (Numba).

The data-augmentation sampler draws every observed category's latent value from a normal
truncated to its category's region, a half-line given the row's other latents
(:mod:`jmimpute.models.augmented.sweep`). The draws use Numba's own generator, which the
sweep seeds from the chain's NumPy stream at every call (Numba keeps one generator per
thread, so chains on threads do not share it).

Where the bound leaves at least 31% of the mass (standardised bound ``a < 1/2``), normal
draws are repeated until one falls above it; further out, translated exponential
proposals with Robert's optimal rate ``(a + sqrt(a^2 + 4)) / 2`` are accepted with
probability ``exp(-(z - rate)^2 / 2)`` (Robert 1995, "Simulation of truncated normal
variables"), which accepts 60% or more of them for every ``a >= 1/2``. Both are exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

FAST = 0.5
"""Below this standardised bound, plain normal draws; at or above it, exponential ones."""


@njit(cache=True, nogil=True)
def above(mean: float, sd: float, lower: float) -> float:
    """A draw of ``N(mean, sd^2)`` given that it exceeds ``lower``."""
    a = (lower - mean) / sd
    if a < FAST:
        while True:
            x = np.random.standard_normal()  # noqa: NPY002 (Numba's generator)
            if x > a:
                return mean + sd * x
    rate = 0.5 * (a + math.sqrt(a * a + 4.0))
    while True:
        z = a - math.log(1.0 - np.random.random()) / rate  # noqa: NPY002
        if np.random.random() <= math.exp(-0.5 * (z - rate) * (z - rate)):  # noqa: NPY002
            return mean + sd * z


@njit(cache=True, nogil=True)
def below(mean: float, sd: float, upper: float) -> float:
    """A draw of ``N(mean, sd^2)`` given that it is below ``upper``."""
    return -above(-mean, sd, -upper)


@njit(cache=True, nogil=True)
def seed(value: int) -> None:
    """Seed this thread's Numba generator (the one :func:`above` draws from)."""
    np.random.seed(value)  # noqa: NPY002 (inside Numba: its per-thread generator)
