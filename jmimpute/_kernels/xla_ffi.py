# mypy: disable-error-code="call-arg"
"""Expose the Numba kernel to JAX as an XLA FFI custom call.

nutpie's JAX backend turns the PyMC model into one jitted JAX function. A likelihood
written in ``jax.numpy`` compiles there to a few hundred tiny XLA kernels whose launch
overhead dominates its cost, and a ``jax.pure_callback`` to NumPy pays Python's overhead on
every call. A typed-FFI custom call runs the compiled Numba kernel inside XLA's own
execution, at the cost of a C call (benchmarks/README.md has the figures).

The handler is a Numba ``cfunc`` that reads XLA's C call frame directly, writes the
kernel's own frame (its layout and the input axis each extent is read from come from
:data:`jmimpute._kernels.convention.COLLAPSED`) and calls the kernel's C entry point by
name, as the Op's Numba code does (:mod:`jmimpute._kernels.entry`). So the handler links
nothing: it is compiled on first use, quickly, and not cached on disk, where it could
outlive a change of the convention it was compiled for (Numba's cache is stamped by this
file only).

The struct layouts below follow ``xla/ffi/api/c_api.h`` (API major version 0, shipped
with jaxlib under ``jax.ffi.include_dir()``), which XLA keeps ABI-stable within a major
version; :func:`ffi_available` checks the installed header before anything is registered,
and the backend falls back to the pure PyTensor graph when it says no.

Layout (x86-64 / aarch64, 8-byte words), as used by ``_handler``::

    XLA_FFI_CallFrame: 0 struct_size, 1 extension_start, 2 api, 3 ctx, 4 stage (int32),
                       5..9 args {struct_size, ext, size, types, args},
                       10..14 rets {struct_size, ext, size, types, rets}
    XLA_FFI_Buffer:    0 struct_size, 1 ext, 2 dtype (int32), 3 data, 4 rank, 5 dims
    Metadata extension: 0 struct_size, 1 type (int32), 2 next, 3 metadata*
    XLA_FFI_Metadata:  0 struct_size, 1..3 api_version {struct_size, ext, major|minor},
                       4 traits (uint32), 5 state_type_id
"""

from __future__ import annotations

import ctypes
import functools
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
from numba import carray, cfunc, njit, types

from jmimpute._kernels.convention import COLLAPSED
from jmimpute._kernels.entry import SIGNATURE, as_voidptr, entry_symbol

_log = logging.getLogger(__name__)

TARGET_NAME = "jmimpute_collapsed_loglik"
_SUPPORTED_MAJOR = 0
_API_MINOR = 5  # the minor version of the header this layout was written against
_EXECUTE_STAGE = 3
_METADATA_EXTENSION = 1


@njit(cache=True)
def _address(buffers, i):  # pragma: no cover - compiled
    """Data address of the i-th XLA_FFI_Buffer in an args/rets array."""
    return carray(as_voidptr(buffers[i]), (6,), np.int64)[3]


@njit(cache=True)
def _dim(buffers, i, axis):  # pragma: no cover - compiled
    """Extent of ``axis`` of the i-th XLA_FFI_Buffer."""
    buf = carray(as_voidptr(buffers[i]), (6,), np.int64)
    return carray(as_voidptr(buf[5]), (axis + 1,), np.int64)[axis]


@njit(cache=True)
def _hold(array):  # pragma: no cover - compiled
    """Keep an array alive until here (Numba frees a value after its last use)."""
    return array.size


@functools.cache
def _handler() -> Any:
    """Compile the XLA FFI handler (a ``cfunc``) for the kernel's entry point and convention.

    Not cached on disk (see the module docstring): the Numba type of the entry it closes
    over pickles differently in every process, so a cache keyed by it would only grow.
    """
    entry = types.ExternalFunction(entry_symbol(), SIGNATURE)
    layout = COLLAPSED.frame
    n_inputs, n_outputs = len(layout.inputs), len(layout.outputs)
    input_start, output_start, frame_size = layout.input_start, layout.output_start, layout.size
    # extent -> (input, axis) it is read from, in frame order (frozen into the code)
    extent_axes = np.array(list(COLLAPSED.extent_sources.values()), dtype=np.int64)

    @cfunc(types.voidptr(types.voidptr), error_model="numpy")
    def handler(frame_ptr):  # pragma: no cover - compiled
        frame = carray(frame_ptr, (15,), np.int64)
        if frame[1] != 0:
            ext = carray(as_voidptr(frame[1]), (4,), np.int64)
            if (ext[1] & 0xFFFFFFFF) == _METADATA_EXTENSION:
                meta = carray(as_voidptr(ext[3]), (6,), np.int64)
                meta32 = carray(as_voidptr(ext[3]), (12,), np.int32)
                meta[1] = 24  # XLA_FFI_Api_Version_STRUCT_SIZE
                meta[2] = 0
                meta32[6] = _SUPPORTED_MAJOR
                meta32[7] = _API_MINOR
                meta32[8] = 0  # traits
                meta[5] = 0  # XLA_FFI_UNKNOWN_TYPE_ID
                return as_voidptr(0)
        if (frame[4] & 0xFFFFFFFF) != _EXECUTE_STAGE:
            return as_voidptr(0)
        args = carray(as_voidptr(frame[9]), (n_inputs,), np.int64)
        rets = carray(as_voidptr(frame[14]), (n_outputs,), np.int64)
        # the kernel's frame: extents, then input and output addresses
        call = np.empty(frame_size, dtype=np.int64)
        for e in range(extent_axes.shape[0]):
            call[e] = _dim(args, extent_axes[e, 0], extent_axes[e, 1])
        for i in range(n_inputs):
            call[input_start + i] = _address(args, i)
        for i in range(n_outputs):
            call[output_start + i] = _address(rets, i)
        entry(as_voidptr(call.ctypes.data))
        _hold(call)
        return as_voidptr(0)

    return handler


def _header_major_version() -> int | None:
    """``XLA_FFI_API_MAJOR`` of the installed jaxlib, or None if it cannot be read."""
    import jax.ffi

    header = Path(jax.ffi.include_dir()) / "xla" / "ffi" / "api" / "c_api.h"
    try:
        text = header.read_text()
    except OSError:
        return None
    match = re.search(r"#define XLA_FFI_API_MAJOR (\d+)", text)
    return int(match.group(1)) if match else None


@functools.cache
def ffi_available() -> bool:
    """Register the custom call once; False if this jaxlib's FFI layout is not the known one."""
    major = _header_major_version()
    if major != _SUPPORTED_MAJOR:
        _log.info("XLA FFI major version %s is not %s; using the PyTensor graph", major, 0)
        return False
    try:
        import jax

        make_capsule = ctypes.pythonapi.PyCapsule_New
        make_capsule.restype = ctypes.py_object
        make_capsule.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
        capsule = make_capsule(_handler().address, None, None)
        jax.ffi.register_ffi_target(TARGET_NAME, capsule, platform="cpu", api_version=1)
    except Exception as err:  # pragma: no cover - depends on the installed jaxlib
        _log.info("could not register the XLA FFI target (%s); using the PyTensor graph", err)
        return False
    return True
