"""Normal draws confined to a half-line, by the inverse of the normal CDF (Numba).

The data-augmentation sampler draws every observed category's latent value from a normal
truncated to its category's region, a half-line given the row's other latents
(:mod:`jmimpute.models.augmented.sweep`). A standard normal and three uniforms per draw,
supplied by the caller, so that a chain's draws come from its own NumPy stream.

The tail the draw falls in is computed directly (``Phi(-a) = erfc(a / sqrt 2) / 2``), so a
bound many standard deviations out loses no precision; the quantile is Acklam's rational
approximation refined by one Halley step against ``erfc``, which brings it to double
precision (Acklam, "An algorithm for computing the inverse normal cumulative distribution
function", 2003). Bounds are clipped at 37 standard deviations, beyond which ``Phi``
underflows: such a category has probability below 1e-300 under the current parameters.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)  # fmt: skip
_LOW = 0.02425
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
BOUND = 37.0
"""Bounds beyond this many standard deviations are clipped to it (see the module docstring)."""


@njit(cache=True, nogil=True)
def ndtr(x: float) -> float:
    """The standard normal CDF, accurate in both tails."""
    return 0.5 * math.erfc(-x / _SQRT2)


@njit(cache=True, nogil=True)
def ndtri(p: float) -> float:
    """The standard normal quantile of ``p`` in (0, 1), to double precision."""
    if p < _LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    elif p <= 1.0 - _LOW:
        q = p - 0.5
        r = q * q
        x = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        )
    else:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    # one Halley step on Phi(x) - p
    e = 0.5 * math.erfc(-x / _SQRT2) - p
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


FAST = 0.5
"""Where the bound is below ``mean + FAST sd``, a standard normal above it is taken as is;
above, one exponential proposal is tried (Robert 1995)."""


@njit(cache=True, nogil=True)
def above(mean: float, sd: float, lower: float, normal: float, uniforms: np.ndarray) -> float:
    """A draw of ``N(mean, sd^2)`` given that it exceeds ``lower``.

    One cheap try first: where the bound leaves at least 31% of the mass, ``normal`` (taken
    if above the bound); otherwise a translated exponential proposal with Robert's optimal
    rate, accepted with ``uniforms[1]`` (``uniforms[0]`` draws it; accepted 60% of the time
    or more). If the try fails, the inverse CDF of ``uniforms[2]``. Each branch gives the
    truncated normal, so the mixture does too; a try costs a fraction of the inverse CDF.
    """
    a = min(max((lower - mean) / sd, -BOUND), BOUND)
    if a < FAST:
        if normal > a:
            return mean + sd * normal
    else:
        rate = 0.5 * (a + math.sqrt(a * a + 4.0))
        z = a - math.log(1.0 - uniforms[0]) / rate
        if uniforms[1] <= math.exp(-0.5 * (z - rate) * (z - rate)):
            return mean + sd * z
    tail = 0.5 * math.erfc(a / _SQRT2)  # P(X > a), X standard normal
    # X > a with P(X > x) = u * tail; 1 - u keeps the quantile's argument > 0
    p = (1.0 - uniforms[2]) * tail
    x = -ndtri(p) if p > 0.0 else a
    return mean + sd * max(x, a)


@njit(cache=True, nogil=True)
def below(mean: float, sd: float, upper: float, normal: float, uniforms: np.ndarray) -> float:
    """A draw of ``N(mean, sd^2)`` given that it is below ``upper`` (see :func:`above`)."""
    return -above(-mean, sd, -upper, -normal, uniforms)
