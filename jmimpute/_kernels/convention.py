"""The collapsed kernel's calling convention, declared once as data.

:func:`jmimpute._kernels.kernel.collapsed_value_and_grad` takes 23 inputs and writes five
gradients into output arrays. Five places need that convention: the Op (its inputs,
which of them are differentiable, where their gradients are), the Op's Numba code (which
writes a *frame* of extents and addresses), the kernel's C entry point (which reads the
frame back into arrays), the XLA FFI handler (which writes the same frame from XLA's
buffers) and :class:`jmimpute._kernels.ops.KernelData`. Written by hand in each, a new
input means five edits by magic index that no test ties together; here it is one entry
of :data:`COLLAPSED`, and everything else is derived from it.

Numba needs static code for each input's number of dimensions, so the frame's writer and
reader are generated: :func:`render_frame_module` renders ``_frame.py``, which is
committed (Numba caches functions on disk only when they live in a real source file) and
checked against the rendering by a test, so it cannot drift. Regenerate it with
``python -m jmimpute._kernels.convention`` after changing the declaration.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FRAME_MODULE = Path(__file__).with_name("_frame.py")

# names the generated code uses for itself, which no slot or extent may take
_RESERVED = frozenset(
    {"np", "carray", "as_voidptr", "entry", "hold", "frame", "arg", "out", "f8", "impl"}
)
_CONTIGUOUS = "c_"  # prefix of the generated code's C-contiguous copy of an input
_LINE_LENGTH = 100  # the project's (pyproject.toml), which generated code keeps to


@dataclass(frozen=True)
class Axis:
    """One axis of a slot: an extent plus a constant, or a constant length alone.

    Most axes are an extent (``p``); a few are one longer (``seg_bounds`` holds the
    ``n_seg + 1`` bounds of ``n_seg`` segments) or fixed (``lat_map`` has 3 rows). Only
    an axis that is exactly an extent *carries* it, i.e. can tell the frame its value.

    Parameters
    ----------
    extent : str or None
        The extent's name; None for a fixed length.
    offset : int
        Added to the extent (the whole length when ``extent`` is None).
    """

    extent: str | None
    offset: int = 0

    @classmethod
    def parse(cls, entry: str | int) -> Axis:
        """Read ``"p"``, ``"n_seg+1"`` or ``3``, the spelling :data:`COLLAPSED` uses."""
        if isinstance(entry, int):
            return cls(None, entry)
        name, plus, offset = entry.partition("+")
        return cls(name.strip(), int(offset) if plus else 0)

    @property
    def carries(self) -> bool:
        """Whether the axis's length is its extent's value."""
        return self.extent is not None and self.offset == 0

    @property
    def source(self) -> str:
        """The length as a Python expression of the extents, for generated code."""
        if self.extent is None:
            return str(self.offset)
        return f"{self.extent} + {self.offset}" if self.offset else self.extent


@dataclass(frozen=True)
class Slot:
    """One array of the kernel's call, input or output, all float64.

    Parameters
    ----------
    name : str
        The kernel's parameter name (the generated code passes arguments by name).
    shape : tuple of Axis
        Empty for a scalar (``n_obs``): the kernel takes it by value, frames and XLA hold
        it as a one-element array.
    grad : str or None
        For a differentiable input, the kernel's parameter name of its gradient output;
        None for constant data, which PyTensor then treats as disconnected.
    """

    name: str
    shape: tuple[Axis, ...]
    grad: str | None = None

    @property
    def differentiable(self) -> bool:
        """Whether the kernel returns the gradient with respect to this input."""
        return self.grad is not None

    @property
    def is_scalar(self) -> bool:
        """Whether the kernel takes the input as a float rather than an array."""
        return not self.shape


def slot(name: str, *shape: str | int, grad: str | None = None) -> Slot:
    """A :class:`Slot` with its axes spelled as :meth:`Axis.parse` reads them (shorthand).

    Parameters
    ----------
    name : str
        The kernel's parameter name.
    *shape : str or int
        One entry per axis.
    grad : str, optional
        The gradient output's parameter name, for a differentiable input.
    """
    return Slot(name, tuple(Axis.parse(a) for a in shape), grad)


@dataclass(frozen=True)
class FrameLayout:
    """The words of a frame, an int64 array that carries one kernel call through C.

    The kernel's entry point takes a single pointer, so that its C signature never
    changes with the convention: the frame holds the extents, then the data address of
    every input, then that of every output, each array C-contiguous float64.

    Parameters
    ----------
    extents, inputs, outputs : tuple of str
        Names in frame order.
    """

    extents: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def input_start(self) -> int:
        """Word of the first input's address."""
        return len(self.extents)

    @property
    def output_start(self) -> int:
        """Word of the first output's address."""
        return len(self.extents) + len(self.inputs)

    @property
    def size(self) -> int:
        """Number of words."""
        return self.output_start + len(self.outputs)


