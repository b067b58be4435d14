"""Compiled models kept for the rest of the process, found again by their graph.

A model of other data with the same structure (the same kinds of targets and terms, other
rows, clusters and missingness patterns) has the same PyTensor graph up to its shared
data, since the design's values enter as shared data, not constants
(:mod:`jmimpute.models.collapsed.build`). Such a model needs no compile at all: the
compiled form of the first one takes the new values (nutpie's ``with_data``). A model is
matched by comparing graphs, not by a key of the spec: PyTensor's ``equal_computations``
holds two graphs equal only if every operation and constant agrees, with the value
variables and shared data paired by name, so nothing that would change the compiled code
can be missed. The comparison costs a fraction of the compile it saves (the graph
rewrites alone take about a second on brandsma).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger("jmimpute")

KEPT = 8
"""Compiled models kept per process (the least recently used goes first)."""


@dataclass(frozen=True)
class _Graph:
    """What a compile depends on.

    The outputs, their names in the trace, the named inputs (value variables and shared
    data) and what the graph does not hold (the coordinates).
    """

    outputs: list
    names: tuple
    inputs: dict[str, Any]
    coords: tuple


@dataclass(frozen=True)
class _Entry:
    graph: _Graph
    compiled: Any


def _graph(model: Any) -> _Graph:
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import ancestors

    outputs = [model.logp(), *model.unobserved_value_vars]
    inputs: dict[str, Any] = {v.name: v for v in model.value_vars}
    for var in ancestors(outputs):
        if isinstance(var, SharedVariable):
            inputs[f"shared:{var.name}"] = var
    coords = tuple((k, tuple(v) if v is not None else None) for k, v in model.coords.items())
    return _Graph(outputs, tuple(var.name for var in outputs), inputs, coords)


def _same_shapes(model: Any, compiled: Any) -> bool:
    """Whether the trace's shapes of ``model`` are those ``compiled`` was made for.

    Its expanded size is fixed, and a shape read from shared data could differ with
    equal graphs.
    """
    from nutpie.compile_pymc import _compute_shapes

    shapes = _compute_shapes(model)
    return all(
        name in shapes and tuple(int(n) for n in shapes[name]) == tuple(shape)
        for name, shape in compiled._shapes.items()
    )


class CompiledModels:
    """The compiled models of this process, by the graph they were compiled from.

    Parameters
    ----------
    kept : int
        How many to keep.
    """

    def __init__(self, kept: int = KEPT) -> None:
        self._entries: OrderedDict[tuple, list[_Entry]] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    @staticmethod
    def _key(backend: str, var_names: list[str] | None, model: Any) -> tuple:
        names = tuple(sorted(v.name for v in model.value_vars))
        kept = None if var_names is None else tuple(var_names)
        # check_bounds changes the rewrites the compiled code was made with
        return (backend, kept, names, bool(model.check_bounds))

    def find(self, model: Any, backend: str, var_names: list[str] | None) -> Any:
        """A compiled model of the same graph as ``model``, made ``model``'s, or None.

        It is returned with ``model``'s shared values (``with_data``) and initial points.
        """
        from pytensor.graph.basic import equal_computations

        from jmimpute.sampling.numba_callbacks import with_initial_points_of

        key = self._key(backend, var_names, model)
        with self._lock:
            candidates = list(self._entries.get(key, []))
        if not candidates:
            return None
        graph = _graph(model)
        inputs = graph.inputs
        for entry in candidates:
            old = entry.graph
            if (old.coords, old.names, old.inputs.keys()) != (
                graph.coords,
                graph.names,
                inputs.keys(),
            ):
                continue
            names = list(inputs)
            if not equal_computations(
                graph.outputs,
                old.outputs,
                in_xs=[inputs[n] for n in names],
                in_ys=[old.inputs[n] for n in names],
            ) or not _same_shapes(model, entry.compiled):
                continue
            with self._lock:
                self._entries.move_to_end(key)
            known = {var.name for var in entry.compiled.shared_var_keys}
            values = {
                var.name: var.get_value()
                for name, var in inputs.items()
                if name.startswith("shared:") and var.name in known
            }
            return with_initial_points_of(model, entry.compiled.with_data(**values))
        return None

    def add(self, model: Any, backend: str, var_names: list[str] | None, compiled: Any) -> None:
        """Keep ``compiled``, the compiled form of ``model``."""
        graph = _graph(model)
        key = self._key(backend, var_names, model)
        with self._lock:
            self._entries.setdefault(key, []).append(_Entry(graph, compiled))
            self._entries.move_to_end(key)
            while sum(len(v) for v in self._entries.values()) > self._kept:
                oldest = next(iter(self._entries))
                self._entries[oldest].pop(0)
                if not self._entries[oldest]:
                    del self._entries[oldest]

    def clear(self) -> None:
        """Forget every compiled model."""
        with self._lock:
            self._entries.clear()


COMPILED = CompiledModels()
"""This process's compiled models (nutpie's Numba backend: its models take new shared data)."""
