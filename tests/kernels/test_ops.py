"""The likelihood Op gives the kernel's value and gradient in every PyTensor backend."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from jmimpute._kernels.ops import collapsed_loglik_fast
from jmimpute._kernels.xla_ffi import ffi_available

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


def test_numba_copies_strided_inputs(problem, request):
    """Inputs the graph hands over as strided views reach the kernel as contiguous copies.

    The Numba implementation passes the kernel raw addresses (``kernel_entry``), so a
    strided view must be copied, and the copy kept alive until the kernel returns.
    """
    if "level2" not in request.node.callspec.id:
        pytest.skip("checked on the problems with every feature (compile time)")
    ls_t, b_t, lp, f_t, zv = (
        pt.dmatrix("ls_t"),
        pt.dmatrix("b_t"),
        pt.dmatrix("lp"),
        pt.dmatrix("f_t"),
        pt.dvector("z"),
    )
    value = collapsed_loglik_fast(ls_t.T, b_t.T, lp @ lp.T, f_t.T, zv[::-1][::-1], problem.data)
    fn = pytensor.function([ls_t, b_t, lp, f_t, zv], value, mode="NUMBA")
    ref, _ = kernel(problem)
    for _ in range(3):  # freed copies would show as changed values on a later call
        got = fn(problem.lsig.T, problem.beta.T, problem.lpsi, problem.resid2.T, problem.zvals)
        assert float(got) == pytest.approx(ref, rel=1e-12)


def test_no_second_derivatives(problem):
    ls, b, lp, f, zv = symbols()
    value = collapsed_loglik_fast(ls, b, lp @ lp.T, f, zv, problem.data)
    grad_b = pytensor.grad(value, b)
    with pytest.raises(NotImplementedError, match="no second derivatives"):
        pytensor.grad(grad_b.sum(), b)
