"""A PyTensor Op for the collapsed log-likelihood, with NumPy, Numba and JAX implementations.

The Op returns the log-likelihood together with its gradient (computed in the same pass
by :func:`jmimpute._kernels.kernel.collapsed_value_and_grad`); ``pullback`` reuses those
outputs, so one evaluation serves both the value and the gradient of the NUTS target.

The kernel's inputs, which of them are differentiable and where their gradients are, come
from its declared convention (:data:`jmimpute._kernels.convention.COLLAPSED`), as does
the order of :class:`KernelData`'s fields.

* PyMC's own sampler (C/Python backend) runs :meth:`CollapsedLoglik.perform`.
* nutpie's Numba backend calls the kernel's cached C entry point by symbol name
  (:mod:`.entry`), so its compile never re-optimises the kernel.
* nutpie's JAX backend calls it as an XLA FFI custom call (:mod:`.xla_ffi`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.variable import TensorVariable

from jmimpute._kernels.cache import collapsed_key
from jmimpute._kernels.convention import COLLAPSED
from jmimpute._kernels.kernel import collapsed_value_and_grad
from jmimpute.design.suffstats import LatentRows, PatternStats

# positions of the differentiable inputs, and the output holding each one's gradient
DIFFERENTIABLE = COLLAPSED.differentiable
N_INPUTS = len(COLLAPSED.inputs)
N_OUTPUTS = len(COLLAPSED.outputs)
_SCALAR = tuple(s.is_scalar for s in COLLAPSED.inputs)  # inputs the kernel takes as a float


class CollapsedLoglik(Op):
    """Collapsed log-likelihood and its gradient w.r.t. ``(L_Sigma, B, Psi, f, z)``.

    Inputs (all float64), in the kernel's order, are :data:`COLLAPSED`'s: ``lsig, beta,
    psi, resid2``, the constant data of :class:`KernelData`, and ``zin``. Outputs: the
    scalar log-likelihood and the gradients w.r.t. the differentiable inputs ``lsig``,
    ``beta``, ``psi``, ``resid2`` and ``zin`` (latent values, or binary latents' raw
    values: see :class:`KernelData`).
    """

    __props__ = ()

    @staticmethod
    def prepare_numba() -> None:
        """Register the kernel's entry symbol, which compiled callers of the Op call by name.

        Code loaded from a cache without compiling the Op (see
        :mod:`jmimpute.sampling.numba_callbacks`) needs the symbol resolved all the same.
        """
        from jmimpute._kernels.entry import entry_symbol

        entry_symbol()

    def make_node(self, *inputs: Any) -> Apply:
        """Build the node; all inputs are cast to float64."""
        if len(inputs) != N_INPUTS:
            names = ", ".join(s.name for s in COLLAPSED.inputs)
            raise TypeError(f"CollapsedLoglik takes {N_INPUTS} inputs ({names}), got {len(inputs)}")
        tensors = [pt.as_tensor_variable(x).astype("float64") for x in inputs]
        grads = [tensors[i].type() for i in DIFFERENTIABLE]
        return Apply(self, tensors, [pt.dscalar(), *grads])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list) -> None:
        """Evaluate with the compiled kernel."""
        arrays = [np.ascontiguousarray(x, dtype="float64") for x in inputs]
        grads = [np.zeros_like(arrays[i]) for i in DIFFERENTIABLE]
        kernel = cast(Any, collapsed_value_and_grad)  # a Numba dispatcher
        args = [
            float(np.asarray(x).reshape(())) if scalar else a
            for x, a, scalar in zip(inputs, arrays, _SCALAR, strict=True)
        ]
        value = kernel(*args, *grads)
        output_storage[0][0] = np.asarray(value, dtype="float64")
        for i, g in enumerate(grads, start=1):
            output_storage[i][0] = g

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Every output depends on the parameters; none on the constant data."""
        return [[i in DIFFERENTIABLE] * N_OUTPUTS for i in range(len(node.inputs))]

    def pullback(self, inputs: Sequence, outputs: Sequence, cotangents: Sequence) -> list:
        """Vector-Jacobian product from the gradient outputs; no second derivatives."""
        for g in cotangents[1:]:
            if not isinstance(g.type, DisconnectedType):
                raise NotImplementedError("CollapsedLoglik has no second derivatives")
        gz = cotangents[0]
        return [
            gz * outputs[DIFFERENTIABLE[i]] if i in DIFFERENTIABLE else DisconnectedType()()
            for i in range(len(inputs))
        ]


collapsed_loglik_op = CollapsedLoglik()


