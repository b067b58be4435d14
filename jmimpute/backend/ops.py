"""A PyTensor Op for the collapsed log-likelihood, with NumPy, Numba and JAX implementations.

The Op returns the log-likelihood together with its gradient (computed in the same pass
by :func:`jmimpute.backend.kernel.collapsed_value_and_grad`); ``pullback`` reuses those
outputs, so one evaluation serves both the value and the gradient of the NUTS target.

* PyMC's own sampler (C/Python backend) runs :meth:`CollapsedLoglik.perform`.
* nutpie's Numba backend inlines the kernel through ``numba_funcify``.
* nutpie's JAX backend calls it as an XLA FFI custom call (:mod:`.xla_ffi`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorVariable

from jmimpute.backend.kernel import collapsed_value_and_grad
from jmimpute.suffstats import PatternStats

_N_PARAMS = 3  # lsig, lpsi, beta


class CollapsedLoglik(Op):
    """Collapsed log-likelihood and its gradient w.r.t. ``(L_Sigma, L_Psi, B)``.

    Inputs: ``lsig (p, p)``, ``lpsi (d, d)``, ``beta (q, p)``, then the statistics
    ``masks, n_k, syy, syx, sxx, zz_t, syz_t, sxz_t, n_obs`` (see :func:`stats_inputs`).
    Outputs: the scalar log-likelihood and the three gradients.
    """

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        """Build the node; all inputs are cast to float64."""
        tensors = [pt.as_tensor_variable(x).astype("float64") for x in inputs]
        outputs = [pt.dscalar(), tensors[0].type(), tensors[1].type(), tensors[2].type()]
        return Apply(self, tensors, outputs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        """Evaluate with the compiled kernel."""
        lsig, lpsi, beta = (np.ascontiguousarray(x) for x in inputs[:_N_PARAMS])
        grads = [np.zeros_like(lsig), np.zeros_like(lpsi), np.zeros_like(beta)]
        stats = [np.ascontiguousarray(x) for x in inputs[_N_PARAMS:-1]]
        kernel = cast(Any, collapsed_value_and_grad)  # a Numba dispatcher
        value = kernel(lsig, lpsi, beta, *stats, float(inputs[-1]), *grads)
        output_storage[0][0] = np.asarray(value, dtype="float64")
        for i, g in enumerate(grads, start=1):
            output_storage[i][0] = g

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Every output depends on the parameters; none on the (constant) statistics."""
        n_in = len(node.inputs)
        return [[i < _N_PARAMS] * 4 for i in range(n_in)]

    def pullback(self, inputs: Sequence, outputs: Sequence, cotangents: Sequence) -> list:
        """Vector-Jacobian product from the gradient outputs; no second derivatives."""
        for g in cotangents[1:]:
            if not isinstance(g.type, DisconnectedType):
                raise NotImplementedError("CollapsedLoglik has no second derivatives")
        gz = cotangents[0]
        grads = [gz * outputs[i] for i in range(1, 1 + _N_PARAMS)]
        grads += [DisconnectedType()() for _ in inputs[_N_PARAMS:]]
        return grads


collapsed_loglik_op = CollapsedLoglik()


def stats_inputs(stats: PatternStats) -> list[np.ndarray]:
    """Arrays the Op reads after the parameters, in order.

    Clusters without any observed target are dropped (their terms cancel exactly), and the
    per-cluster arrays are transposed to put clusters last, as the kernel expects.
    """
    active = stats.n_jk.sum(axis=1) > 0

    def t(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a[active].transpose(1, 2, 3, 0))

    return [
        stats.masks.astype("float64"),
        stats.n_k,
        stats.syy,
        stats.syx,
        stats.sxx,
        t(stats.zz),
        t(stats.syz),
        t(stats.sxz),
        np.asarray(float(stats.n_obs)),
    ]


def collapsed_loglik_fast(
    lsig: TensorVariable, lpsi: TensorVariable, beta: TensorVariable, stats: PatternStats
) -> TensorVariable:
    """The collapsed log-likelihood as one Op node (see module docstring)."""
    outputs = cast(
        list[TensorVariable], collapsed_loglik_op(lsig, lpsi, beta, *stats_inputs(stats))
    )
    return outputs[0]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import basic as numba_basic

    @numba_basic.register_funcify_default_op_cache_key(CollapsedLoglik)
    def _numba_funcify(op: CollapsedLoglik, node: Apply | None = None, **kwargs: Any) -> Any:
        kernel = collapsed_value_and_grad

        @numba_basic.numba_njit
        def impl(lsig, lpsi, beta, masks, n_k, syy, syx, sxx, zz_t, syz_t, sxz_t, n_obs):
            g1 = np.zeros_like(lsig)
            g2 = np.zeros_like(lpsi)
            g3 = np.zeros_like(beta)
            value = kernel(
                np.ascontiguousarray(lsig),
                np.ascontiguousarray(lpsi),
                np.ascontiguousarray(beta),
                masks,
                n_k,
                syy,
                syx,
                sxx,
                zz_t,
                syz_t,
                sxz_t,
                n_obs.item(),
                g1,
                g2,
                g3,
            )
            return np.asarray(value), g1, g2, g3

        return impl


def _register_jax() -> None:
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(CollapsedLoglik)
    def _jax_funcify(op: CollapsedLoglik, node: Apply | None = None, **kwargs: Any) -> Any:
        import jax
        import jax.numpy as jnp

        from jmimpute.backend.xla_ffi import TARGET_NAME, ffi_available

        if not ffi_available():  # pragma: no cover - the model builder checks first
            raise RuntimeError("the XLA FFI target for the collapsed likelihood is unavailable")

        def impl(lsig, lpsi, beta, *stats):
            out_types = (
                jax.ShapeDtypeStruct((), jnp.float64),
                jax.ShapeDtypeStruct(lsig.shape, jnp.float64),
                jax.ShapeDtypeStruct(lpsi.shape, jnp.float64),
                jax.ShapeDtypeStruct(beta.shape, jnp.float64),
            )
            call = jax.ffi.ffi_call(TARGET_NAME, out_types, vmap_method="sequential")
            return tuple(call(lsig, lpsi, beta, *stats))

        return impl


_register_numba()
_register_jax()
