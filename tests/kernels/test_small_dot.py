"""SmallDot equals PyTensor's dot, value and gradient, in every backend."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute._kernels.small_dot import small_dot


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "JAX"])
def test_value_and_gradient_match_dot(mode):
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    # transposed inputs reach the Op as strided views
    ours = small_dot(a.T, b) * pt.arange(4.0)
    ref = pt.dot(a.T, b) * pt.arange(4.0)
    cost_ours, cost_ref = (ours**2).sum(), (ref**2).sum()
    fn = pytensor.function(
        [a, b],
        [ours, *pytensor.grad(cost_ours, [a, b]), *pytensor.grad(cost_ref, [a, b])],
        mode=mode,
    )
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    value, ga, gb, ga_ref, gb_ref = fn(x, y)
    np.testing.assert_allclose(value, (x.T @ y) * np.arange(4.0), rtol=1e-13)
    np.testing.assert_allclose(ga, ga_ref, rtol=1e-12)
    np.testing.assert_allclose(gb, gb_ref, rtol=1e-12)


def test_bad_shapes_are_refused():
    with pytest.raises(TypeError, match="matrices"):
        small_dot(pt.dvector("v"), pt.dmatrix("m"))
    with pytest.raises(ValueError, match="inner dimensions 3 and 2"):
        small_dot(np.ones((2, 3)), np.ones((2, 2)))
