"""Property-based tests of pooling: only documented errors, and Rubin's rules' invariants.

Invariants, on m = 2..8 sets of k = 1..4 estimates in [-1e3, 1e3] with variances in
[1e-3, 1e3] (the scale of real analyses; the tolerances below are stated for it):

* m identical sets have no between-imputation variance: ``B`` is zero up to the rounding
  of the mean, ``|B| <= 2 (m eps max|Q|)^2``, so ``T = W``.
* the pooled point is the mean of the estimates, to ``4 m eps max|Q|`` of the exactly
  rounded mean (``math.fsum``).
* permuting the sets changes nothing but the order of the sums: ``estimate``, ``within``,
  ``between`` and ``total`` agree to ``rtol = 1e-9`` with an absolute floor of
  ``1e-12 max|Q|`` (``1e-12 max|Q|^2`` for variances); the derived columns (df, p, CI,
  FMI) too, wherever ``B`` is not within rounding of zero (there ``r`` and the df are
  ratios of rounding errors).

Any input, however odd (ragged, NaN, negative variances, wrong shapes), raises nothing
but the ValueError the functions document, and no RuntimeWarning (pytest turns warnings
into errors). Derandomised with a fixed number of examples, so that CI runs the same
examples each time (no example database is written).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jmimpute.pooling import d1_test, d2_test, pool, pool_point

PROPERTIES = settings(max_examples=150, deadline=None, derandomize=True, database=None)
EPS = np.finfo(float).eps

sizes = st.tuples(st.integers(2, 8), st.integers(1, 4))
estimate = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)
variance = st.floats(1e-3, 1e3, allow_nan=False)


@st.composite
def imputed(draw, identical: bool = False):
    """(estimates (m, k), variances (m, k))."""
    m, k = draw(sizes)
    if identical:
        row = draw(hnp.arrays(float, k, elements=estimate))
        q = np.tile(row, (m, 1))
    else:
        q = draw(hnp.arrays(float, (m, k), elements=estimate))
    u = draw(hnp.arrays(float, (m, k), elements=variance))
    return q, u


def _scale(q: np.ndarray) -> float:
    return max(1.0, float(np.abs(q).max()))


@PROPERTIES
@given(imputed(identical=True))
def test_identical_sets_have_no_between_variance(data):
    q, u = data
    m = q.shape[0]
    table = pool(q, u).table
    assert (table["between"].abs() <= 2 * (m * EPS * _scale(q)) ** 2).all()
    np.testing.assert_allclose(table["total"], table["within"], rtol=1e-12)
    np.testing.assert_allclose(table["estimate"], q[0], rtol=0, atol=4 * m * EPS * _scale(q))


@PROPERTIES
@given(imputed(), st.one_of(st.none(), st.floats(1, 1e4)))
def test_pooled_point_is_the_mean_and_the_parts_add_up(data, df_com):
    q, u = data
    m = q.shape[0]
    table = pool(q, u, df_com=df_com).table
    mean = [math.fsum(column) / m for column in q.T]
    np.testing.assert_allclose(table["estimate"], mean, rtol=0, atol=4 * m * EPS * _scale(q))
    np.testing.assert_allclose(table["within"], u.mean(axis=0), rtol=1e-12)
    expected_total = table["within"] + (1 + 1 / m) * table["between"]
    np.testing.assert_allclose(table["total"], expected_total, rtol=1e-12)
    np.testing.assert_allclose(table["std_error"] ** 2, table["total"], rtol=1e-12)
    assert (table["df"] > 0).all()
    assert ((table["lambda"] >= 0) & (table["lambda"] <= 1)).all()
    assert ((table["fmi"] >= 0) & (table["fmi"] <= 1 + 1e-12)).all()
    assert (table["ci_lower"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["ci_upper"]).all()
    np.testing.assert_allclose(pool_point(q).to_numpy(), table["estimate"], rtol=0, atol=0)


@PROPERTIES
@given(imputed(), st.randoms(use_true_random=False), st.one_of(st.none(), st.floats(1, 1e4)))
def test_permuting_the_sets_changes_nothing(data, rng, df_com):
    q, u = data
    m = q.shape[0]
    order = list(range(m))
    rng.shuffle(order)
    a = pool(q, u, df_com=df_com).table
    b = pool(q[order], u[order], df_com=df_com).table
    scale = _scale(q)
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-9, atol=1e-12 * scale)
    for column in ("within", "between", "total"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-9, atol=1e-12 * scale**2)
    resolved = (a["between"] > 1e-9 * scale**2).to_numpy()
    for column in ("riv", "df", "p_value", "ci_lower", "ci_upper", "fmi"):
        np.testing.assert_allclose(b[column][resolved], a[column][resolved], rtol=1e-6)
    if m >= 3:  # the D1 and D2 statistics are symmetric in the sets too
        cov = np.stack([np.diag(row) for row in u])
        d1a, d1b = d1_test(q, cov), d1_test(q[order], cov[order])
        assert math.isclose(d1a.statistic, d1b.statistic, rel_tol=1e-6, abs_tol=1e-9)
        chi2 = (q**2 / u).sum(axis=1)
        d2a, d2b = d2_test(chi2, df=q.shape[1]), d2_test(chi2[order], df=q.shape[1])
        assert math.isclose(d2a.statistic, d2b.statistic, rel_tol=1e-6, abs_tol=1e-9)


# -- odd input: only the documented ValueError ----------------------------------------------
number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    st.sampled_from(["a", "1.5", None, 1e308, -0.0, 5e-324]),
)
row = st.one_of(number, st.lists(number, max_size=4), st.lists(st.lists(number, max_size=3)))
odd = st.one_of(
    st.lists(row, max_size=5),
    hnp.arrays(float, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
)


@PROPERTIES
@given(
    estimates=odd,
    variances=odd,
    df_com=st.one_of(st.none(), st.floats(allow_nan=True), st.integers(-3, 100)),
    ci=st.one_of(st.floats(-1, 2), st.just(math.nan)),
)
def test_odd_input_raises_only_value_errors(estimates, variances, df_com, ci):
    calls = [
        lambda: pool(estimates, variances, df_com=df_com, ci=ci),
        lambda: pool_point(estimates),
        lambda: d1_test(estimates, variances, df_com=df_com),
        lambda: d2_test(estimates, df=df_com if df_com is not None else 1),
    ]
    for call in calls:
        try:
            call()
        except ValueError:
            pass