@dataclass(frozen=True)
class Convention:
    """A compiled kernel's inputs, outputs, extents and frame, derived from its input slots.

    The outputs follow from the inputs (the value, then one gradient per differentiable
    input, of that input's shape), and so do the extents (in the order the inputs first
    carry them, each read from the first axis that carries it), so the declaration names
    each fact once.

    Parameters
    ----------
    module, kernel : str
        Where the kernel is, for the generated import.
    inputs : tuple of Slot
        In the kernel's parameter order.
    value : str
        Name of the value output (the kernel returns it; frames hold a one-element array).

    Raises
    ------
    ValueError
        If a name repeats or shadows the generated code's own, a scalar is differentiable,
        or an extent is never carried by an axis (no caller could tell the kernel its value).
    """

    module: str
    kernel: str
    inputs: tuple[Slot, ...]
    value: str = "value"

    def __post_init__(self) -> None:
        names = [s.name for s in (*self.inputs, *self.outputs)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"slot names repeat: {repeated}")
        copies = {_CONTIGUOUS + s.name for s in self.inputs}
        taken = _RESERVED | copies | {self.kernel}
        shadowing = sorted(n for n in (*names, *self.extents) if n in taken)
        if shadowing:
            raise ValueError(f"slot names taken by the generated code: {shadowing}")
        scalar_grads = [s.name for s in self.inputs if s.is_scalar and s.differentiable]
        if scalar_grads:
            raise ValueError(f"scalar inputs have no gradient array: {scalar_grads}")
        named = {a.extent for s in self.inputs for a in s.shape if a.extent is not None}
        uncarried = sorted(named - set(self.extents))
        if uncarried:
            raise ValueError(f"extents no input axis carries: {uncarried}")

    @property
    def outputs(self) -> tuple[Slot, ...]:
        """The value, then the gradient of each differentiable input, in input order."""
        grads = (Slot(s.grad, s.shape) for s in self.inputs if s.grad is not None)
        return (Slot(self.value, ()), *grads)

    @property
    def differentiable(self) -> Mapping[int, int]:
        """Input position -> position of the output holding its gradient."""
        positions = [i for i, s in enumerate(self.inputs) if s.differentiable]
        return {i: k for k, i in enumerate(positions, start=1)}

    @property
    def constants(self) -> tuple[str, ...]:
        """Names of the inputs that are data, not parameters, in input order."""
        return tuple(s.name for s in self.inputs if not s.differentiable)

    @property
    def extent_sources(self) -> dict[str, tuple[int, int]]:
        """Extent -> ``(input position, axis)`` of the first axis carrying it, in frame order."""
        sources: dict[str, tuple[int, int]] = {}
        for i, s in enumerate(self.inputs):
            for axis, a in enumerate(s.shape):
                if a.carries and a.extent not in sources:
                    sources[str(a.extent)] = (i, axis)
        return sources

    @property
    def extents(self) -> tuple[str, ...]:
        """The extents, in frame order."""
        return tuple(self.extent_sources)

    @property
    def frame(self) -> FrameLayout:
        """The frame layout (see :class:`FrameLayout`)."""
        return FrameLayout(
            self.extents, tuple(s.name for s in self.inputs), tuple(s.name for s in self.outputs)
        )


