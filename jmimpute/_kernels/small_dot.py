"""A matrix product for the model's small matrices, cheap to compile with Numba.

PyTensor's ``Dot`` compiles in Numba to a general BLAS dispatch, a few thousand lines of
LLVM IR per use, with its gradient adding more. nutpie compiles the model's graph into two
callbacks that cannot be cached, so LLVM optimises that IR again on every compile. The
products in :mod:`jmimpute.models.collapsed.build` (covariance factors of a few rows, and the
level-2 covariates times their coefficients) and their gradients were the largest
functions in that IR on brandsma with ``den`` (an ad-hoc dump of it). This Op is a plain
triple loop in Numba, NumPy's ``dot`` elsewhere, and its own gradient. The compile times
and IR sizes are printed by ``python benchmarks/bench_compile.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorVariable


class SmallDot(Op):
    """``a @ b`` for two float64 matrices."""

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        """Build the node from ``(a, b)``; both are cast to float64 matrices."""
        a, b = (pt.as_tensor_variable(x).astype("float64") for x in inputs)
        if a.type.ndim != 2 or b.type.ndim != 2:
            raise TypeError(f"small_dot takes matrices, got ndim {a.type.ndim} and {b.type.ndim}")
        inner = (a.type.shape[1], b.type.shape[0])
        if None not in inner and inner[0] != inner[1]:
            raise ValueError(f"small_dot: inner dimensions {inner[0]} and {inner[1]} differ")
        out = pt.tensor(dtype="float64", shape=(a.type.shape[0], b.type.shape[1]))
        return Apply(self, [a, b], [out])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        """Evaluate with NumPy."""
        output_storage[0][0] = np.dot(inputs[0], inputs[1])

    def infer_shape(self, node: Apply, shapes: Sequence) -> list:
        """Rows of ``a`` by columns of ``b``."""
        return [(shapes[0][0], shapes[1][1])]

    def pullback(self, inputs: Sequence, outputs: Sequence, cotangents: Sequence) -> list:
        """``(g b', a' g)``."""
        a, b = inputs
        (g,) = cotangents
        return [small_dot(g, b.T), small_dot(a.T, g)]


_small_dot_op = SmallDot()


def small_dot(a: Any, b: Any) -> TensorVariable:
    """The matrix product ``a @ b`` as a :class:`SmallDot` node."""
    return _small_dot_op(a, b)  # type: ignore[return-value]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import basic as numba_basic

    from jmimpute._kernels.cache import source_key

    @numba_basic.register_funcify_and_cache_key(SmallDot)
    def _numba_funcify(op: SmallDot, node: Apply | None = None, **kwargs: Any) -> Any:
        @numba_basic.numba_njit
        def impl(a, b):
            n, k = a.shape
            m = b.shape[1]
            out = np.zeros((n, m))
            for i in range(n):
                for t in range(k):
                    ait = a[i, t]
                    for j in range(m):
                        out[i, j] += ait * b[t, j]
            return out

        return impl, source_key("small-dot", "small_dot.py")


def _register_jax() -> None:
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(SmallDot)
    def _jax_funcify(op: SmallDot, node: Apply | None = None, **kwargs: Any) -> Any:
        import jax.numpy as jnp

        def impl(a, b):
            return jnp.dot(a, b)

        return impl


_register_numba()
_register_jax()
