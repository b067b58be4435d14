"""The collapsed kernel behind one C entry point, so that compiled callers do not link it.

Numba links a jitted callee's LLVM bitcode into each caller and optimises and compiles
the result again, cached callees included. nutpie wraps the model's PyTensor graph in two
C callbacks that cannot be cached (they hold the data's addresses), so before this module
every nutpie compile re-optimised and re-compiled the whole kernel, and so did the graph
function of every new model.

Here the kernel is compiled once, into :data:`kernel_entry`, a cached ``cfunc`` that takes
one *frame*: an int64 array of the kernel's extents and its inputs' and outputs' addresses,
laid out by :data:`jmimpute._kernels.convention.COLLAPSED`. The Op's Numba implementation
(:mod:`jmimpute._kernels.ops`) and the XLA FFI handler (:mod:`jmimpute._kernels.xla_ffi`)
call it by a symbol name that :func:`entry_symbol` registers with LLVM, which links nothing.

The entry point, the frame's reader :func:`run_frame` and its writer for the Op are
generated from the convention into :mod:`jmimpute._kernels._frame` (Numba needs static
code for each input's number of dimensions) and re-exported here.
"""

from __future__ import annotations

import functools

from jmimpute._kernels._frame import (
    FRAME_SIZE,
    SIGNATURE,
    as_voidptr,
    kernel_entry,
    make_impl,
    run_frame,
)

__all__ = [
    "FRAME_SIZE",
    "SIGNATURE",
    "as_voidptr",
    "entry_symbol",
    "kernel_entry",
    "make_impl",
    "run_frame",
]


@functools.cache
def entry_symbol() -> str:
    """Register :data:`kernel_entry` with LLVM under a name unique to this kernel; return it.

    The name carries the source hash of the kernel and of its convention, so machine code
    cached for another version (which PyTensor keys by the same hash) never resolves to
    this one.
    """
    import llvmlite.binding as llvm

    from jmimpute._kernels.cache import collapsed_key

    name = collapsed_key().replace("-", "_") + "_entry"
    llvm.add_symbol(name, kernel_entry.address)
    return name