COLLAPSED = Convention(
    module="jmimpute._kernels.kernel",
    kernel="collapsed_value_and_grad",
    inputs=(
        slot("lsig", "p", "p", grad="g_lsig"),
        slot("beta", "q", "p", grad="g_beta"),
        slot("psi", "n_dim", "n_dim", grad="g_psi"),
        slot("resid2", "n_cl", "p2", grad="g_resid2"),
        slot("l2_masks", "n_pat2", "p2"),
        slot("l2_pattern", "n_cl"),
        slot("masks", "n_pat", "p"),
        slot("n_k", "n_pat"),
        slot("syy0", "n_pat", "p", "p"),
        slot("syx0", "n_pat", "p", "q"),
        slot("sxx", "n_pat", "q", "q"),
        slot("zz_t", "n_pat", "r", "r", "n_cl"),
        slot("syz0_t", "n_pat", "p", "r", "n_cl"),
        slot("sxz_t", "n_pat", "q", "r", "n_cl"),
        slot("n_obs"),
        slot("lat_y0", "p", "n_rows"),
        slot("lat_x", "q", "n_rows"),
        slot("lat_z", "r", "n_rows"),
        slot("seg_cluster", "n_seg"),
        slot("seg_bounds", "n_seg+1"),
        slot("pat_segs", "n_pat+1"),
        slot("lat_map", 3, "n_lat"),
        slot("zin", "n_lat", grad="g_z"),
    ),
)
"""The collapsed log-likelihood's convention (see the module docstring)."""


# --- generated code -------------------------------------------------------------------

_HEADER = '''\
# Generated from jmimpute/_kernels/convention.py: do not edit. After changing the
# declaration there, regenerate with `python -m jmimpute._kernels.convention`.
# mypy: disable-error-code="call-arg"
"""The collapsed kernel's frame, written by the Op's Numba code and read by its C entry point.

Generated from :data:`jmimpute._kernels.convention.COLLAPSED` (see that module): Numba
needs static code for each input's number of dimensions. The reader :func:`run_frame` and
the entry point :data:`kernel_entry` are compiled once and cached on disk, and both live in
this file because Numba's cache is stamped by the file a function is defined in only: a
cached caller elsewhere would keep a stale copy of the reader after the convention changed
(see :mod:`jmimpute._kernels.entry`).
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from {module} import {kernel}

SIGNATURE = types.void(types.voidptr)
FRAME_SIZE = {size}


@intrinsic
def as_voidptr(typingctx, addr):  # pragma: no cover - compiled
    """Reinterpret an integer address as ``void*`` (a frame holds addresses as int64)."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(addr), codegen
'''

_MAKE_IMPL_DOC = '''\
    """The Op's Numba implementation: copy the inputs C-contiguous, write a frame, call ``entry``.

    Parameters
    ----------
    entry
        The C entry point, a Numba ``ExternalFunction`` of :data:`SIGNATURE` (called by
        name so that the caller does not link the kernel).
    hold
        A jitted function of any arguments, called last on the arrays the frame points to:
        Numba frees a value after its last use, which would otherwise precede ``entry``.
    """
'''


def _call(head: str, args: list[str], indent: str) -> list[str]:
    """``head(`` with one argument per line and a trailing comma, as ruff formats it."""
    return [f"{indent}{head}(", *(f"{indent}    {a}," for a in args), f"{indent})"]


def _tuple(head: str, items: list[str], tail: str, indent: str) -> list[str]:
    """``head a, b tail`` on one line, or a parenthesised item a line where too long for ruff."""
    line = f"{indent}{head}{', '.join(items)}{tail}"
    if len(line) <= _LINE_LENGTH:
        return [line]
    return [f"{indent}{head}(", *(f"{indent}    {n}," for n in items), f"{indent}){tail}"]


