"""A whole result in one file (netCDF-4) or store (Zarr), and back.

The file is the result's DataTree (:mod:`jmimpute.results.tree`) as it is, with the
``observed_data`` group, and in the root's attributes the file format, the specification
and the derived variables as JSON. :func:`read_result` also reads files of format 1 (before
the DataTree followed ArviZ's groups), and names the format of a file it cannot read.
"""

from __future__ import annotations

import glob
import json
import logging
import re
import typing
import warnings
from pathlib import Path
from typing import Literal

import pandas as pd
import xarray as xr

from jmimpute._version import __version__
from jmimpute.analysis.derive import ClusterStatistic, DeriveFunction
from jmimpute.atomic import TEMPORARY_PREFIX, replacing
from jmimpute.models.protocol import ParameterGroup
from jmimpute.results.frames import data_to_dataset, dataset_to_data
from jmimpute.spec.model import ImputationSpec
from jmimpute.spec.serial import spec_from_json, spec_to_json, to_plain
from jmimpute.tables import StrPath, require

_log = logging.getLogger("jmimpute")

FORMAT_VERSION = 2
"""The file format written: 2 has ArviZ's groups (``observed_data``) and parameter groups."""
_NETCDF_ENGINE: Literal["h5netcdf"] = "h5netcdf"
_V1_DATA = "incomplete_data"
_FILE_ATTRS = ("jmimpute_format", "spec", "derived", "groups")
"""Attributes of the file, not of the result's tree."""


def _derived_to_json(derived: dict[str, ClusterStatistic | DeriveFunction]) -> str:
    kept, dropped = {}, []
    for name, how in derived.items():
        if isinstance(how, ClusterStatistic):
            kept[name] = to_plain(how)
        else:
            dropped.append(name)
    if dropped:
        warnings.warn(
            f"the derived variables {dropped} are Python functions, which cannot be saved; "
            "they are left out of the file: attach them again after loading with "
            "imp.with_columns(...), or define them with jm.cluster_mean/jm.cluster_centre",
            UserWarning,
            stacklevel=5,
        )
    return json.dumps(kept)


def _file_tree(
    tree: xr.DataTree,
    data: pd.DataFrame,
    spec: ImputationSpec,
    derived: dict[str, ClusterStatistic | DeriveFunction],
) -> xr.DataTree:
    out = tree.copy()
    if "observed_data" not in out.children:  # the data could not be encoded when imputed:
        out["observed_data"] = xr.DataTree(data_to_dataset(data))  # raises why, with the fix
    out.attrs.update(
        {
            "jmimpute_format": FORMAT_VERSION,
            "spec": spec_to_json(spec),
            "derived": _derived_to_json(derived),
            "groups": json.dumps([node.name for node in out.children.values()]),
        }
    )
    return out


def write_result(
    tree: xr.DataTree,
    data: pd.DataFrame,
    spec: ImputationSpec,
    derived: dict[str, ClusterStatistic | DeriveFunction],
    path: StrPath,
    *,
    engine: str = "netcdf",
) -> Path:
    """Write a result to a netCDF-4 file or a Zarr store.

    Parameters
    ----------
    tree : xarray.DataTree
        The result's tree (:mod:`jmimpute.results.tree`).
    data : pandas.DataFrame
        The incomplete data, stored as ``observed_data`` if the tree has none.
    spec : ImputationSpec
    derived : dict
        Derived variables; those that are Python functions are left out with a warning.
    path : str or path-like
        Written whole or not at all (:func:`jmimpute.atomic.replacing`): an interrupted
        write leaves the file or store that was there before. A folder that is not a Zarr
        store is not replaced, nor a folder by a file or a file by a store.
    engine : {"netcdf", "zarr"}, default "netcdf"

    Returns
    -------
    pathlib.Path
    """
    require(_NETCDF_ENGINE if engine == "netcdf" else "zarr", f"writing {engine}")
    out = Path(path)
    if engine == "zarr" and out.is_dir() and not _is_zarr(out):
        # Zarr's own mode="w" would have emptied it: a mistyped name must not cost a folder
        raise IsADirectoryError(
            f"{str(out)!r} is a folder but not a Zarr store; writing the result there would "
            "delete everything in it, so it was left as it was: give a new name (e.g. ending "
            "in .zarr) or the path of a Zarr store to replace"
        )
    if engine == "netcdf" and out.is_dir():  # refused before the write, not after it
        raise IsADirectoryError(
            f"{str(out)!r} is a folder: writing the result's file there would delete the "
            "folder and all it holds, so it was left as it was; give the file's name (e.g. "
            "ending in .nc)"
        )
    full = _file_tree(tree, data, spec, derived)
    # written beside `out` and renamed into place when whole: a crash, a full disk or
    # Ctrl-C leaves the previous result under the name, never half a file (or store)
    with replacing(out) as tmp:
        if engine == "netcdf":
            full.to_netcdf(tmp, engine=_NETCDF_ENGINE)
        else:
            # consolidated metadata is not part of Zarr format 3 (zarr warns); nothing needs it
            full.to_zarr(tmp, mode="w", consolidated=False)
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


