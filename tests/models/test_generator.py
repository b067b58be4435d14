"""The sweep's generator (models/augmented/generator.py): reference outputs and normals.

The uniforms are checked bit for bit against the reference algorithms (outputs of their C
code, and an independent transcription in Python integers); the normals by distribution.
Each statistical check is one seeded draw with a stated tolerance: Kolmogorov-Smirnov at
its 0.1% critical value ``1.95 / sqrt(n)``, and frequencies and moments within 4.5
standard errors of their exact values (a false alarm about once in 150,000 runs per check).
A whole-sample KS test barely sees the ziggurat's wedges and tail, a small share of the
mass, so each draw is also checked within the layer interval it fell in, and the tail
method on its own.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import stats

from jmimpute.models.augmented.generator import R, X, next_u64, normal, seeded, tail, uniform

N = 2_000_000


@njit
def _outputs(state, n):
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = next_u64(state)
    return out


@njit
def _draws(draw, seed, n):
    """``n`` draws of ``draw`` (a generator function of the state) from ``seeded(seed)``."""
    state = seeded(seed)
    out = np.empty(n)
    for i in range(n):
        out[i] = draw(state)
    return out


def _normals(seed, n):
    return _draws(normal, seed, n)


def _uniforms(seed, n):
    return _draws(uniform, seed, n)


def test_splitmix64_seeding_gives_the_reference_outputs():
    """splitmix64 from 0: the first four outputs of Vigna's reference C code."""
    assert seeded(0).tolist() == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC
    ]  # fmt: skip


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
    """From (1, 2, 3, 4) the C code's first five outputs (the first is rotl(1 + 4, 23) + 1
    = 5 * 2^23 + 1); from a seeded state, a thousand as a Python-integer transcription of
    the C code gives them."""
    from_c = [41943041, 58720359, 3588806011781223, 3591011842654386, 9228616714210784205]
    assert _outputs(np.array([1, 2, 3, 4], dtype=np.uint64), 5).tolist() == from_c
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
    """Beyond R the draws come from the tail method; between 2 and R from layers' boxes
    and wedges."""
    z = np.abs(_normals(11, 4 * N))
    for lo, hi in ((2.0, R), (R, np.inf), (X[2], X[1])):
        p = 2 * (stats.norm.sf(lo) - stats.norm.sf(hi))
        seen = np.mean((z > lo) & (z <= hi))
        assert abs(seen - p) < 4.5 * np.sqrt(p * (1 - p) / z.size), (lo, hi, seen, p)


def test_normals_are_normal_within_each_layer_interval():
    """Where a draw falls within its layer's interval follows the normal there.

    For ``|z|`` in ``[X[i+1], X[i])`` (or beyond ``R``), its normal probability integral
    transform within that interval is uniform for every layer; a wrong wedge test moves
    draws within their intervals, which the whole-sample test above barely sees.
    """
    z = np.abs(_normals(13, N))
    edges = X[1:][::-1]  # 0 = X[256] < X[255] < ... < X[1] = R
    layer = np.searchsorted(edges, z, side="right") - 1  # index into edges; R and above last
    lo = edges[layer]
    hi = np.where(layer + 1 < edges.size, edges[np.minimum(layer + 1, edges.size - 1)], np.inf)
    u = (stats.norm.sf(lo) - stats.norm.sf(z)) / (stats.norm.sf(lo) - stats.norm.sf(hi))
    assert stats.kstest(u, "uniform").statistic < 1.95 / np.sqrt(N)


def test_tail_follows_the_normal_beyond_r():
    x = _draws(tail, 17, N // 2)
    assert x.min() > R
    ref = stats.truncnorm(R, np.inf)
    assert stats.kstest(x, ref.cdf).statistic < 1.95 / np.sqrt(x.size)


def test_a_seed_gives_the_same_draws_and_seeds_differ():
    np.testing.assert_array_equal(_normals(5, 100), _normals(5, 100))
    assert not np.array_equal(_normals(5, 100), _normals(6, 100))
