"""Pooling arithmetic: hand computation from the formulas, and mitml's worked output."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import jmimpute as jm
from jmimpute.pooling import barnard_rubin_df, d1_test, d2_test, pool_point

# The worked example: 5 imputations, 3 parameters.
QHAT = np.array(
    [
        [1.00, 0.50, -0.30],
        [1.10, 0.42, -0.25],
        [0.95, 0.55, -0.35],
        [1.05, 0.47, -0.20],
        [1.20, 0.40, -0.28],
    ]
)
BASE = np.array([[0.010, 0.002, -0.001], [0.002, 0.008, 0.0005], [-0.001, 0.0005, 0.012]])
UHAT = np.stack([BASE * (1 + 0.1 * i) for i in range(1, 6)])


def test_single_parameter_by_hand():
    q = np.array([2.0, 2.4, 1.8, 2.2])
    u = np.array([0.09, 0.10, 0.08, 0.11])
    m = 4
    qbar, w, b = q.mean(), u.mean(), q.var(ddof=1)
    t = w + (1 + 1 / m) * b
    r = (1 + 1 / m) * b / w
    df_old = (m - 1) * (1 + 1 / r) ** 2
    lam = (1 + 1 / m) * b / t
    nu_com = 30
    nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
    df = 1 / (1 / df_old + 1 / nu_obs)
    fmi = (r + 2 / (df + 3)) / (r + 1)

    res = jm.pool(q, u, df_com=nu_com).table.iloc[0]
    assert res["estimate"] == pytest.approx(qbar)
    assert res["std_error"] == pytest.approx(np.sqrt(t))
    assert res["riv"] == pytest.approx(r)
    assert res["lambda"] == pytest.approx(lam)
    assert res["df"] == pytest.approx(df)
    assert res["fmi"] == pytest.approx(fmi)
    assert res["p_value"] == pytest.approx(2 * stats.t.sf(qbar / np.sqrt(t), df))
    half = stats.t.ppf(0.975, df) * np.sqrt(t)
    assert (res["ci_lower"], res["ci_upper"]) == pytest.approx((qbar - half, qbar + half))

    large = jm.pool(q, u).table.iloc[0]
    assert large["df"] == pytest.approx(df_old)
    assert large["fmi"] == pytest.approx((r + 2 / (df_old + 3)) / (r + 1))


def test_variances_not_standard_errors_are_averaged():
    res = jm.pool([1.0, 1.0], [0.01, 0.09]).table.iloc[0]
    assert res["within"] == pytest.approx(0.05)  # not ((0.1 + 0.3) / 2) ** 2 = 0.04


def test_mitml_worked_example():
    """Numbers printed by mitml 0.4-4 (R 4.2) on this machine, from

    testEstimates(qhat = t(QHAT), uhat = UHAT)            # and df.com = 50
    testConstraints(qhat, uhat, c("a", "b", "c"), "D1")    # and df.com = 50
    testConstraints(qhat, uhat, c("a", "b", "c"), "D2")
    """
    names = ["a", "b", "c"]
    res = jm.pool(pd.DataFrame(QHAT, columns=names), UHAT).table
    np.testing.assert_allclose(res["estimate"], [1.060, 0.468, -0.276], rtol=1e-12)
    np.testing.assert_allclose(
        res["std_error"], [0.155241746962600, 0.121671689394041, 0.139125842315509], rtol=1e-12
    )
    np.testing.assert_allclose(
        res["df"], [18.8559370180992, 45.1984481121530, 106.2282558768591], rtol=1e-10
    )
    np.testing.assert_allclose(
        res["riv"], [0.853846153846154, 0.423461538461539, 0.240769230769231], rtol=1e-12
    )
    np.testing.assert_allclose(
        res["fmi"], [0.509942245364187, 0.326638014336015, 0.208805557722743], rtol=1e-10
    )
    np.testing.assert_allclose(
        res["p_value"],
        [1.68617465767795e-06, 3.73273567740418e-04, 4.98563432798882e-02],
        rtol=1e-8,
    )
    small = jm.pool(QHAT, UHAT, df_com=50).table
    np.testing.assert_allclose(
        small["df"], [10.9212495103040, 19.3384978211259, 28.4072927142214], rtol=1e-10
    )
    np.testing.assert_allclose(
        small["fmi"], [0.538076698961534, 0.360384218064285, 0.245370936872315], rtol=1e-10
    )

    d1 = d1_test(QHAT, UHAT)
    assert d1.statistic == pytest.approx(19.2801728130989, rel=1e-7)
    assert d1.df2 == pytest.approx(45.5842912202261, rel=1e-7)
    assert d1.p_value == pytest.approx(3.23264399325531e-08, rel=1e-7)
    assert d1.riv == pytest.approx(0.651082225875628, rel=1e-7)
    d1_small = d1_test(QHAT, UHAT, df_com=50)
    assert d1_small.df2 == pytest.approx(19.3555314823842, rel=1e-7)
    assert d1_small.p_value == pytest.approx(4.91232393801776e-06, rel=1e-7)

    wald = [q @ np.linalg.solve(u, q) for q, u in zip(QHAT, UHAT, strict=True)]
    d2 = d2_test(wald, df=3)
    assert d2.statistic == pytest.approx(24.5579183365118, rel=1e-7)
    assert d2.df2 == pytest.approx(38.4138578097431, rel=1e-7)
    assert d2.p_value == pytest.approx(4.83434341010885e-09, rel=1e-7)
    assert d2.riv == pytest.approx(0.302229802441752, rel=1e-7)


def test_no_between_variance_gives_infinite_df():
    res = jm.pool([1.0, 1.0, 1.0], [0.1, 0.1, 0.1]).table.iloc[0]
    assert res["riv"] == 0 and np.isinf(res["df"])
    assert barnard_rubin_df(np.array([0.0]), 3, 20.0)[0] == pytest.approx(20 * 21 / 23)


def test_point_pooling():
    out = pool_point(pd.DataFrame({"tau00": [8.0, 9.0], "icc": [0.17, 0.19]}))
    assert out["tau00"] == pytest.approx(8.5) and out["icc"] == pytest.approx(0.18)


@pytest.mark.parametrize(
    ("estimates", "variances", "kwargs", "message"),
    [
        ([1.0], [0.1], {}, "at least 2 imputed data sets"),
        ([1.0, 2.0], [0.1, 0.1, 0.1], {}, r"`variances` must hold .* shape \(2, 1\)"),
        ([1.0, 2.0], [0.1, -0.1], {}, "negative entries"),
        ([1.0, 2.0], [0.1, np.nan], {}, "missing or infinite"),
        ([1.0, 2.0], [0.1, 0.1], {"df_com": 0}, "`df_com` must be a positive"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), {}, r"`estimates` must be an \(m,\)"),
    ],
)
def test_bad_input(estimates, variances, kwargs, message):
    with pytest.raises(ValueError, match=message):
        jm.pool(estimates, variances, **kwargs)


@pytest.mark.parametrize(
    ("estimates", "variances", "message"),
    [
        # one set's model had a parameter more (numpy: "inhomogeneous shape")
        (
            [[1.0, 2.0], [1.1, 2.1, 0.3], [0.9, 1.9]],
            [[0.1, 0.1]] * 3,
            r"`estimates` has entries of unequal length .*\(set 1: 2 values, set 2: 3 values, "
            r"set 3: 2 values\); every set must give the same parameter estimates",
        ),
        (
            [[1.0, 2.0], [1.1, 2.1]],
            [[0.1, 0.1], [0.1]],
            r"`variances` has entries of unequal length .*set 1: 2 values, set 2: 1 values",
        ),
        (
            [[1.0, 2.0], [1.1, 2.1]],
            [np.eye(2), np.eye(3)],
            r"`variances` .*set 1: shape \(2, 2\), set 2: shape \(3, 3\)",
        ),
        ([1.0, "a"], [0.1, 0.1], r"`estimates` must hold numbers .*could not convert"),
        ([1.0, np.inf], [0.1, 0.1], "`estimates` contains missing or infinite values"),
        (np.zeros((3, 0)), np.zeros((3, 0)), r"`estimates` is empty \(shape \(3, 0\)\)"),
    ],
)
def test_ragged_and_non_numeric_input_names_the_argument(estimates, variances, message):
    with pytest.raises(ValueError, match=message):
        jm.pool(estimates, variances)


def test_ragged_input_to_the_tests_and_point_pooling():
    with pytest.raises(ValueError, match=r"`chi_squares` has entries of unequal length"):
        d2_test([[1.0, 2.0], [1.0]], df=2)
    with pytest.raises(ValueError, match=r"`estimates` has entries of unequal length"):
        d1_test([[1.0, 2.0], [1.0]], np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match=r"`estimates` has entries of unequal length"):
        pool_point([[1.0, 2.0], [1.0]])
    with pytest.raises(ValueError, match=r"`names` has 1 entries for 2 parameters"):
        pool_point([[1.0, 2.0], [1.0, 2.0]], names=["a"])


def test_d1_refuses_what_its_formulas_cannot_take():
    with pytest.raises(ValueError, match="at least 2 imputed data sets; got 1"):
        d1_test(QHAT[:1], UHAT[:1])
    # Reiter's df divides by k (m - 1) - 2 and - 4: undefined for k (m - 1) <= 4
    with pytest.raises(ValueError, match=r"k \(m - 1\) > 4; got k = 2 .* m = 3.*df_com=None"):
        d1_test(QHAT[:3, :2], UHAT[:3, :2, :2], df_com=50)
    assert np.isfinite(d1_test(QHAT[:3, :2], UHAT[:3, :2, :2]).df2)
    with pytest.raises(ValueError, match="covariance matrix of the 2 estimates is singular"):
        d1_test(QHAT[:, :2], np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match=r"`df` must be .* a whole number >= 1"):
        d2_test([1.0, 2.0, 3.0], df=0)


def test_no_within_variance_is_a_limit_not_a_warning():
    """W = 0: r = inf, lambda = FMI = 1 (pytest turns any RuntimeWarning into an error)."""
    row = jm.pool([1.0, 2.0, 1.5], [0.0, 0.0, 0.0]).table.iloc[0]
    assert np.isinf(row["riv"]) and row["lambda"] == 1 and row["fmi"] == 1
    assert row["df"] == pytest.approx(2.0)  # df_old = (m - 1) (1 + 1/r)^2 -> m - 1
    # with df_com, lambda = 1 gives df_obs = 0 and so df = 0 (Barnard and Rubin's limit)
    assert jm.pool([1.0, 2.0, 1.5], [0.0, 0.0, 0.0], df_com=10).table["df"].iloc[0] == 0
    assert np.isinf(d2_test([4.0, 4.0, 4.0], df=1).df2)
