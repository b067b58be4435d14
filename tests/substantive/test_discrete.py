"""The discrete predictors' links give probabilities, and categories are drawn from the
kept weights in the order the model spells the combinations."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy.special import softmax
from scipy.stats import norm

from jmimpute.models.substantive.discrete import LINKS, Discrete, agrees, combinations
from jmimpute.models.substantive.model import _chosen, _set_codes

M = np.linspace(-3.0, 3.0, 13)


def _probs(kind: str, k: int, linear: list[np.ndarray]) -> tuple[np.ndarray, pm.Model]:
    d = Discrete("v", kind, tuple(range(k)), np.zeros(1, dtype=np.int64))
    with pm.Model() as model:
        hyper = {"beta_sd": pt.as_tensor(2.5)}
        logp = LINKS[kind].log_probs(d, [pt.as_tensor(m) for m in linear], hyper, [])
        (out,) = model.replace_rvs_by_values([pt.stack(logp)])
        values = model.compile_fn(out, inputs=model.value_vars)(model.initial_point())
    return np.exp(values), model


@pytest.mark.parametrize("kind, k", [("binary", 2), ("ordinal", 2), ("ordinal", 4), ("nominal", 3)])
def test_the_categories_probabilities_sum_to_one(kind, k):
    n = LINKS[kind].n_predictors(k)
    linear = [M + 0.3 * i for i in range(n)]
    p, _ = _probs(kind, k, linear)
    assert p.shape == (k, M.size)
    # PyMC's normal_lcdf approximates the lower tail to about 3e-8 relative
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-7)


def test_the_probit_and_the_ordered_probit():
    p, _ = _probs("binary", 2, [M])
    np.testing.assert_allclose(p[1], norm.cdf(M), rtol=1e-7)
    p, model = _probs("ordinal", 3, [M])
    gap = float(np.exp(model.initial_point()["cutpoint_gaps_v_log__"][0]))
    want = np.diff(norm.cdf(np.array([-np.inf, 0.0, gap, np.inf])[:, None] - M), axis=0)
    # a middle category is a difference of two such tails
    np.testing.assert_allclose(p, want, rtol=1e-6, atol=1e-9)


def test_the_multinomial_logit():
    linear = [M, -0.5 * M]
    p, _ = _probs("nominal", 3, linear)
    np.testing.assert_allclose(p, softmax(np.stack([0 * M, *linear]), axis=0), rtol=1e-10)


def test_combinations_are_spelled_as_numpy_reads_them_back():
    ds = (
        Discrete("a", "nominal", ("p", "q", "r"), np.array([0, -1, 2])),
        Discrete("b", "binary", ("n", "y"), np.array([-1, 1, -1])),
    )
    combos = combinations(ds)
    assert len(combos) == 6
    for i, combo in enumerate(combos):
        assert tuple(np.unravel_index(i, (3, 2))) == combo
    np.testing.assert_array_equal(agrees(ds, (0, 1)), [True, True, False])
    assert combinations(()) == [()]


def test_missing_codes_are_drawn_from_the_weights_and_observed_ones_kept():
    rng = np.random.default_rng(0)
    ds = (
        Discrete("a", "nominal", ("p", "q", "r"), np.array([-1, 1, -1])),
        Discrete("b", "binary", ("n", "y"), np.array([0, -1, -1])),
    )
    want = np.array([0.1, 0.0, 0.2, 0.3, 0.15, 0.25])  # row 0: b observed 0
    rows = np.arange(3)
    draws = 20000
    counts = np.zeros((3, 6))
    for _ in range(draws // 1000):
        log_w = np.log(np.tile(want, (1000 * 3, 1)) + 1e-300)
        chosen = _chosen(log_w, log_w.shape[0], rng).reshape(1000, 3)
        for r in rows:
            np.add.at(counts[r], chosen[:, r], 1)
    freq = counts[0] / draws
    se = np.sqrt(want * (1 - want) / draws)
    assert np.all(np.abs(freq - want) <= 5 * se + 1e-12)  # 5 binomial s.e.
    codes = {d.name: d.codes.copy() for d in ds}
    _set_codes(ds, codes, rows, np.array([5, 0, 3]))
    np.testing.assert_array_equal(codes["a"], [2, 1, 1])  # row 1's observed 1 kept
    np.testing.assert_array_equal(codes["b"], [0, 0, 1])  # row 0's observed 0 kept
