"""The layers hold: no import cycles, the library never imports its CLI, the specification
and the design import no PyMC, and ``import jmimpute`` is light.

The graph is read from the source (every ``import``, at module level and inside functions,
except those under ``if TYPE_CHECKING:``), so a cycle hidden in a function-level import is
found too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jmimpute"
HEAVY = ("pymc", "pytensor", "numba", "jax", "nutpie")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at module level)`` for every import of a file."""
    tree = ast.parse(path.read_text())
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for orelse in child.orelse:
                    visit(orelse, top)
                continue
            if isinstance(child, ast.Import):
                out.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1])
                    base = f"{base}.{child.module}" if child.module else base
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    out.append((full if full in MODULES else base, top))
            top_here = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            visit(child, top_here)

    visit(tree, True)
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _internal(name: str) -> str | None:
    """The jmimpute module an imported name refers to, or None if outside the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges() -> dict[str, list[str]]:
    return {
        m: sorted({t for name, _ in imports if (t := _internal(name)) and t != m})
        for m, imports in GRAPH.items()
    }


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in edges:
        if v not in index:
            connect(v)
    return found


def test_the_graph_reader_sees_function_level_imports_and_finds_cycles():
    """The checks below are only as good as the reader: it must see what they look for."""
    edges = dict(GRAPH["jmimpute.results.imputation"])
    assert edges.get("jmimpute.sampling.run") is False  # imported inside refit()
    assert edges.get("jmimpute.diagnostics") is True
    assert "jmimpute.models.protocol" not in edges  # under `if TYPE_CHECKING:` only
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(_edges()) == []


def test_the_library_never_imports_its_cli():
    importers = [
        m for m, imports in GRAPH.items() if m != "jmimpute.cli" and any(
            _internal(name) == "jmimpute.cli" for name, _ in imports
        )
    ]  # fmt: skip
    assert importers == []


def _own(layer: str) -> list[str]:
    """The modules of ``layer`` (a package) and the package itself."""
    return [m for m in MODULES if m == layer or m.startswith(f"{layer}.")]


def _imports_from(layer: str, other: str) -> list[tuple[str, str]]:
    """(module, imported name) for every import of ``other`` by a module of ``layer``."""
    return [
        (m, name)
        for m in _own(layer)
        for name, _ in GRAPH[m]
        if (_internal(name) or "").startswith(other)
    ]


@pytest.mark.parametrize("layer", ["jmimpute.models", "jmimpute.design", "jmimpute.spec"])
def test_lower_layers_never_import_the_sampler(layer):
    """The sampling layer calls the models (through the protocol), never the reverse: a
    model that needs its own moves gives them as data (``BuiltModel.move``)."""
    found = _imports_from(layer, "jmimpute.sampling")
    assert found == []


@pytest.mark.parametrize("layer", ["jmimpute.spec", "jmimpute.design"])
def test_spec_and_design_never_import_the_results_layer(layer):
    """What the user asked and the numeric design sit below the results: a model file's
    ``[output]`` keys are checked against :mod:`jmimpute.spec.exports`, not the writers."""
    found = _imports_from(layer, "jmimpute.results")
    assert found == []


@pytest.mark.parametrize("layer", ["jmimpute.spec", "jmimpute.design"])
def test_spec_and_design_import_no_pymc(layer):
    """Neither directly (at any level) nor through what their modules load on import."""
    own = _own(layer)
    direct = {(m, name) for m in own for name, _ in GRAPH[m] if name.split(".")[0] in HEAVY}
    assert direct == set()
    loaded, todo = set(), list(own)
    while todo:
        m = todo.pop()
        if m in loaded:
            continue
        loaded.add(m)
        for name, top in GRAPH[m]:
            assert not (top and name.split(".")[0] in HEAVY), f"{m} loads {name} via {layer}"
            if top and (t := _internal(name)):
                todo.append(t)


LIGHT = """
import json, sys
import numpy as np
import jmimpute as jm
jm.pool(np.array([[1.0], [1.2], [0.9]]), np.array([[0.1], [0.1], [0.1]]))
data = jm.datasets.load_brandsma()
jm.missingness(data, ["lpo", "iqv"], cluster="sch")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def test_import_jmimpute_is_light():
    """``jm.pool``, ``jm.missingness`` and ``jm.datasets`` load none of the sampling stack."""
    code = LIGHT.format(heavy=set(HEAVY))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_lazy_names_are_the_functions_not_their_modules():
    """A submodule import must not shadow a lazily exported function of the same name."""
    code = (
        "import jmimpute.pipeline, jmimpute.sensitivity_analysis; import jmimpute as jm; "
        "print(callable(jm.impute) and callable(jm.sensitivity) and callable(jm.missingness))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
