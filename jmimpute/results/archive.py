"""A whole result in one file (netCDF-4) or store (Zarr), and back.

The file is the result's DataTree (:mod:`jmimpute.results.tree`) as it is, with the
``observed_data`` group, and in the root's attributes the file format, the specification
and the derived variables as JSON. :func:`read_result` also reads files of format 1 (before
the DataTree followed ArviZ's groups), and names the format of a file it cannot read.
"""

from __future__ import annotations

import json
import logging
import typing
import warnings
from pathlib import Path
from typing import Literal

import pandas as pd
import xarray as xr

from jmimpute.analysis.derive import ClusterStatistic, DeriveFunction
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
    engine : {"netcdf", "zarr"}, default "netcdf"

    Returns
    -------
    pathlib.Path
    """
    require(_NETCDF_ENGINE if engine == "netcdf" else "zarr", f"writing {engine}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    full = _file_tree(tree, data, spec, derived)
    if engine == "netcdf":
        full.to_netcdf(out, engine=_NETCDF_ENGINE)
    else:
        # consolidated metadata is not part of Zarr format 3 (zarr warns); nothing needs it
        full.to_zarr(out, mode="w", consolidated=False)
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
        If the file is not a jmimpute result, or of a format this version cannot read.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no imputation result at {str(source)!r}")
    if source.is_dir():
        require("zarr", "reading Zarr")
        raw = xr.load_datatree(source, engine="zarr", consolidated=False)
    else:
        require(_NETCDF_ENGINE, "reading netCDF")
        raw = xr.load_datatree(source, engine=_NETCDF_ENGINE)
    if _V1_DATA in raw.children:
        groups, meta = _from_format_1(raw, str(source))
        tree_attrs = dict(raw.attrs)
    else:
        meta = dict(raw.attrs)
        version = int(meta.get("jmimpute_format", -1))
        if version == -1:
            raise ValueError(
                f"{str(source)!r} holds no jmimpute result (no 'jmimpute_format' attribute), "
                "so it was not written by imp.to_netcdf or imp.to_zarr"
            )
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{str(source)!r} is in jmimpute file format {version}; this version of "
                f"jmimpute reads formats 1 and {FORMAT_VERSION}: read it with the jmimpute "
                "that wrote it (or a newer one)"
            )
        groups = _groups(raw, json.loads(meta["groups"]))
        tree_attrs = {k: v for k, v in meta.items() if k not in _FILE_ATTRS}
    data = dataset_to_data(groups["observed_data"])
    spec = spec_from_json(meta["spec"])
    derived = {name: ClusterStatistic(**kw) for name, kw in json.loads(meta["derived"]).items()}
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(tree_attrs)
    return data, spec, tree, derived


__all__ = ["FORMAT_VERSION", "read_result", "write_result"]
