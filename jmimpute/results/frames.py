"""The incomplete data as an xarray Dataset and back, every column with its pandas dtype.

The result's ``observed_data`` group holds the data as given (categories and their order,
booleans, integers, nullable dtypes, strings and the index), so that a result read from a
file has the same data it was imputed from.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr


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


def data_to_dataset(data: pd.DataFrame) -> xr.Dataset:
    """The data as a Dataset that netCDF and Zarr hold, :func:`dataset_to_data` reads back.

    Raises
    ------
    ValueError
        For what cannot be stored (column names that are not non-empty strings without
        ``/``, a MultiIndex, missing index labels, values of mixed types), saying how to fix
        the data.
    """
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


def dataset_to_data(ds: xr.Dataset) -> pd.DataFrame:
    """The DataFrame stored by :func:`data_to_dataset`."""
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
