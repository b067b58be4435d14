"""The likelihood Op gives the kernel's value and gradient in every PyTensor backend."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute.backend.ops import collapsed_loglik_fast
from jmimpute.backend.xla_ffi import ffi_available

from .helpers import kernel


def compiled(problem, mode):
    ls, lp, b = pt.dmatrix("ls"), pt.dmatrix("lp"), pt.dmatrix("b")
    value = collapsed_loglik_fast(ls, lp, b, problem.stats)
    return pytensor.function([ls, lp, b], [value, *pytensor.grad(value, [ls, lp, b])], mode=mode)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "FAST_RUN", "NUMBA", "JAX"])
def test_every_mode_matches_the_kernel(problem, mode):
    if mode == "JAX" and not ffi_available():
        pytest.skip("XLA FFI target unavailable in this jaxlib")
    fn = compiled(problem, mode)
    value, grads = kernel(problem)
    out = fn(problem.lsig, problem.lpsi, problem.beta)
    assert float(out[0]) == pytest.approx(value, rel=1e-12)
    for got, ref in zip(out[1:], grads, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_no_second_derivatives(problem):
    ls, lp, b = pt.dmatrix("ls"), pt.dmatrix("lp"), pt.dmatrix("b")
    value = collapsed_loglik_fast(ls, lp, b, problem.stats)
    grad_b = pytensor.grad(value, b)
    with pytest.raises(NotImplementedError, match="no second derivatives"):
        pytensor.grad(grad_b.sum(), b)
