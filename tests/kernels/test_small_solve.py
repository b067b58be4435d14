"""SmallSolve equals PyTensor's solve, value and gradient, in every backend."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute._kernels.small_solve import small_solve


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "JAX"])
def test_value_and_gradient_match_solve(mode):
    f, b = pt.dmatrix("f"), pt.dmatrix("b")
    a = pt.dot(f, f.T) + pt.eye(4)  # symmetric positive definite, as the model's Psi blocks
    ours = small_solve(a, b.T)  # a transposed input reaches the Op as a strided view
    ref = pt.linalg.solve(a, b.T, assume_a="pos")
    weights = np.arange(1.0, 7.0).reshape(2, 3).T.repeat(2, 0)[:4]
    cost_ours, cost_ref = (pt.sin(ours) * weights).sum(), (pt.sin(ref) * weights).sum()
    fn = pytensor.function(
        [f, b],
        [ours, *pytensor.grad(cost_ours, [f, b]), ref, *pytensor.grad(cost_ref, [f, b])],
        mode=mode,
    )
    rng = np.random.default_rng(0)
    value, gf, gb, value_ref, gf_ref, gb_ref = fn(rng.normal(size=(4, 4)), rng.normal(size=(2, 4)))
    np.testing.assert_allclose(value, value_ref, rtol=1e-12)
    np.testing.assert_allclose(gf, gf_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, gb_ref, rtol=1e-10, atol=1e-12)


def test_not_positive_definite_gives_nan_in_numba():
    a, b = pt.dmatrix("a"), pt.dmatrix("b")
    fn = pytensor.function([a, b], small_solve(a, b), mode="NUMBA")
    assert np.isnan(fn(np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones((2, 1)))).any()


def test_bad_shapes_are_refused():
    with pytest.raises(TypeError, match="matrices"):
        small_solve(pt.dvector("v"), pt.dmatrix("m"))
    with pytest.raises(ValueError, match=r"a must be square with as many rows as b"):
        small_solve(np.eye(3), np.ones((2, 2)))
