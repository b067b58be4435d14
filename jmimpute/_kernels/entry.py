# mypy: disable-error-code="call-arg"
"""The collapsed kernel behind one C entry point, so that compiled callers do not link it.

Numba links a jitted callee's LLVM bitcode into each caller and optimises and compiles
the result again, cached callees included. nutpie wraps the model's PyTensor graph in two
C callbacks that cannot be cached (they hold the data's addresses), so before this module
every nutpie compile re-optimised and re-compiled the whole kernel, and so did the graph
function of every new model.

Here the kernel is compiled once, into :data:`kernel_entry`, a cached ``cfunc`` that takes
one *frame*. The Op's Numba implementation (:mod:`jmimpute._kernels.ops`) calls it by a
symbol name that :func:`entry_symbol` registers with LLVM, which links nothing. nutpie's
JAX backend reaches the same code through :mod:`jmimpute._kernels.xla_ffi`.

A frame is an int64 array of ``FRAME_SIZE`` words:

* words 0-10: the extents ``p, q, n_dim, n_cl, p2, n_pat2, n_pat, r, n_rows, n_seg,
  n_lat`` (see :func:`jmimpute._kernels.kernel.collapsed_value_and_grad`);
* words 11-33: the data addresses of the kernel's 23 inputs, in its order, each
  C-contiguous float64 (``n_obs`` as a one-element array);
* words 34-39: the addresses of the outputs, a one-element array for the value and the
  five gradients, each C-contiguous float64 (the kernel writes every entry).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from jmimpute._kernels.kernel import collapsed_value_and_grad

N_EXTENTS = 11
N_INPUTS = 23
N_OUTPUTS = 6
FRAME_SIZE = N_EXTENTS + N_INPUTS + N_OUTPUTS
SIGNATURE = types.void(types.voidptr)


@intrinsic
def as_voidptr(typingctx, addr):  # pragma: no cover - compiled
    """Reinterpret an integer address as ``void*``."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(addr), codegen


@njit(cache=True, nogil=True)
def run_frame(frame):  # pragma: no cover - compiled
    """Evaluate the kernel on the arrays a frame points to (see the module docstring)."""
    p, q, n_dim, n_cl, p2, n_pat2, n_pat, r, n_rows, n_seg, n_lat = frame[:N_EXTENTS]
    arg = frame[N_EXTENTS : N_EXTENTS + N_INPUTS]
    out = frame[N_EXTENTS + N_INPUTS :]
    f8 = np.float64
    value = collapsed_value_and_grad(
        carray(as_voidptr(arg[0]), (p, p), f8),
        carray(as_voidptr(arg[1]), (q, p), f8),
        carray(as_voidptr(arg[2]), (n_dim, n_dim), f8),
        carray(as_voidptr(arg[3]), (n_cl, p2), f8),
        carray(as_voidptr(arg[4]), (n_pat2, p2), f8),
        carray(as_voidptr(arg[5]), (n_cl,), f8),
        carray(as_voidptr(arg[6]), (n_pat, p), f8),
        carray(as_voidptr(arg[7]), (n_pat,), f8),
        carray(as_voidptr(arg[8]), (n_pat, p, p), f8),
        carray(as_voidptr(arg[9]), (n_pat, p, q), f8),
        carray(as_voidptr(arg[10]), (n_pat, q, q), f8),
        carray(as_voidptr(arg[11]), (n_pat, r, r, n_cl), f8),
        carray(as_voidptr(arg[12]), (n_pat, p, r, n_cl), f8),
        carray(as_voidptr(arg[13]), (n_pat, q, r, n_cl), f8),
        carray(as_voidptr(arg[14]), (1,), f8)[0],
        carray(as_voidptr(arg[15]), (p, n_rows), f8),
        carray(as_voidptr(arg[16]), (q, n_rows), f8),
        carray(as_voidptr(arg[17]), (r, n_rows), f8),
        carray(as_voidptr(arg[18]), (n_seg,), f8),
        carray(as_voidptr(arg[19]), (n_seg + 1,), f8),
        carray(as_voidptr(arg[20]), (n_pat + 1,), f8),
        carray(as_voidptr(arg[21]), (3, n_lat), f8),
        carray(as_voidptr(arg[22]), (n_lat,), f8),
        carray(as_voidptr(out[1]), (p, p), f8),
        carray(as_voidptr(out[2]), (q, p), f8),
        carray(as_voidptr(out[3]), (n_dim, n_dim), f8),
        carray(as_voidptr(out[4]), (n_cl, p2), f8),
        carray(as_voidptr(out[5]), (n_lat,), f8),
    )
    carray(as_voidptr(out[0]), (1,), f8)[0] = value


@cfunc(SIGNATURE, cache=True, nogil=True)
def kernel_entry(frame_ptr):  # pragma: no cover - compiled
    """The C entry point: ``void entry(int64_t *frame)``."""
    run_frame(carray(frame_ptr, (FRAME_SIZE,), np.int64))


@functools.cache
def entry_symbol() -> str:
    """Register :data:`kernel_entry` with LLVM under a name unique to this kernel; return it.

    The name carries the kernel's source hash, so machine code cached for another version
    of the kernel (which PyTensor keys by the same hash) never resolves to this one.
    """
    import llvmlite.binding as llvm

    from jmimpute._kernels.ops import source_key

    name = source_key().replace("-", "_") + "_entry"
    llvm.add_symbol(name, kernel_entry.address)
    return name