@dataclass(frozen=True)
class KernelData:
    """The constant inputs of the Op, in the kernel's layout (clusters last).

    The fields are :data:`COLLAPSED`'s constant inputs, in its order (a test checks it);
    :func:`collapsed_loglik_fast` hands them to the Op by name.
    """

    l2_masks: np.ndarray
    l2_pattern: np.ndarray
    masks: np.ndarray
    n_k: np.ndarray
    syy0: np.ndarray
    syx0: np.ndarray
    sxx: np.ndarray
    zz_t: np.ndarray
    syz0_t: np.ndarray
    sxz_t: np.ndarray
    n_obs: np.ndarray
    lat_y0: np.ndarray
    lat_x: np.ndarray
    lat_z: np.ndarray
    seg_cluster: np.ndarray
    seg_bounds: np.ndarray
    pat_segs: np.ndarray
    lat_map: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by name, in the kernel's order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def build(
        cls,
        stats: PatternStats,
        latent: LatentRows,
        lat_cells: tuple[np.ndarray, np.ndarray],
        l2_masks: np.ndarray | None = None,
        l2_pattern: np.ndarray | None = None,
        lat_sign: np.ndarray | None = None,
    ) -> KernelData:
        """Arrange the statistics for the kernel.

        Parameters
        ----------
        stats, latent
            From :func:`jmimpute.design.suffstats.compute_stats`.
        lat_cells : tuple of ndarray
            ``(rows, columns)`` of the latent values, in the order of the ``zvals`` input.
        l2_masks, l2_pattern : ndarray, optional
            Level-2 observed patterns and each cluster's pattern (one empty pattern without
            level-2 targets).
        lat_sign : ndarray, shape (L,), optional
            Per latent value, 0 when the Op is given the value itself, and +1 / -1 when it
            is given a binary latent's raw value ``a`` with ``z = sign softplus(a)``
            (default: all 0). See :mod:`jmimpute._kernels.kernel_latent`.
        """
        n_cl = stats.zz.shape[0]

        def t(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a.transpose(1, 2, 3, 0))

        # latent rows sorted by (pattern, cluster) and stored transposed, in segments of one
        # (pattern, cluster) pair each (see kernel_latent)
        order = np.lexsort((latent.cluster, latent.pattern))
        local = np.full(int(latent.rows.max(initial=-1)) + 1, -1, dtype=np.int64)
        local[latent.rows[order]] = np.arange(order.size)
        rows, cols = (np.asarray(a, dtype=np.int64) for a in lat_cells)
        sign = np.zeros(rows.size) if lat_sign is None else np.asarray(lat_sign, dtype=float)
        lat_map = np.vstack([local[rows], cols, sign]) if rows.size else np.zeros((3, 0))
        key = np.column_stack([latent.pattern[order], latent.cluster[order]])
        new = np.r_[True, (key[1:] != key[:-1]).any(axis=1)] if order.size else np.zeros(0, bool)
        starts = np.flatnonzero(new)
        seg_bounds = np.r_[starts, order.size]
        seg_pattern = latent.pattern[order][starts]
        n_pat = stats.masks.shape[0]
        pat_segs = np.searchsorted(seg_pattern, np.arange(n_pat + 1), side="left")
        f8 = np.float64
        return cls(
            l2_masks=(np.zeros((1, 0)) if l2_masks is None else l2_masks).astype(f8),
            l2_pattern=(np.zeros(n_cl) if l2_pattern is None else l2_pattern).astype(f8),
            masks=stats.masks.astype(f8),
            n_k=stats.n_k,
            syy0=stats.syy,
            syx0=stats.syx,
            sxx=stats.sxx,
            zz_t=t(stats.zz),
            syz0_t=t(stats.syz),
            sxz_t=t(stats.sxz),
            n_obs=np.asarray(float(stats.n_obs)),
            lat_y0=np.ascontiguousarray(latent.y[order].T, dtype=f8),
            lat_x=np.ascontiguousarray(latent.x[order].T, dtype=f8),
            lat_z=np.ascontiguousarray(latent.z[order].T, dtype=f8),
            seg_cluster=latent.cluster[order][starts].astype(f8),
            seg_bounds=seg_bounds.astype(f8),
            pat_segs=pat_segs.astype(f8),
            lat_map=np.ascontiguousarray(lat_map, dtype=f8),
        )


def collapsed_loglik_fast(
    lsig: TensorVariable,
    beta: TensorVariable,
    psi: TensorVariable,
    resid2: TensorVariable,
    zin: TensorVariable,
    data: KernelData | Mapping[str, Any],
) -> TensorVariable:
    """The collapsed log-likelihood as one Op node (see the module docstring).

    ``zin`` holds the latent values, in ``data``'s order, or a binary latent's raw value
    where ``data.lat_map`` gives it a sign; the value then includes that map's log-Jacobian.
    ``data`` is a :class:`KernelData` (constants in the graph) or its fields by name as
    graph inputs (shared data: one compiled graph then serves other data of the same
    structure).
    """
    params = {"lsig": lsig, "beta": beta, "psi": psi, "resid2": resid2, "zin": zin}
    given = data.arrays() if isinstance(data, KernelData) else data
    inputs = [params[s.name] if s.differentiable else given[s.name] for s in COLLAPSED.inputs]
    outputs = cast(list[TensorVariable], collapsed_loglik_op(*inputs))
    return outputs[0]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import basic as numba_basic

    @numba_basic.register_funcify_and_cache_key(CollapsedLoglik)
    def _numba_funcify(op: CollapsedLoglik, node: Apply | None = None, **kwargs: Any) -> Any:
        from numba import types

        from jmimpute._kernels.entry import SIGNATURE, entry_symbol, make_impl

        # called by name, not linked: see the docstring of jmimpute._kernels.entry
        entry = types.ExternalFunction(entry_symbol(), SIGNATURE)

        @numba_basic.numba_njit
        def hold(*arrays):
            """Keep arrays alive until here (numba frees a value after its last use)."""
            return len(arrays)

        impl = numba_basic.numba_njit(make_impl(entry, hold))
        return impl, collapsed_key()


def _register_jax() -> None:
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(CollapsedLoglik)
    def _jax_funcify(op: CollapsedLoglik, node: Apply | None = None, **kwargs: Any) -> Any:
        import jax
        import jax.numpy as jnp

        from jmimpute._kernels.xla_ffi import TARGET_NAME, ffi_available

        if not ffi_available():  # pragma: no cover - the model builder checks first
            raise RuntimeError("the XLA FFI target for the collapsed likelihood is unavailable")

        def impl(*args):
            out_types = (
                jax.ShapeDtypeStruct((), jnp.float64),
                *(jax.ShapeDtypeStruct(args[i].shape, jnp.float64) for i in DIFFERENTIABLE),
            )
            call = jax.ffi.ffi_call(TARGET_NAME, out_types, vmap_method="sequential")
            return tuple(call(*args))

        return impl


_register_numba()
_register_jax()