def _groups(raw: xr.DataTree, order: list[str]) -> dict[str, xr.Dataset]:
    """The child groups in the order they were written (Zarr lists them alphabetically).

    ``order`` names them, or gives their paths (format 1, whose list starts with the root).
    """
    nodes = {node.path: node for node in raw.subtree}
    names = [name.lstrip("/") for name in order if name.lstrip("/")]
    return {
        name: _strings_as_objects(nodes[f"/{name}"].to_dataset(inherit=False)) for name in names
    }


def _from_format_1(raw: xr.DataTree, source: str) -> tuple[dict[str, xr.Dataset], dict]:
    """Groups and metadata of a format-1 file.

    Format 1 kept the data in a group ``incomplete_data`` and recorded no parameter
    groups: the model that made the file gives them.
    """
    from jmimpute.models import model_for

    meta = raw[_V1_DATA].dataset
    groups = _groups(raw, json.loads(meta.attrs["groups"]))
    model = model_for(spec_from_json(meta.attrs["spec"]).method)
    posterior = groups["posterior"]
    for name in posterior.data_vars:
        group = model.parameter_group(str(name)) or ParameterGroup(str(name))
        posterior[name].attrs |= group.attrs()
    data = _strings_as_objects(meta)
    data.attrs = {k: v for k, v in meta.attrs.items() if k not in _FILE_ATTRS}
    ordered = {g: groups[g] for g in groups if g not in ("imputations", _V1_DATA)}
    ordered |= {"observed_data": data, "imputations": groups["imputations"]}
    _log.info("read %s, a result in file format 1", source)
    return ordered, dict(meta.attrs)


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
"""The first bytes of an HDF5 file (netCDF-4 is HDF5), at offset 0, 512, 1024, 2048, ..."""
_READS = (
    "jm.load_imputation reads the files written by imp.to_netcdf and the Zarr stores "
    "written by imp.to_zarr"
)
_WRITE_AGAIN = "write the result again (imp.to_netcdf or imp.to_zarr) or copy it again"


def _missing(source: Path) -> str:
    """Why nothing is at ``source``, naming an interrupted write of it if one is beside it."""
    message = f"no imputation result at {str(source)!r}"
    parent = source.parent if source.parent.is_dir() else None
    pattern = f"{TEMPORARY_PREFIX}*-{glob.escape(source.name)}"
    partial = sorted(parent.glob(pattern)) if parent else []
    if partial:
        message += (
            f"; beside it is {partial[-1].name!r}, a write of it that was stopped before it "
            f"finished, or is still going on (unfinished, it is not a result): {_WRITE_AGAIN}"
        )
    return message


def _check_netcdf_header(source: Path) -> None:
    """Refuse, saying what the file is, a file that cannot be netCDF-4.

    h5py's own errors ("file signature not found") do not say that a CSV was given.
    """
    name = str(source)
    size = source.stat().st_size
    if size == 0:
        raise ValueError(
            f"{name!r} is empty (0 bytes), so it holds no result: it was created but never "
            f"written (a write or copy stopped at its start); {_WRITE_AGAIN}"
        )
    with open(source, "rb") as handle:
        head = handle.read(64)
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:  # HDF5 allows a user block before it
            handle.seek(offset)
            if handle.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return
            offset = 512 if offset == 0 else 2 * offset
    if head.startswith(b"CDF"):
        raise ValueError(
            f"{name!r} is a netCDF-3 (classic) file, not a netCDF-4 file written by "
            f"jmimpute; {_READS}"
        )
    start = head.splitlines()[0][:24].decode("utf-8", errors="replace") if head.strip() else ""
    raise ValueError(
        f"{name!r} is not a netCDF-4/HDF5 file (it starts with {start!r}); {_READS}. "
        "Completed data sets exported as CSV or Parquet (imp.to_long, imp.to_sets) are read "
        "with pandas (pd.read_csv, pd.read_parquet); pool analyses of them with jm.pool"
    )


def _load(source: Path, engine: str, what: str, **kwargs: object) -> xr.DataTree:
    """Read the whole file or store, turning the libraries' errors into one that says why."""
    try:
        return xr.load_datatree(source, engine=engine, **kwargs)
    except PermissionError:
        raise  # names the file, and is not damage
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        name = str(source)
        truncated = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(err))
        if truncated:
            has, full = (int(n) for n in truncated.groups())
            raise ValueError(
                f"{name!r} is incomplete: it has {has:,} of the {full:,} bytes its header "
                "gives, so the write or copy that made it was cut short (a crash, a full disk "
                f"or a stopped program); {_WRITE_AGAIN}"
            ) from err
        raise ValueError(
            f"{name!r} could not be read as {what} ({type(err).__name__}: {err}); it is "
            f"damaged or incomplete: {_WRITE_AGAIN}"
        ) from err


