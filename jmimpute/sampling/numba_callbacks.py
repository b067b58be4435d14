"""nutpie's Numba compile of a PyMC model, cached on disk so that a process compiles once.

``nutpie.compile_pymc_model(model, backend="numba")`` wraps the model's PyTensor functions
(log density and gradient; the trace's values) in two C callbacks built as closures at run
time. Numba cannot cache closures, and a callback links the code of everything it calls,
so LLVM re-optimises the whole model in every process: most of a compile, although
PyTensor already caches the functions below the callbacks on disk
(``benchmarks/bench_compile.py`` prints both).

:func:`compile_numba` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel` as
nutpie does, from nutpie's own pieces, with two caches:

* **The callbacks.** Their source is generated for the model's layout (its dimension and
  the rank and type of each shared value) and registered under a key with PyTensor's
  Numba cache locator, so Numba loads their machine code instead of compiling it. The key
  hashes PyTensor's keys of the two functions (their graphs after rewriting, constants
  included), the layout, this module's source and the versions of nutpie, PyTensor,
  Numba and llvmlite. Shared values enter through nutpie's user data, read at every
  call, so the cached code serves any values (``with_data``) of the same ranks.
* **The model's record.** Rewriting the graph and building PyTensor's functions takes
  about a second even when every piece is cached. A small JSON record holds what the
  compiled model needs besides the callbacks: the dimension, the trace's layout and the
  callbacks' keys. Its key is a fingerprint of the model's graph before rewriting (every
  operation with its properties, every constant's value, the shared data's names and
  types, the trace's shapes), PyTensor's compile settings, the same versions and the
  source of jmimpute's compiled Ops. A model with a record skips the rewrites and loads
  the callbacks. Any miss (no record, a callback gone from Numba's cache) falls back to
  the full path.

The callbacks do what nutpie's do (same return codes, same order of the shared values),
so a model compiled here samples the same draws as one compiled by nutpie for the same
seed (``tests/sampling/test_compile_once.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

_log = logging.getLogger("jmimpute")

_NUTPIE_TESTED = "0.16"
"""The nutpie release series whose private compile helpers this module reuses."""

_LOGP_TEMPLATE = """
def {name}(dim, x_, out_, logp_, user_data_):
    if dim != N_DIM:
        return -1
    try:
        x = numba.carray(x_, (N_DIM,))
        out = numba.carray(out_, (N_DIM,))
        logp = numba.carray(logp_, ())
        ud = numba.carray(user_data_, (), RECORD)
        shared = ud["shared"]
{unpack}
        logp_val, grad = inner(x{args})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_TEMPLATE = """
def {name}(dim, expanded, x_, out_, user_data_):
    if dim != N_DIM:
        return -1
    if expanded != N_EXPANDED:
        return -1
    try:
        x = numba.carray(x_, (N_DIM,))
        out = numba.carray(out_, (N_EXPANDED,))
        ud = numba.carray(user_data_, (), RECORD)
        shared = ud["shared"]
{unpack}
        (values,) = inner(x{args})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _unpack(keys: list[str], data: dict[str, np.ndarray]) -> tuple[str, str]:
    """Source lines that view each shared value in the user data, and the call's arguments."""
    lines, args = [], []
    for i, key in enumerate(keys):
        value = data[key]
        shape = ", ".join(f"int(shared['shape']['{key}'][{d}])" for d in range(value.ndim))
        shape = f"({shape},)" if value.ndim == 1 else f"({shape})"
        lines.append(
            f"        a{i} = numba.carray(address_as_void_pointer("
            f"shared['data']['{key}'][()]), {shape}, np.{value.dtype.name})"
        )
        args.append(f", a{i}")
    return "\n".join(lines), "".join(args)


def _versions() -> bytes:
    packages = ("nutpie", "pytensor", "pymc", "numba", "llvmlite", "numpy")
    return repr([(p, version(p)) for p in packages]).encode()


