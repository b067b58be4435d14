import numpy as np
import pandas as pd
import pytest

from jmimpute.design.standardised import INTERCEPT

from ..helpers import design_for


@pytest.fixture
def frame():
    rng = np.random.default_rng(1)
    n = 50
    return pd.DataFrame(
        {
            "g": np.repeat(list("abcde"), 10),
            "x": rng.normal(3.0, 2.0, n),
            "w": rng.normal(-1.0, 0.5, n),
            "c": pd.Categorical(rng.choice(["lo", "mid", "hi"], n)),
            "y1": rng.normal(100.0, 15.0, n),
            "y2": rng.normal(0.0, 0.1, n),
        }
    )


def test_standardised_targets_and_inverse(frame):
    frame.loc[[0, 4], "y1"] = np.nan
    d = design_for(frame, "y1 + y2 ~ 1 + x + (1|g)")
    np.testing.assert_allclose(np.nanmean(d.level1.values, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(d.level1.values, axis=0, ddof=1), 1.0)
    back = d.y_to_data(d.level1.values[:, 0], np.zeros(d.n, dtype=int))
    np.testing.assert_allclose(back, frame["y1"].to_numpy(), equal_nan=True)
    assert list(d.cluster_labels) == list("abcde")


def test_beta_and_psi_maps_give_the_same_predictions(frame):
    d = design_for(frame, "y1 + y2 ~ 1 + x + c + (1 + w|g)")
    assert d.x_names == (INTERCEPT, "x", "c[lo]", "c[mid]")
    assert d.z_names == (INTERCEPT, "w")
    rng = np.random.default_rng(2)
    beta_s = rng.normal(size=(d.q, d.p))
    u_s = rng.normal(size=(d.r, d.p))  # one cluster's effects
    x_raw = d.x @ np.linalg.inv(d.x_map)
    z_raw = d.z @ np.linalg.inv(d.z_map)
    pred_std = d.x @ beta_s + d.z @ u_s
    pred_data = d.y_center + d.y_scale * pred_std
    u_data = d.z_map @ u_s * d.y_scale
    np.testing.assert_allclose(x_raw @ d.beta_to_data(beta_s) + z_raw @ u_data, pred_data)
    # Psi maps as the outer product of the vectorised (effect-major) effects
    vec_s, vec_data = u_s.ravel(), u_data.ravel()
    np.testing.assert_allclose(d.psi_to_data(np.outer(vec_s, vec_s)), np.outer(vec_data, vec_data))
    sig = np.array([[1.0, 0.3], [0.3, 2.0]])
    np.testing.assert_allclose(d.sigma_to_data(sig), sig * np.outer(d.y_scale, d.y_scale))


def test_no_intercept_means_no_centring(frame):
    d = design_for(frame, "y1 ~ 0 + x + (0 + w|g)")
    assert d.x_names == ("x",)
    np.testing.assert_allclose(d.y_center, 0.0)
    np.testing.assert_allclose(d.x[:, 0], frame["x"] / frame["x"].std(ddof=1))


def test_design_does_not_touch_the_data(frame):
    before = frame.copy(deep=True)
    design_for(frame, "y1 + y2 ~ 1 + x + c + (1 + w|g)")
    pd.testing.assert_frame_equal(frame, before)
