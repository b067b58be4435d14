"""nutpie's Numba compile of a PyMC model, with callbacks that Numba caches on disk.

``nutpie.compile_pymc_model(model, backend="numba")`` wraps the model's PyTensor functions
(log density and gradient; the trace's values) in two C callbacks built as closures at run
time. Numba cannot cache closures, and a callback links the code of everything it calls,
so LLVM re-optimises the whole model in every process: most of a compile, although
PyTensor already caches the functions below the callbacks on disk
(``benchmarks/bench_compile.py`` prints both).

:func:`compile_numba` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel` as
nutpie does, from nutpie's own pieces, except for the two callbacks: their source is
generated for the model's layout (its dimension and the rank and type of each shared
value) and registered under a key with PyTensor's Numba cache locator, so a later process
(or a later model with the same graph) loads their machine code instead of compiling
it. The key hashes PyTensor's keys of the two functions (their graphs, constants
included), the layout, this module's source and the versions of nutpie, PyTensor and
Numba: a cached callback is reused only for code it was compiled from. Shared values
enter through nutpie's user data, read at every call, so the cached code serves any
values (``with_data``) of the same ranks.

The callbacks do what nutpie's do (same return codes, same order of the shared values),
so a model compiled here samples the same draws as one compiled by nutpie for the same
seed (``tests/sampling/test_numba_callbacks.py``).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
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
    except Exception:  # noqa: BLE001
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
    except Exception:  # noqa: BLE001
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


def _layout(keys: list[str], data: dict[str, np.ndarray]) -> list[tuple[str, int, str]]:
    return [(key, data[key].ndim, data[key].dtype.str) for key in keys]


def _callback_key(kind: str, inner_key: str, layout: dict[str, Any]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for package in ("nutpie", "pytensor", "numba", "llvmlite"):
        digest.update(f"{package}={version(package)}".encode())
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
    inner_key: str,
    keys: list[str],
    data: dict[str, np.ndarray],
    constants: dict[str, Any],
    signature: Any,
) -> Any:
    """A Numba C callback from ``template``, cached on disk under a key of what it runs."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    unpack, args = _unpack(keys, data)
    layout = {"shared": _layout(keys, data), **{k: v for k, v in constants.items()}}
    key = _callback_key(kind, inner_key, {k: repr(v) for k, v in layout.items()})
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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=numba.NumbaWarning)
        return numba.cfunc(signature, cache=True)(raw)


def cacheable() -> bool:
    """Whether this module can build nutpie's model: the nutpie series it was written for."""
    return version("nutpie").startswith(_NUTPIE_TESTED + ".")


def compile_numba(model: Any, var_names: list[str] | None = None) -> Any:
    """The compiled form of ``model`` for nutpie's Numba backend, with disk-cached callbacks.

    Parameters
    ----------
    model : pymc.Model
    var_names : list of str, optional
        Variables to keep in the trace (default: all).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        As ``nutpie.compile_pymc_model(model, backend="numba", var_names=var_names)``
        returns it; that compile is used where PyTensor does not cache one of the model's
        functions (then no key describes the callbacks' code).
    """
    import numba
    import nutpie
    from nutpie import compile_pymc as cp
    from pymc.initial_point import make_initial_point_fn

    initial_point_fn = cp._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_pt, expand_pt, initial_point, shape_info, reparam = cp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=initial_point_fn,
        var_names=var_names,
    )
    logp_key, expand_key = _inner_key(logp_pt), _inner_key(expand_pt)
    if logp_key is None or expand_key is None:
        _log.debug("PyTensor does not cache this model's functions: nutpie compiles it")
        return nutpie.compile_pymc_model(model, backend="numba", var_names=var_names)

    # shared values under fixed keys (nutpie draws random ones), so that the callbacks'
    # source, and with it their cache key, depends only on the layout
    shared_data: dict[str, np.ndarray] = {}
    shared_var_keys: dict[Any, str] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        key = f"s{len(shared_var_keys)}"
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[key], shared_var_keys[var] = value, key
    user_data = cp.make_user_data(shared_var_keys, shared_data)
    record = user_data.dtype

    logp_sig = numba.types.int64(
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    )
    expand_sig = numba.types.int64(
        numba.types.uint64,
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    )
    logp_keys = [shared_var_keys[var] for var in logp_pt.get_shared()]
    expand_keys = [shared_var_keys[var] for var in expand_pt.get_shared()]
    constants = {"N_DIM": n_dim, "N_EXPANDED": n_expanded, "RECORD": record}
    logp_cfunc = _callback(
        _LOGP_TEMPLATE,
        "logp",
        logp_pt.vm.jit_fn,
        logp_key,
        logp_keys,
        shared_data,
        {"N_DIM": n_dim, "RECORD": record},
        logp_sig,
    )
    expand_cfunc = _callback(
        _EXPAND_TEMPLATE,
        "expand",
        expand_pt.vm.jit_fn,
        expand_key,
        expand_keys,
        shared_data,
        constants,
        expand_sig,
    )
    dims, coords = cp._prepare_dims_and_coords(model, shape_info, reparam)
    return cp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_cfunc,
        compiled_expand_func=expand_cfunc,
        initial_point_func=initial_point,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        reparameterized_names=reparam,
    )
