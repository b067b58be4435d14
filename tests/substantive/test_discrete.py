"""The discrete predictors' links give probabilities, and categories are drawn from the
kept weights in the order the model spells the combinations."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
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
    # PyMC's normal_lcdf is an approximation (erfcx in the lower tail), not exact
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


def test_the_ordered_probit_is_finite_far_out_in_either_tail():
    """Far below the thresholds every lower-tail CDF rounds to 1; the middle category's
    probability and its gradient still come out finite (from the upper tails)."""
    d = Discrete("v", "ordinal", (0, 1, 2), np.zeros(1, dtype=np.int64))
    m = pt.dvector("m")
    with pm.Model() as model:
        logp = LINKS["ordinal"].log_probs(d, [m], {"beta_sd": pt.as_tensor(2.5)}, [])
        (total,) = model.replace_rvs_by_values([sum(lp.sum() for lp in logp)])
        (grad,) = model.replace_rvs_by_values([pt.grad(logp[1].sum(), m)])
        (probs,) = model.replace_rvs_by_values([pt.exp(pt.stack(logp))])
    point = model.initial_point()
    inputs = [m, *model.value_vars]
    at = np.array([-60.0, -39.0, 0.3, 39.0, 60.0])
    values = [at, *(point[v.name] for v in model.value_vars)]
    fn = pytensor.function(inputs, [total, grad, probs])
    t, g, p = fn(*values)
    assert np.all(np.isfinite(g)) and np.isfinite(t)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-7)


def test_a_shift_lands_on_the_shifted_variable_when_a_nominal_comes_first():
    """The shift is per dimension, a draw per variable: a nominal variable's K - 1
    dimensions come first in the layout and must not move the others' columns."""
    from types import SimpleNamespace

    from jmimpute.models.joint.conditional import Draw, Shift
    from jmimpute.models.substantive.model import _shifted

    observed = np.array([[True, True, False, True], [True, True, True, False]])
    level1 = SimpleNamespace(observed=observed, dim_var=np.array([0, 0, 1, 2]))
    design = SimpleNamespace(level1=level1, level2=None)
    draw = Draw(level1=np.zeros((2, 3)), level2=None, effects=np.zeros((1, 1, 4)))
    dims = np.array([False, False, True, False])  # the second variable's one dimension
    shift = Shift(level1=np.full((2, 4), 1.0), level2=None, dims1=dims, dims2=np.zeros(0, bool))
    out = _shifted(design, draw, shift)
    np.testing.assert_array_equal(out.level1, [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_a_complete_binary_outcome_enters_by_its_codes(monkeypatch):
    """Its observed codes give the log density and gradient that summing over it (the one
    code that agrees with each row) gives."""
    from jmimpute.models.substantive.design import Prepared
    from jmimpute.simulate import simulate_design
    from tests.helpers import substantive_built

    data = simulate_design("S6", 4, clusters=12, size=5).data
    data = data.assign(y=data["y"].fillna("no"))

    def at_points() -> list[tuple[float, np.ndarray]]:
        model = substantive_built(data, "y ~ x * v + (1 | g)", ["z"]).model
        logp, dlogp = model.compile_logp(), model.compile_dlogp()
        start = model.initial_point()
        rng = np.random.default_rng(0)
        points = [{k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in start.items()}]
        return [(float(logp(p)), np.asarray(dlogp(p))) for p in points * 2]

    by_codes = at_points()
    monkeypatch.setattr(Prepared, "summed", property(lambda self: (*self.discrete, self.outcome)))
    summed = at_points()
    for (a, ga), (b, gb) in zip(by_codes, summed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-12)
