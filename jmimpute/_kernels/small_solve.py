"""``A^{-1} B`` for a small symmetric positive definite ``A``, cheap to compile with Numba.

PyTensor's ``Solve`` calls LAPACK from Numba through a general dispatch, with checks and
copies, and its gradient adds more solves and ``Dot`` products (compiled on every nutpie
compile, as :mod:`jmimpute._kernels.small_dot` explains). This Op is a Cholesky factorisation and
two triangular solves in plain loops in Numba, NumPy's ``solve`` elsewhere, and its own
gradient (``g_B = A^{-1} g_X``, ``g_A = -g_B X'``), written with itself and
:func:`~jmimpute._kernels.small_dot.small_dot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.small_dot import small_dot


class SmallSolve(Op):
    """``solve(a, b)`` for a symmetric positive definite float64 matrix ``a``."""

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        """Build the node from ``(a, b)``; both are cast to float64 matrices."""
        a, b = (pt.as_tensor_variable(x).astype("float64") for x in inputs)
        if a.type.ndim != 2 or b.type.ndim != 2:
            raise TypeError(f"small_solve takes matrices, got ndim {a.type.ndim} and {b.type.ndim}")
        rows = (a.type.shape[0], a.type.shape[1], b.type.shape[0])
        known = [s for s in rows if s is not None]
        if len(set(known)) > 1:
            raise ValueError(
                f"small_solve: a must be square with as many rows as b, got a {a.type.shape} "
                f"and b {b.type.shape}"
            )
        out = pt.tensor(dtype="float64", shape=(a.type.shape[1], b.type.shape[1]))
        return Apply(self, [a, b], [out])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        """Evaluate with NumPy."""
        output_storage[0][0] = np.linalg.solve(inputs[0], inputs[1])

    def infer_shape(self, node: Apply, shapes: Sequence) -> list:
        """Columns of ``a`` by columns of ``b``."""
        return [(shapes[0][1], shapes[1][1])]

    def pullback(self, inputs: Sequence, outputs: Sequence, cotangents: Sequence) -> list:
        """``g_B = A^{-1} g``, ``g_A = -g_B X'`` (``A`` symmetric)."""
        a, _ = inputs
        (x,) = outputs
        (g,) = cotangents
        g_b = small_solve(a, g)
        return [-small_dot(g_b, x.T), g_b]


_small_solve_op = SmallSolve()


def small_solve(a: Any, b: Any) -> TensorVariable:
    """``a^{-1} b`` for symmetric positive definite ``a``, as a :class:`SmallSolve` node."""
    return _small_solve_op(a, b)  # type: ignore[return-value]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import basic as numba_basic

    from jmimpute._kernels.cache import source_key

    @numba_basic.register_funcify_and_cache_key(SmallSolve)
    def _numba_funcify(op: SmallSolve, node: Apply | None = None, **kwargs: Any) -> Any:
        @numba_basic.numba_njit
        def impl(a, b):
            n, m = a.shape[0], b.shape[1]
            low = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1):
                    acc = a[i, j]
                    for k in range(j):
                        acc -= low[i, k] * low[j, k]
                    if i == j:
                        # not positive definite (Psi is built from a Cholesky factor, so
                        # only rounding can do that): NaN, which nutpie rejects
                        low[i, i] = np.sqrt(acc) if acc > 0.0 else np.nan
                    else:
                        low[i, j] = acc / low[j, j]
            out = np.empty((n, m))
            for c in range(m):
                for i in range(n):  # L y = b
                    acc = b[i, c]
                    for k in range(i):
                        acc -= low[i, k] * out[k, c]
                    out[i, c] = acc / low[i, i]
                for i in range(n - 1, -1, -1):  # L' x = y
                    acc = out[i, c]
                    for k in range(i + 1, n):
                        acc -= low[k, i] * out[k, c]
                    out[i, c] = acc / low[i, i]
            return out

        return impl, source_key("small-solve", "small_solve.py")


def _register_jax() -> None:
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(SmallSolve)
    def _jax_funcify(op: SmallSolve, node: Apply | None = None, **kwargs: Any) -> Any:
        import jax.numpy as jnp

        def impl(a, b):
            return jnp.linalg.solve(a, b)

        return impl


_register_numba()
_register_jax()
