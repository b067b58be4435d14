"""Write and read imputation results: stacked and per-set tables, netCDF and Zarr archives.

Tables (:func:`to_long`, :func:`to_sets`) are for analysis elsewhere (R's mice reads the
long layout with ``as.mids``). Archives (:func:`to_netcdf`, :func:`to_zarr`) hold the whole
result, so that :func:`load_imputation` gives back an equal :class:`~jmimpute.Imputation`:
the posterior DataTree as it is, plus a group ``incomplete_data`` holding the data as
passed (every column with its pandas dtype: categories and their order, booleans, integers,
nullable dtypes) and, in its attributes, the specification and the derived variables as
JSON.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import types
import typing
import warnings
from importlib.util import find_spec
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.analysis.derive import ClusterStatistic, DeriveFunction
from jmimpute.results.imputation import Imputation
from jmimpute.spec.model import ImputationSpec
from jmimpute.spec.validate import validate

_log = logging.getLogger("jmimpute")

StrPath = str | PathLike[str]
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")
DATA_GROUP = "incomplete_data"
FORMAT_VERSION = 1
_NETCDF_ENGINE: Literal["h5netcdf"] = "h5netcdf"


# -- tables ---------------------------------------------------------------------------
def _table_format(path: Path) -> str:
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in TABLE_FORMATS:
        raise ValueError(
            f"cannot tell the file format of {str(path)!r} from its suffix "
            f"{path.suffix or '(none)'!r}; use a name ending in "
            f"{' or '.join('.' + f for f in TABLE_FORMATS)}"
        )
    return fmt


def _require(module: str, purpose: str) -> None:
    if find_spec(module) is None:
        raise ImportError(
            f"{purpose} needs the package {module!r}, which is not installed; install it "
            f"with `pip install {module}`"
        )


def write_table(frame: pd.DataFrame, path: StrPath) -> Path:
    """Write a DataFrame without its index, as CSV or Parquet by the file's suffix.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or path-like
        Ends in ``.csv`` or ``.parquet``; missing parent folders are created.

    Returns
    -------
    pathlib.Path
    """
    out = Path(path)
    fmt = _table_format(out)
    if fmt == "parquet":
        _require("pyarrow", "writing Parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    _log.info("wrote %d rows to %s", len(frame), out)
    return out


def bundled_datasets() -> tuple[str, ...]:
    """Names of the data sets shipped with jmimpute (``jmimpute.datasets.load_NAME``)."""
    from jmimpute import datasets

    return tuple(name.removeprefix("load_") for name in datasets.__all__)


def read_data(source: StrPath) -> pd.DataFrame:
    """A bundled data set by name (``"brandsma"``, ``"hsb"``), or a CSV or Parquet file.

    Examples
    --------
    >>> read_data("brandsma").shape
    (4106, 14)
    """
    from jmimpute import datasets

    if isinstance(source, str) and source in bundled_datasets():
        frame: pd.DataFrame = getattr(datasets, f"load_{source}")()
        return frame
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(
            f"data {str(source)!r} is neither a bundled data set "
            f"({', '.join(bundled_datasets())}) nor an existing file"
        )
    if _table_format(path) == "parquet":
        _require("pyarrow", "reading Parquet")
        return pd.read_parquet(path)
    return pd.read_csv(path)


def to_long(imp: Imputation, path: StrPath | None = None, *, include: bool = False) -> pd.DataFrame:
    """The completed sets stacked in mice's long layout, optionally written to a file.

    Parameters
    ----------
    imp : Imputation
    path : str or path-like, optional
        A ``.csv`` or ``.parquet`` file to write (Parquet needs pyarrow).
    include : bool, default False
        Also include the incomplete data as imputation 0 (as mice's ``complete(include=TRUE)``).

    Returns
    -------
    pandas.DataFrame
        ``imp.complete("long")``: columns ``.imp`` (1..m), ``.id`` (the row label) and the data.
    """
    long = imp.complete("long", include=include)
    if path is not None:
        write_table(long, path)
    return long


def to_sets(imp: Imputation, directory: StrPath, fmt: str = "csv") -> list[Path]:
    """Write each completed set to its own file, ``imp_01.csv`` .. ``imp_<m>.csv``.

    Parameters
    ----------
    imp : Imputation
    directory : str or path-like
        Created if missing.
    fmt : {"csv", "parquet"}, default "csv"

    Returns
    -------
    list of pathlib.Path
        The files, in imputation order.
    """
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"`fmt` must be one of {', '.join(map(repr, TABLE_FORMATS))}; got {fmt!r}")
    width = max(2, len(str(imp.m)))
    folder = Path(directory)
    return [
        write_table(frame, folder / f"imp_{k:0{width}d}.{fmt}")
        for k, frame in enumerate(imp.complete("all"), start=1)
    ]


# -- the incomplete data as a Dataset -------------------------------------------------
def _plain(values: list[Any]) -> list[Any]:
    """JSON-ready category values (NumPy scalars to Python ones)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"{name}_"
    return name


def _encode(series: pd.Series, what: str) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Values storable in netCDF, a missing mask where NaN cannot mark them, and attrs."""
    dtype = series.dtype
    attrs: dict[str, Any] = {"pandas_dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        attrs |= {
            "pandas_categories": json.dumps(_plain(cats.tolist())),
            "pandas_categories_dtype": str(cats.dtype),
            "pandas_ordered": int(bool(dtype.ordered)),
        }
        return series.cat.codes.to_numpy(dtype=np.int64), None, attrs  # -1 marks missing
    mask = series.isna().to_numpy()
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        if numpy_dtype is not None and numpy_dtype.kind in "biuf":
            fill: Any = False if numpy_dtype.kind == "b" else 0
            values = series.to_numpy(dtype=numpy_dtype, na_value=fill)
            return values, mask if mask.any() else None, attrs
        if pd.api.types.is_string_dtype(dtype):
            return series.to_numpy(dtype=object, na_value="").astype(str), mask, attrs
    elif dtype == np.dtype(object) and pd.api.types.infer_dtype(series, skipna=True) in (
        "string",
        "empty",
    ):
        values = np.where(mask, "", series.to_numpy(dtype=object)).astype(str)
        return values, mask, attrs
    elif dtype.kind in "biufmM":
        return series.to_numpy(), None, attrs
    raise ValueError(
        f"{what} has dtype {dtype} ({pd.api.types.infer_dtype(series, skipna=True)} values), "
        "which cannot be saved; convert it to numbers, strings or a pandas 'category' first"
    )


def _decode(values: np.ndarray, mask: np.ndarray | None, attrs: dict[str, Any]) -> pd.Series:
    dtype = pd.api.types.pandas_dtype(attrs["pandas_dtype"])
    if isinstance(dtype, pd.CategoricalDtype):
        categories = pd.Index(
            json.loads(attrs["pandas_categories"]), dtype=attrs["pandas_categories_dtype"]
        )
        kind = pd.CategoricalDtype(categories, ordered=bool(attrs["pandas_ordered"]))
        return pd.Series(pd.Categorical.from_codes(values.astype(np.int64), dtype=kind))
    if values.dtype.kind == "T":  # NumPy's variable-width strings, as Zarr gives them back
        values = values.astype(object)
    if dtype == np.dtype(object):
        out = pd.Series(values.astype(object), dtype=object)
        return out.where(~mask) if mask is not None else out  # missing as NaN, as pandas reads
    series = pd.Series(values).astype(dtype)
    return series.mask(mask) if mask is not None else series


def _data_to_dataset(data: pd.DataFrame) -> xr.Dataset:
    bad = [c for c in data.columns if not isinstance(c, str) or "/" in c or not c]
    if bad:
        raise ValueError(
            f"columns {bad} cannot be saved: column names must be non-empty strings without "
            "'/'; rename them (data.rename(columns=...)) and impute again"
        )
    if isinstance(data.index, pd.MultiIndex):
        raise ValueError(
            "the data has a MultiIndex, which cannot be saved; impute data.reset_index() instead"
        )
    columns = [str(c) for c in data.columns]
    taken = set(columns)
    dim = _fresh("row", taken)
    taken.add(dim)
    variables: dict[str, Any] = {}
    for name in columns:
        values, mask, attrs = _encode(data[name], f"column {name!r}")
        if mask is not None:
            attrs["missing_mask"] = _fresh(f"{name}__missing", taken)
            taken.add(attrs["missing_mask"])
            variables[attrs["missing_mask"]] = xr.Variable(dim, mask)
        variables[name] = xr.Variable(dim, values, attrs)
    attrs = {"columns": json.dumps(columns), "index_name": json.dumps(data.index.name)}
    if isinstance(data.index, pd.RangeIndex):
        rng = data.index
        attrs["range_index"] = json.dumps([rng.start, rng.stop, rng.step])
        return xr.Dataset(variables, attrs=attrs)
    values, mask, index_attrs = _encode(data.index.to_series(), "the data's index")
    if mask is not None and mask.any():
        raise ValueError("the data's index has missing labels; give every row a label")
    coords = {dim: xr.Variable(dim, values, index_attrs)}
    return xr.Dataset(variables, coords=coords, attrs=attrs | {"index_dim": dim})


def _dataset_to_data(ds: xr.Dataset) -> pd.DataFrame:
    columns = json.loads(ds.attrs["columns"])

    def column(var: xr.DataArray) -> pd.Series:
        attrs = dict(var.attrs)
        mask = (
            ds[attrs["missing_mask"]].to_numpy().astype(bool) if "missing_mask" in attrs else None
        )
        return _decode(var.to_numpy(), mask, attrs)

    if "range_index" in ds.attrs:
        start, stop, step = json.loads(ds.attrs["range_index"])
        index: pd.Index = pd.RangeIndex(start, stop, step)
    else:
        index = pd.Index(column(ds[ds.attrs["index_dim"]]))
    index.name = json.loads(ds.attrs["index_name"])
    if not columns:
        return pd.DataFrame(index=index)
    return pd.concat([column(ds[name]).set_axis(index).rename(name) for name in columns], axis=1)


# -- the specification and derived variables as JSON ---------------------------------
def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(hint: Any, value: Any) -> Any:
    """Rebuild a value of type ``hint`` (dataclasses, tuples, unions of them) from JSON."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        classes = [a for a in options if dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and classes:
            return _from_plain(classes[0], value)
        return _from_plain(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_from_plain(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        return hint(**{k: _from_plain(hints[k], v) for k, v in value.items() if k in known})
    return value


def spec_to_json(spec: ImputationSpec) -> str:
    """The specification as JSON (its dataclass fields, nested)."""
    return json.dumps(_to_plain(spec))


def spec_from_json(text: str) -> ImputationSpec:
    """Rebuild the specification written by :func:`spec_to_json`."""
    spec: ImputationSpec = _from_plain(ImputationSpec, json.loads(text))
    return spec


def _derived_to_json(derived: dict[str, ClusterStatistic | DeriveFunction]) -> str:
    kept, dropped = {}, []
    for name, how in derived.items():
        if isinstance(how, ClusterStatistic):
            kept[name] = _to_plain(how)
        else:
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"the derived variables {dropped} are Python functions, which cannot be saved; "
            "they are left out of the file: attach them again after loading with "
            "imp.with_columns(...), or define them with jm.cluster_mean/jm.cluster_centre",
            UserWarning,
            stacklevel=4,
        )
    return json.dumps(kept)


# -- archives -------------------------------------------------------------------------
def _to_tree(imp: Imputation) -> xr.DataTree:
    if DATA_GROUP in imp.posterior.children:
        raise ValueError(
            f"the result's posterior already has a group {DATA_GROUP!r}; it is reserved for "
            "the incomplete data when saving"
        )
    ds = _data_to_dataset(imp._data)
    ds.attrs.update(
        {
            "jmimpute_format": FORMAT_VERSION,
            "spec": spec_to_json(imp.spec),
            "derived": _derived_to_json(imp._derived),
            "groups": json.dumps(list(imp.posterior.groups)),
        }
    )
    tree = imp.posterior.copy()
    tree[DATA_GROUP] = xr.DataTree(ds)
    return tree


def to_netcdf(imp: Imputation, path: StrPath) -> Path:
    """Write the whole result to a netCDF-4 file (read it back with :func:`load_imputation`).

    Derived variables made with :func:`jmimpute.cluster_mean` or
    :func:`jmimpute.cluster_centre` are saved; Python functions cannot be, and are left out
    with a warning.

    Returns
    -------
    pathlib.Path
    """
    _require(_NETCDF_ENGINE, "writing netCDF")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _to_tree(imp).to_netcdf(out, engine=_NETCDF_ENGINE)
    _log.info("wrote the imputation result to %s", out)
    return out


def to_zarr(imp: Imputation, path: StrPath) -> Path:
    """Write the whole result to a Zarr store (a folder; read it with :func:`load_imputation`).

    Returns
    -------
    pathlib.Path
    """
    _require("zarr", "writing Zarr")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # consolidated metadata is not part of Zarr format 3 (zarr warns); nothing needs it here
    _to_tree(imp).to_zarr(out, mode="w", consolidated=False)
    _log.info("wrote the imputation result to %s", out)
    return out


def _strings_as_objects(ds: xr.Dataset) -> xr.Dataset:
    """NumPy variable-width strings (as Zarr gives them back) as object arrays."""

    def objects(names: typing.Iterable[typing.Hashable]) -> dict[typing.Hashable, xr.Variable]:
        return {
            name: ds[name].variable.copy(data=ds[name].to_numpy().astype(object))
            for name in names
            if ds[name].dtype.kind == "T"
        }

    return ds.assign_coords(objects(ds.coords)).assign(objects(ds.data_vars))


def load_imputation(path: StrPath) -> Imputation:
    """Read a result written by ``imp.to_netcdf`` or ``imp.to_zarr``.

    Parameters
    ----------
    path : str or path-like
        A netCDF file, or a Zarr store (a folder).

    Returns
    -------
    Imputation
        Equal to the one saved: the same completed sets, posterior and specification
        (derived variables that were Python functions are not saved).

    Examples
    --------
    >>> imp.to_netcdf("brandsma.nc")  # doctest: +SKIP
    >>> imp = jm.load_imputation("brandsma.nc")  # doctest: +SKIP
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no imputation result at {str(source)!r}")
    if source.is_dir():
        _require("zarr", "reading Zarr")
        tree = xr.load_datatree(source, engine="zarr", consolidated=False)
    else:
        _require(_NETCDF_ENGINE, "reading netCDF")
        tree = xr.load_datatree(source, engine=_NETCDF_ENGINE)
    if DATA_GROUP not in tree.children:
        raise ValueError(
            f"{str(source)!r} holds no {DATA_GROUP!r} group, so it was not written by "
            "imp.to_netcdf or imp.to_zarr; it cannot be loaded as an Imputation"
        )
    meta = tree[DATA_GROUP].dataset
    version = int(meta.attrs.get("jmimpute_format", -1))
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{str(source)!r} is in jmimpute file format {version}; this version of jmimpute "
            f"reads format {FORMAT_VERSION}"
        )
    data = _dataset_to_data(meta)
    spec = spec_from_json(meta.attrs["spec"])
    derived: dict[str, ClusterStatistic | DeriveFunction] = {
        name: ClusterStatistic(**kw) for name, kw in json.loads(meta.attrs["derived"]).items()
    }
    del tree[DATA_GROUP]
    # Zarr lists groups alphabetically: restore the order they were written in
    nodes = {node.path: node for node in tree.subtree}
    tree = xr.DataTree.from_dict(
        {
            group: _strings_as_objects(nodes[group].to_dataset(inherit=False))
            for group in json.loads(meta.attrs["groups"])
        }
    )
    frame, level1, level2 = validate(data, spec)
    return Imputation(frame, spec, tree, derived, variables=(level1, level2))