def _is_zarr(folder: Path) -> bool:
    """Whether ``folder`` is a Zarr store (format 3 or 2) by its root metadata."""
    return any((folder / marker).is_file() for marker in ("zarr.json", ".zgroup"))


def _open(source: Path) -> xr.DataTree:
    """The raw tree of the file or store at ``source``, or an error saying what it is."""
    name = str(source)
    if not source.exists():
        raise FileNotFoundError(_missing(source))
    if source.is_dir():
        require("zarr", "reading Zarr")
        if not _is_zarr(source):
            raise ValueError(
                f"{name!r} is a folder but not a Zarr store (it has no zarr.json or .zgroup); "
                f"{_READS}: give the path of one of those"
            )
        return _load(source, "zarr", "a Zarr store", consolidated=False)
    require(_NETCDF_ENGINE, "reading netCDF")
    _check_netcdf_header(source)
    return _load(source, _NETCDF_ENGINE, "a netCDF-4 file")


def _format_version(meta: dict, name: str) -> int:
    """The file format ``meta`` records: 2, or an error that says what to do."""
    if "jmimpute_format" not in meta:
        raise ValueError(
            f"{name!r} holds no jmimpute result (no 'jmimpute_format' attribute), so it was "
            f"not written by imp.to_netcdf or imp.to_zarr; {_READS}"
        )
    try:
        version = int(meta["jmimpute_format"])
    except (TypeError, ValueError):
        raise ValueError(
            f"{name!r} has the attribute jmimpute_format={meta['jmimpute_format']!r}, not a "
            f"file format number, so it was not written by imp.to_netcdf or imp.to_zarr; "
            f"{_READS}"
        ) from None
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{name!r} was written by a newer jmimpute, in jmimpute file format {version}; "
            f"this version of jmimpute reads formats 1 to {FORMAT_VERSION} (it is jmimpute "
            f"{__version__}): upgrade jmimpute (`pip install --upgrade jmimpute`) to read it"
        )
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{name!r} is in jmimpute file format {version}; this version of jmimpute reads "
            f"formats 1 and {FORMAT_VERSION}, and no jmimpute wrote format {version}: the "
            "file was not written by imp.to_netcdf or imp.to_zarr"
        )
    return version


def read_result(
    path: StrPath,
) -> tuple[pd.DataFrame, ImputationSpec, xr.DataTree, dict[str, ClusterStatistic]]:
    """The data, specification, DataTree and derived variables of a result file.

    Parameters
    ----------
    path : str or path-like
        A netCDF file or a Zarr store written by :func:`write_result` (or format 1).

    Returns
    -------
    data : pandas.DataFrame
    spec : ImputationSpec
    tree : xarray.DataTree
    derived : dict of str to ClusterStatistic

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``.
    ValueError
        If the file is not a jmimpute result (a CSV, an empty or truncated file, a folder
        that is not a Zarr store, another program's netCDF), or of a format this version
        cannot read (written by a newer jmimpute). The message names the file, what it
        is, and what to do.
    """
    source = Path(path)
    name = str(source)
    raw = _open(source)
    try:
        if _V1_DATA in raw.children:
            groups, meta = _from_format_1(raw, name)
            tree_attrs = dict(raw.attrs)
        else:
            meta = dict(raw.attrs)
            _format_version(meta, name)
            groups = _groups(raw, json.loads(meta["groups"]))
            tree_attrs = {k: v for k, v in meta.items() if k not in _FILE_ATTRS}
        data = dataset_to_data(groups["observed_data"])
        spec = spec_from_json(meta["spec"])
        derived = {key: ClusterStatistic(**kw) for key, kw in json.loads(meta["derived"]).items()}
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        # a file that says it is a result but lacks a part of one (edited, or written by
        # another program): the libraries' KeyError would name only the part
        what = (
            f"its part {err.args[0]!r} is missing"
            if isinstance(err, KeyError)
            else f"a part of it cannot be read ({type(err).__name__}: {err})"
        )
        raise ValueError(
            f"{name!r} is marked as a jmimpute result but {what}: it was changed after "
            f"imp.to_netcdf or imp.to_zarr wrote it; {_WRITE_AGAIN}"
        ) from err
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(tree_attrs)
    return data, spec, tree, derived


__all__ = ["FORMAT_VERSION", "read_result", "write_result"]
