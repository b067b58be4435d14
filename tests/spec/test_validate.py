"""Bad input gets a clear error naming the argument, the value and the fix (before sampling)."""

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "g": np.repeat(np.arange(8), 5),
            "x": rng.normal(size=n),
            "y1": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "y2": rng.normal(size=n),
            "s": pd.Series(list("ab") * 20, dtype="str"),
        }
    )


def run(data, formula="y1 + y2 ~ 1 + x + (1|g)", **kwargs):
    return jm.impute(data, formula, **kwargs)


def test_not_a_data_frame():
    with pytest.raises(TypeError, match=r"`data` must be a pandas DataFrame, got dict"):
        run({"y1": [1.0]})


def test_formula_variable_not_in_data(frame):
    with pytest.raises(ValueError, match=r"`formula` names 'y3', which is not a column") as info:
        run(frame, "y1 + y3 ~ 1 + (1|g)")
    assert "Did you mean" in str(info.value)


def test_non_numeric_target_says_how_to_declare(frame):
    with pytest.raises(
        TypeError, match=r"target 's' holds non-numeric values .*categorical=\['s'\]"
    ):
        run(frame, "y1 + s ~ 1 + (1|g)")


def test_missing_cluster(frame):
    frame["g"] = frame["g"].astype(float)
    frame.loc[[3, 7], "g"] = np.nan
    with pytest.raises(
        ValueError, match=r"cluster variable 'g' has 2 missing values \(rows 3, 7\)"
    ):
        run(frame)


def test_missing_covariate(frame):
    frame.loc[5, "x"] = np.nan
    with pytest.raises(ValueError, match=r"covariate 'x' .* 1 missing values .*move|covariate 'x'"):
        run(frame)
    with pytest.raises(ValueError, match=r"Impute it too by moving it left of '~'"):
        run(frame)


def test_all_missing_target(frame):
    frame["y2"] = np.nan
    with pytest.raises(ValueError, match=r"target 'y2' is missing in every row"):
        run(frame)


def test_constant_target(frame):
    frame["y2"] = 3.0
    with pytest.raises(ValueError, match=r"target 'y2' has the same observed value \(3\)"):
        run(frame)


def test_fewer_than_two_clusters(frame):
    frame["g"] = 1
    with pytest.raises(ValueError, match=r"cluster variable 'g' has 1 distinct value"):
        run(frame)


def test_m_larger_than_retained_draws(frame):
    with pytest.raises(ValueError, match=r"`m`=30 .* chains \* draws = 2 \* 10 = 20"):
        run(frame, m=30, chains=2, draws=10)


def test_cluster_used_as_predictor(frame):
    with pytest.raises(ValueError, match=r"uses the cluster variable 'g' as a target or predictor"):
        run(frame, "y1 ~ 1 + g + (1|g)")


def test_infinite_target(frame):
    frame.loc[2, "y2"] = np.inf
    with pytest.raises(ValueError, match=r"target 'y2' has infinite values \(rows 2\)"):
        run(frame)


def test_constant_covariate(frame):
    frame["x"] = 1.0
    with pytest.raises(ValueError, match=r"covariate 'x' is constant"):
        run(frame)


def test_categorical_random_slope(frame):
    with pytest.raises(TypeError, match=r"random-slope variable 's' has dtype"):
        run(frame, "y1 ~ 1 + (1 + s|g)")


def test_seed_must_be_integer(frame):
    with pytest.raises(TypeError, match=r"`random_seed` must be a non-negative integer"):
        run(frame, random_seed=1.5)


def test_errors_leave_the_data_alone(frame):
    frame.loc[5, "x"] = np.nan
    before = frame.copy(deep=True)
    with pytest.raises(ValueError):
        run(frame)
    pd.testing.assert_frame_equal(frame, before)