def _callback_key(kind: str, inner_key: str, layout: dict[str, Any]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(_versions())
    digest.update(repr((kind, inner_key, sorted(layout.items()))).encode())
    return f"jmimpute-nutpie-{kind}-{digest.hexdigest()}"


def _inner_key(function: Any) -> str | None:
    """PyTensor's cache key of a compiled PyTensor function's Numba code (None: uncached)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    jit_fn = getattr(getattr(function, "vm", None), "jit_fn", None)
    py_func = getattr(jit_fn, "py_func", None)
    return None if py_func is None else CACHED_SRC_FUNCTIONS.get(py_func)


def _callback(
    template: str,
    kind: str,
    inner: Any,
    key: str | None,
    keys: list[str],
    data: dict[str, np.ndarray],
    constants: dict[str, Any],
) -> tuple[Any, bool]:
    """A Numba C callback from ``template``, cached on disk under ``key`` (None: not cached).

    ``inner`` is the PyTensor function it calls; None where the callback must come from
    the cache (Numba then fails to compile it, and the caller falls back). Returns the
    callback and whether Numba's cache holds it.
    """
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    unpack, args = _unpack(keys, data)
    name = f"jmimpute_{kind}_callback"
    raw = compile_numba_function_src(
        template.format(name=name, unpack=unpack, args=args),
        name,
        global_env={
            "__name__": __name__,
            "numba": numba,
            "np": np,
            "inner": inner,
            "address_as_void_pointer": address_as_void_pointer,
            **constants,
        },
        cache_key=key,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", numba.NumbaWarning)
        cfunc = numba.cfunc(_SIGNATURES[kind](), cache=key is not None)(raw)
    refused = [w for w in caught if "cannot cache" in str(w.message).lower()]
    for warning in refused:
        _log.debug("the %s callback is not cached: %s", kind, warning.message)
    return cfunc, key is not None and not refused


def _logp_signature() -> Any:
    from numba import types

    double = types.CPointer(types.double)
    return types.int64(types.uint64, double, double, double, types.voidptr)


def _expand_signature() -> Any:
    from numba import types

    double = types.CPointer(types.double)
    return types.int64(types.uint64, types.uint64, double, double, types.voidptr)


_SIGNATURES = {"logp": _logp_signature, "expand": _expand_signature}
_TEMPLATES = {"logp": _LOGP_TEMPLATE, "expand": _EXPAND_TEMPLATE}


def cacheable() -> bool:
    """Whether this module can build nutpie's model: the nutpie series it was written for."""
    return version("nutpie").startswith(_NUTPIE_TESTED + ".")


# ---------------------------------------------------------------------------------------
# the model's record


def _sources_digest() -> bytes:
    """Source of this module and of jmimpute's compiled Ops (their code is not in a graph)."""
    import jmimpute._kernels

    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(Path(jmimpute._kernels.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.digest()


class _Unhashable(Exception):
    """The graph holds something the fingerprint cannot describe: no record."""


def _describe(value: Any) -> str:
    try:
        return hashlib.sha256(pickle.dumps(value, protocol=5)).hexdigest()
    except Exception as err:  # any pickling failure means: no record
        raise _Unhashable(repr(type(value))) from err


def _fingerprint(
    model: Any, var_names: list[str] | None
) -> tuple[str, list[Any], list[Any]] | None:
    """A key of everything a compile depends on, the shared variables and the graph's Ops.

    None where the graph holds an Op without properties or an unnamed shared value.
    """
    from nutpie import compile_pymc as cp
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import toposort
    from pytensor.link.numba.dispatch.basic import cache_key_for_constant

    outputs = [model.logp(), *model.unobserved_value_vars]
    ids: dict[Any, int] = {}
    shared: list[Any] = []
    ops: list[Any] = []
    from pytensor import config

    digest = hashlib.sha256(_versions())
    digest.update(_sources_digest())
    # the settings PyTensor compiles Numba code under
    digest.update(repr((config.floatX, config.numba__fastmath, config.numba__cache)).encode())

    def ident(var: Any) -> int:
        if var not in ids:
            ids[var] = len(ids)
            if var.owner is None:
                if isinstance(var, Constant):
                    what = ("constant", str(var.type), cache_key_for_constant(var.data))
                elif isinstance(var, SharedVariable):
                    if not var.name or any(s.name == var.name for s in shared):
                        raise _Unhashable(f"shared value {var.name!r}")
                    shared.append(var)
                    what = ("shared", var.name, str(var.type))
                else:
                    what = ("input", var.name, str(var.type))
                digest.update(repr((ids[var], what)).encode())
        return ids[var]

    try:
        for node in toposort(outputs):
            op = node.op
            if getattr(op, "__props__", None) is None:
                raise _Unhashable(type(op).__qualname__)
            ops.append(op)
            inputs = [ident(var) for var in node.inputs]
            outs = [ident(var) for var in node.outputs]
            digest.update(
                repr(
                    (
                        type(op).__module__,
                        type(op).__qualname__,
                        _describe(op._props()),
                        inputs,
                        outs,
                        [str(var.type) for var in node.outputs],
                    )
                ).encode()
            )
        digest.update(repr([ident(var) for var in outputs]).encode())
        # which name each output has in the trace (the graph alone does not say)
        digest.update(repr([var.name for var in outputs]).encode())
    except _Unhashable as why:
        _log.debug("no record for this model: %s", why)
        return None
    shapes = {
        name: tuple(int(n) for n in shape) for name, shape in cp._compute_shapes(model).items()
    }
    digest.update(
        repr(
            (
                [model.rvs_to_values[rv].name for rv in model.free_RVs],
                sorted(shapes.items()),
                None if var_names is None else list(var_names),
                model.check_bounds,
            )
        ).encode()
    )
    return digest.hexdigest(), shared, ops


def _records() -> Path:
    from pytensor.link.numba.cache import NUMBA_CACHE_PATH

    return Path(NUMBA_CACHE_PATH) / "jmimpute-models"


def _read_record(key: str) -> dict[str, Any] | None:
    path = _records() / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_record(key: str, record: dict[str, Any]) -> None:
    """Write atomically (beside the target, then renamed): a reader never sees half a file."""
    folder = _records()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(record, out)
        os.replace(tmp, folder / f"{key}.json")
    except OSError as err:  # a read-only cache only costs the next process a compile
        _log.debug("could not write the model's record: %s", err)


@dataclass(frozen=True)
class _UserData:
    """What nutpie's user data is made of.

    The shared values under fixed keys, each variable's key, nutpie's user data and their
    layout (key, rank, dtype). nutpie draws random keys; fixed ones make the callbacks'
    source, and with it their cache key, depend only on the layout.
    """

    values: dict[str, np.ndarray]
    keys: dict[Any, str]
    record: np.ndarray
    layout: list[list[Any]]


def _user_data(shared: list[Any]) -> _UserData:
    from nutpie import compile_pymc as cp

    values: dict[str, np.ndarray] = {}
    keys: dict[Any, str] = {}
    for var in shared:
        if var in keys:
            continue
        key = f"s{len(keys)}"
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        values[key], keys[var] = value, key
    layout = [[k, v.ndim, v.dtype.str] for k, v in values.items()]
    return _UserData(values, keys, cp.make_user_data(keys, values), layout)


def _assemble(
    model: Any,
    record: dict[str, Any],
    data: _UserData,
    initial_point_fn: Any,
    inner: dict[str, Any],
    functions: dict[str, Any],
) -> tuple[Any, bool]:
    """The compiled model from a record and the shared values in its order.

    Also says whether Numba's cache holds both callbacks (a record is written only then).
    """
    from nutpie import compile_pymc as cp

    if data.layout != record["layout"]:
        raise _Unhashable("the shared values' layout differs from the record's")
    shared_data, shared_var_keys, user_data = data.values, data.keys, data.record
    constants = {
        "N_DIM": record["n_dim"],
        "N_EXPANDED": record["n_expanded"],
        "RECORD": user_data.dtype,
    }
    callbacks, cached = {}, True
    for kind in ("logp", "expand"):
        keys = [f"s{i}" for i in record[f"{kind}_shared"]]
        callbacks[kind], in_cache = _callback(
            _TEMPLATES[kind], kind, inner.get(kind), record[f"{kind}_key"], keys,
            shared_data, constants,
        )  # fmt: skip
        cached = cached and in_cache
    names = record["names"]
    shapes = [tuple(shape) for shape in record["shapes"]]
    slices = [slice(a, b) for a, b in record["slices"]]
    shape_info = (names, slices, shapes)
    initial_point = _flat_initial_points(initial_point_fn, names, shapes, record["n_free"])
    dims, coords = cp._prepare_dims_and_coords(model, shape_info, record["reparam"])
    compiled = cp.CompiledPyMCModel(
        _n_dim=record["n_dim"],
        dims=dims,
        _coords=coords,
        _shapes={name: shape for name, shape in zip(names, shapes, strict=True)},
        compiled_logp_func=callbacks["logp"],
        compiled_expand_func=callbacks["expand"],
        initial_point_func=initial_point,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=record["n_expanded"],
        shape_info=shape_info,
        logp_func=functions.get("logp"),
        expand_func=functions.get("expand"),
        reparameterized_names=record["reparam"],
    )
    return compiled, cached


def _from_record(model: Any, key: str, shared: list[Any], ops: list[Any], ipf: Any) -> Any:
    """The compiled model from its record and Numba's cache, or None."""
    record = _read_record(key)
    if record is None:
        return None
    for op in ops:  # code loaded from a cache still needs the symbols it calls
        prepare = getattr(op, "prepare_numba", None)
        if prepare is not None:
            prepare()
    by_name = {var.name: var for var in shared}
    try:
        ordered = [by_name[name] for name in record["shared_names"]]
        compiled, _ = _assemble(model, record, _user_data(ordered), ipf, {}, {})
    except Exception as err:  # e.g. Numba's cache was cleared: compile
        _log.debug("the model's record could not be used (%s): compiling", err)
        return None
    return compiled


def _compile(model: Any, var_names: list[str] | None, ipf: Any) -> tuple[Any, dict | None]:
    """The full compile: PyTensor's functions, then the callbacks (from Numba's cache if there).

    Returns the compiled model and its record (None where PyTensor does not cache one of
    the functions, or Numba would not cache a callback: no key describes their code).
    """
    from nutpie import compile_pymc as cp

    n_dim, n_expanded, logp_pt, expand_pt, _, shape_info, reparam = cp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=ipf,
        var_names=var_names,
    )
    functions = {"logp": logp_pt, "expand": expand_pt}
    inner_keys = {kind: _inner_key(fn) for kind, fn in functions.items()}
    data = _user_data([*logp_pt.get_shared(), *expand_pt.get_shared()])
    layout, user_dtype = data.layout, data.record.dtype
    names, slices, shapes = shape_info
    record: dict[str, Any] = {
        "n_dim": int(n_dim),
        "n_expanded": int(n_expanded),
        "n_free": len(model.free_RVs),
        "names": list(names),
        "slices": [[int(s.start), int(s.stop)] for s in slices],
        "shapes": [[int(n) for n in shape] for shape in shapes],
        "reparam": list(reparam),
        "layout": layout,
        "shared_names": [var.name for var in data.keys],
    }
    for kind, fn in functions.items():
        record[f"{kind}_shared"] = [int(data.keys[v][1:]) for v in fn.get_shared()]
        # the whole layout fixes the user data's record type, whose field offsets the
        # callback's code holds; its own values, their order in the call
        described = {
            "record": repr((layout, user_dtype.descr, user_dtype.itemsize)),
            "passed": repr(record[f"{kind}_shared"]),
            "n": repr((n_dim, n_expanded)),
        }
        inner_key = inner_keys[kind]
        # no PyTensor key, no description of the code: a callback compiled, not cached
        record[f"{kind}_key"] = inner_key and _callback_key(kind, inner_key, described)
    inner = {kind: fn.vm.jit_fn for kind, fn in functions.items()}
    compiled, cached = _assemble(model, record, data, ipf, inner, functions)
    return compiled, record if cached else None


def _point_function(model: Any) -> Any:
    """PyMC's initial points of ``model``'s free variables, as nutpie draws them."""
    from nutpie import compile_pymc as cp
    from pymc.initial_point import make_initial_point_fn

    return cp._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )


def _flat_initial_points(point_fn: Any, names: list, shapes: list, n_free: int) -> Any:
    """The initial points nutpie takes: PyMC's, of the first ``n_free`` variables, flat."""
    from nutpie import compile_pymc as cp

    return cp._rv_dict_to_flat_array_wrapper(point_fn, names=names[:n_free], shapes=shapes[:n_free])


def with_initial_points_of(model: Any, compiled: Any) -> Any:
    """``compiled`` drawing its initial points from ``model`` (a model of the same graph).

    The initial points read the model's shared values (the priors' hyperparameters): a
    compiled model given to another model of the same graph must read that one's.
    """
    names, _, shapes = compiled.shape_info
    initial_point = _flat_initial_points(
        _point_function(model), list(names), list(shapes), len(model.free_RVs)
    )
    return replace(compiled, initial_point_func=initial_point)


def compile_numba(model: Any, var_names: list[str] | None = None) -> tuple[Any, str]:
    """The compiled form of ``model`` for nutpie's Numba backend, from the caches if there.

    Parameters
    ----------
    model : pymc.Model
    var_names : list of str, optional
        Variables to keep in the trace (default: all).

    Returns
    -------
    compiled : nutpie.compile_pymc.CompiledPyMCModel
        As ``nutpie.compile_pymc_model(model, backend="numba", var_names=var_names)``
        returns it; that compile is used where PyTensor does not cache one of the model's
        functions (then no key describes the callbacks' code).
    source : {"disk", "compiled"}
        Loaded whole from the model's record, or compiled (parts maybe from caches).
    """
    ipf = _point_function(model)
    found = _fingerprint(model, var_names)
    if found is not None:
        key, shared, ops = found
        compiled = _from_record(model, key, shared, ops, ipf)
        if compiled is not None:
            _log.debug("the compiled model came from its record")
            return compiled, "disk"
    compiled, record = _compile(model, var_names, ipf)
    if found is not None and record is not None:
        _write_record(found[0], record)
    return compiled, "compiled"