def _shape(axes: tuple[Axis, ...]) -> str:
    """A shape tuple's source; a fixed 1 for a scalar, which frames hold as one element."""
    parts = [a.source for a in axes] or ["1"]
    return f"({', '.join(parts)},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _make_impl(conv: Convention) -> list[str]:
    """Source of ``make_impl``: the frame writer of the Op's Numba implementation."""
    layout, sources = conv.frame, conv.extent_sources
    names = [s.name for s in conv.inputs]
    grads = list(conv.outputs[1:])
    of_grad = {s.grad: s.name for s in conv.inputs if s.grad is not None}
    body = ["        # C-contiguous views (copies only where a graph input is strided)"]
    body += [f"        {_CONTIGUOUS}{n} = np.ascontiguousarray({n})" for n in names]
    body.append(f"        {conv.value} = np.zeros(1)")
    body += [f"        {g.name} = np.zeros_like({_CONTIGUOUS}{of_grad[g.name]})" for g in grads]
    body.append("        frame = np.empty(FRAME_SIZE, dtype=np.int64)")
    for word, (extent, (i, axis)) in enumerate(sources.items()):
        body.append(f"        frame[{word}] = {_CONTIGUOUS}{names[i]}.shape[{axis}]  # {extent}")
    for i, n in enumerate(names):
        body.append(f"        frame[{layout.input_start + i}] = {_CONTIGUOUS}{n}.ctypes.data")
    for k, s in enumerate(conv.outputs):
        body.append(f"        frame[{layout.output_start + k}] = {s.name}.ctypes.data")
    body.append("        entry(as_voidptr(frame.ctypes.data))")
    body += _call("hold", [*(f"{_CONTIGUOUS}{n}" for n in names), "frame"], "        ")
    returned = [f"np.asarray({conv.value}[0])", *(g.name for g in grads)]
    body += _tuple("return ", returned, "", "        ")
    params = [f"        {n}," for n in names]
    return [
        "def make_impl(entry, hold):",
        *_MAKE_IMPL_DOC.splitlines(),
        "",
        "    def impl(",
        *params,
        "    ):  # pragma: no cover - compiled",
        *body,
        "",
        "    return impl",
    ]


def _run_frame(conv: Convention) -> list[str]:
    """Source of ``run_frame``: rebuild each array from the frame and call the kernel."""
    layout = conv.frame
    out = layout.output_start

    def array(word: str, s: Slot) -> str:
        read = f"carray(as_voidptr({word}), {_shape(s.shape)}, f8)"
        return f"{s.name}={read}[0]" if s.is_scalar else f"{s.name}={read}"

    args = [array(f"arg[{i}]", s) for i, s in enumerate(conv.inputs)]
    args += [array(f"out[{k}]", s) for k, s in enumerate(conv.outputs) if k > 0]
    return [
        "@njit(cache=True, nogil=True)",
        "def run_frame(frame):  # pragma: no cover - compiled",
        '    """Evaluate the kernel on the arrays a frame points to (see the comment above)."""',
        *_tuple("", list(layout.extents), f" = frame[:{layout.input_start}]", "    "),
        f"    arg = frame[{layout.input_start}:{out}]",
        f"    out = frame[{out}:{layout.size}]",
        "    f8 = np.float64",
        *_call(f"{conv.value} = {conv.kernel}", args, "    "),
        f"    carray(as_voidptr(out[0]), (1,), f8)[0] = {conv.value}",
    ]


_KERNEL_ENTRY = '''\
@cfunc(SIGNATURE, cache=True, nogil=True)
def kernel_entry(frame_ptr):  # pragma: no cover - compiled
    """The C entry point, ``void entry(int64_t *frame)``: run the kernel on a frame."""
    run_frame(carray(frame_ptr, (FRAME_SIZE,), np.int64))
'''


def _layout_comment(conv: Convention) -> list[str]:
    """Comment lines that list the frame's words, for a reader of the generated file."""
    layout = conv.frame
    text = (
        f"frame words 0-{layout.input_start - 1}: the extents {', '.join(layout.extents)}; "
        f"{layout.input_start}-{layout.output_start - 1}: the inputs' addresses; "
        f"{layout.output_start}-{layout.size - 1}: the outputs' ({', '.join(layout.outputs)})"
    )
    return [f"# {line}" for line in textwrap.wrap(text, width=_LINE_LENGTH - 2)]


def render_frame_module(conv: Convention = COLLAPSED) -> str:
    """The source of ``_frame.py`` for a convention, formatted as ruff formats it.

    Parameters
    ----------
    conv : Convention
        The declaration (default: the collapsed kernel's).

    Returns
    -------
    str
        The module: ``as_voidptr``, ``run_frame``, ``kernel_entry`` and ``make_impl``.
    """
    header = _HEADER.format(module=conv.module, kernel=conv.kernel, size=conv.frame.size)
    parts = [
        header.rstrip("\n").splitlines(),
        [*_layout_comment(conv), *_run_frame(conv)],
        _KERNEL_ENTRY.rstrip("\n").splitlines(),
        _make_impl(conv),
    ]
    lines: list[str] = []
    for part in parts:
        lines += [*(["", ""] if lines else []), *part]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write ``_frame.py`` from :data:`COLLAPSED` and print its path."""
    FRAME_MODULE.write_text(render_frame_module())
    print(FRAME_MODULE)


if __name__ == "__main__":
    main()
