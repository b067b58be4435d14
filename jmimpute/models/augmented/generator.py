"""The sweep's random numbers (Numba): xoshiro256++ uniforms and ziggurat normals.

One latent sweep draws a truncated normal for every observed category's latent, each by
rejection from normal or exponential proposals (:mod:`jmimpute.models.augmented.truncated`),
so at scale the generator is a large share of an iteration. Numba's ``np.random``
(Mersenne Twister, normals by the polar method) costs several times what these do
(``python benchmarks/bench_scale.py --parts`` times both), and it is one generator per
thread that must be seeded before every sweep. Here a generator is a state array of four
``uint64`` that the caller owns and passes in, so a chain's draws depend on its seed
alone, whichever thread runs it.

* **Uniforms**: xoshiro256++ (Blackman and Vigna 2021, "Scrambled linear pseudorandom
  number generators"), a general-purpose generator whose low bits, unlike xoshiro256+'s,
  are as good as its high ones (the normals take the layer from the low bits), seeded
  through splitmix64 as its authors recommend; 53 bits make a double in [0, 1).
* **Normals**: the ziggurat of Marsaglia and Tsang (2000, "The ziggurat method for
  generating random variables") with 256 layers, from one 64-bit output per proposal (8
  low bits the layer, 1 the sign, the top 53 the abscissa), and Marsaglia's exponential
  method in the tail beyond ``R``. It is exact up to the tables' rounding (the layers'
  areas agree to 1e-9 of each): a draw is rejected wherever a layer's box leaves the
  density.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

R = 3.6541528853610088
"""Where the ziggurat's tail begins: the right edge of its first layer above the base."""
_V = 0.00492867323399
"""Each layer's area (the base's includes the tail beyond ``R``), Marsaglia and Tsang's."""
_LAYERS = 256


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Each layer's right edge ``x`` (descending, ``x[256] = 0``) and ``f = exp(-x^2 / 2)``.

    ``x[0]`` is the base's width ``V / f(R)``, so that a box of that width and height
    ``f(R)`` has the base's area.
    """
    x = np.zeros(_LAYERS + 1)
    x[0] = _V / math.exp(-0.5 * R * R)
    x[1] = R
    for i in range(2, _LAYERS):
        x[i] = math.sqrt(-2.0 * math.log(_V / x[i - 1] + math.exp(-0.5 * x[i - 1] ** 2)))
    return x, np.exp(-0.5 * x * x)


X, F = _tables()


@njit(cache=True, nogil=True)
def seeded(seed: int) -> np.ndarray:
    """A new generator state from ``seed``: four outputs of splitmix64."""
    state = np.empty(4, dtype=np.uint64)
    z = np.uint64(seed)
    for i in range(4):
        z += np.uint64(0x9E3779B97F4A7C15)
        t = z
        t = (t ^ (t >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        t = (t ^ (t >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state[i] = t ^ (t >> np.uint64(31))
    return state


@njit(cache=True, nogil=True, inline="always")
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, nogil=True, inline="always")
def next_u64(state: np.ndarray) -> np.uint64:
    """The next 64-bit output of xoshiro256++, advancing ``state``."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    state[0], state[1], state[2], state[3] = s0, s1, s2, _rotl(s3, 45)
    return result


@njit(cache=True, nogil=True, inline="always")
def uniform(state: np.ndarray) -> float:
    """A double in [0, 1) from the top 53 bits of one output."""
    return float(next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def normal(state: np.ndarray) -> float:
    """A standard normal draw."""
    while True:
        u = next_u64(state)
        i = int(u & np.uint64(_LAYERS - 1))
        negative = (u >> np.uint64(8)) & np.uint64(1)
        x = float(u >> np.uint64(11)) * (1.0 / 9007199254740992.0) * X[i]
        if x < X[i + 1]:  # inside the part of the layer's box under the density
            return -x if negative else x
        if i == 0:  # beyond the base's box under the density: the tail
            x = tail(state)
            return -x if negative else x
        if F[i] + uniform(state) * (F[i + 1] - F[i]) < math.exp(-0.5 * x * x):
            return -x if negative else x


@njit(cache=True, nogil=True)
def tail(state: np.ndarray) -> float:
    """A standard normal draw given that it exceeds ``R`` (Marsaglia 1964)."""
    while True:
        a = -math.log(1.0 - uniform(state)) / R
        b = -math.log(1.0 - uniform(state))
        if b + b > a * a:
            return R + a
