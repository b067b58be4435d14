"""The sweep's generator (models/augmented/generator.py): reference outputs and normals.

The uniforms are checked bit for bit against the published algorithms' outputs; the
normals by distribution. Each statistical check is one seeded draw with a stated
tolerance: Kolmogorov-Smirnov at its 0.1% critical value ``1.95 / sqrt(n)``, and
frequencies and moments within 4.5 standard errors of their exact values (a false alarm
about once in 150,000 runs per check; a layer table that is off by a layer's area moves
the tail frequency by far more).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import stats

from jmimpute.models.augmented.generator import R, X, next_u64, normal, seeded, uniform

N = 2_000_000


@njit
def _outputs(state, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = next_u64(state)
    return out


@njit
def _normals(seed, n):
    state = seeded(seed)
    out = np.empty(n)
    for i in range(n):
        out[i] = normal(state)
    return out


@njit
def _uniforms(seed, n):
    state = seeded(seed)
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(state)
    return out


def test_splitmix64_seeding_gives_the_reference_outputs():
    """splitmix64 from 0: the first outputs of Vigna's reference implementation."""
    assert seeded(0)[:2].tolist() == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


def _xoshiro_reference(state: list[int], n: int) -> list[int]:
    """xoshiro256++ as its authors' C code writes it, in Python integers."""
    mask = (1 << 64) - 1

    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & mask

    s = list(state)
    out = []
    for _ in range(n):
        out.append((rotl((s[0] + s[3]) & mask, 23) + s[0]) & mask)
        t = (s[1] << 17) & mask
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def test_xoshiro256plusplus_gives_the_reference_outputs():
    """The first output from (1, 2, 3, 4) is rotl(1 + 4, 23) + 1 = 5 * 2^23 + 1; the next
    thousand (from a seeded state too) are those of the C code, in Python integers."""
    assert _outputs(np.array([1, 2, 3, 4], dtype=np.uint64), 1).tolist() == [41943041]
    state = seeded(2024)
    expected = _xoshiro_reference([int(v) for v in state], 1000)
    assert _outputs(state, 1000).tolist() == expected


def test_uniforms_fill_the_unit_interval():
    u = _uniforms(3, N)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").statistic < 1.95 / np.sqrt(N)


def test_normals_follow_the_standard_normal():
    z = _normals(7, N)
    assert stats.kstest(z, "norm").statistic < 1.95 / np.sqrt(N)
    # mean and variance: standard errors 1/sqrt(N) and sqrt(2/N)
    assert abs(z.mean()) < 4.5 / np.sqrt(N)
    assert abs(z.var() - 1.0) < 4.5 * np.sqrt(2.0 / N)


def test_normals_reach_the_tail_as_often_as_the_normal():
    """Beyond R the draws come from the tail method; between 2 and R from the wedges."""
    z = np.abs(_normals(11, 4 * N))
    for lo, hi in ((2.0, R), (R, np.inf), (X[2], X[1])):
        p = 2 * (stats.norm.sf(lo) - stats.norm.sf(hi))
        seen = np.mean((z > lo) & (z <= hi))
        assert abs(seen - p) < 4.5 * np.sqrt(p * (1 - p) / z.size), (lo, hi, seen, p)


def test_a_seed_gives_the_same_draws_and_seeds_differ():
    np.testing.assert_array_equal(_normals(5, 100), _normals(5, 100))
    assert not np.array_equal(_normals(5, 100), _normals(6, 100))
