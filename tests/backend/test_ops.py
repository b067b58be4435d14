"""The likelihood Op gives the kernel's value and gradient in every PyTensor backend."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute.backend.ops import collapsed_loglik_fast
from jmimpute.backend.xla_ffi import ffi_available

from .helpers import kernel


def symbols():
    return pt.dmatrix("ls"), pt.dmatrix("b"), pt.dmatrix("lp"), pt.dmatrix("f"), pt.dvector("z")


def compiled(problem, mode):
    ls, b, lp, f, zv = symbols()
    value = collapsed_loglik_fast(ls, b, lp @ lp.T, f, zv, problem.data)
    wrt = [ls, b, lp, f, zv]
    grads = pytensor.grad(value, wrt, disconnected_inputs="ignore")
    return pytensor.function(wrt, [value, *grads], mode=mode)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "JAX"])
def test_every_mode_matches_the_kernel(problem, mode, request):
    if mode == "JAX" and not ffi_available():
        pytest.skip("XLA FFI target unavailable in this jaxlib")
    if mode != "FAST_COMPILE" and "level2" not in request.node.callspec.id:
        pytest.skip("compiled modes are checked on the problems with every feature (compile time)")
    fn = compiled(problem, mode)
    value, grads = kernel(problem)
    out = fn(problem.lsig, problem.beta, problem.lpsi, problem.resid2, problem.zvals)
    assert float(out[0]) == pytest.approx(value, rel=1e-12)
    out[3] = np.tril(out[3])
    out[4] = np.where(problem.l2_observed, out[4], 0.0)
    for got, ref in zip(out[1:], grads, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


def test_no_second_derivatives(problem):
    ls, b, lp, f, zv = symbols()
    value = collapsed_loglik_fast(ls, b, lp @ lp.T, f, zv, problem.data)
    grad_b = pytensor.grad(value, b)
    with pytest.raises(NotImplementedError, match="no second derivatives"):
        pytensor.grad(grad_b.sum(), b)
