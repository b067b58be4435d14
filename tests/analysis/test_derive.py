import numpy as np
import pandas as pd
import pytest

import jmimpute as jm
from jmimpute.analysis.derive import apply_derived, check_derived


@pytest.fixture
def frame():
    return pd.DataFrame({"g": [1, 1, 2, 2, 2], "x": [1.0, 3.0, 2.0, 4.0, 6.0]})


def test_cluster_mean_and_centre(frame):
    out = apply_derived(
        frame.copy(),
        {"xm": jm.cluster_mean("x"), "xc": jm.cluster_centre("x", by="g"), "xx": lambda d: d.x**2},
        cluster="g",
    )
    np.testing.assert_allclose(out["xm"], [2, 2, 4, 4, 4])
    np.testing.assert_allclose(out["xc"], [-1, 1, -2, 0, 2])
    np.testing.assert_allclose(out["xx"], frame["x"] ** 2)


def test_errors_name_the_derived_variable(frame):
    with pytest.raises(ValueError, match=r"derived variable 'bad'.*'nope'"):
        apply_derived(frame.copy(), {"bad": jm.cluster_mean("nope")}, cluster="g")
    with pytest.raises(ValueError, match="'short' must give one value per row"):
        apply_derived(frame.copy(), {"short": lambda d: [1, 2]}, cluster="g")
    with pytest.raises(TypeError, match=r"`derive\['x2'\]` must be"):
        check_derived({"x2": 3})
    with pytest.raises(TypeError, match="`derive` must map"):
        check_derived(["x"])
