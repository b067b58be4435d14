"""What the categorical kinds share: category codes and valid levels in the column's dtype.

Categorical targets enter the joint model through latent normals (jomo's maximum-indicant
form) whose scales are fixed at 1 for identification; imputed values are category codes,
restored to the column's own levels and dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from jmimpute.kinds.base import VariableKind


def category_key(value: Any) -> Any:
    """A hashable key under which 1, 1.0 and np.int64(1) are the same category."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return value


def is_missing(value: Any) -> bool:
    """Whether a single value is missing (NaN, None, pd.NA)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def restore(codes: np.ndarray, categories: tuple[Any, ...], dtype: Any) -> pd.Series:
    """Category values for codes, in the column's original dtype where it can hold them."""
    cats = np.asarray(categories, dtype=object)
    values = cats[codes]
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical(values, dtype=dtype))
    if pd.api.types.is_bool_dtype(dtype):
        return pd.Series(values.astype(bool), dtype=dtype)  # keeps nullable 'boolean'
    if dtype is not None and pd.api.types.is_numeric_dtype(dtype):
        kind = np.dtype("float64") if pd.api.types.is_float_dtype(dtype) else None
        series = pd.Series(values)
        return series.astype(kind or dtype)
    return pd.Series(values, dtype=dtype)


class Categorical(VariableKind):
    """Base of the kinds whose values are categories of latent normals."""

    latent = True
    covariance = "unit"

    def to_data(self, values: np.ndarray, center: float, scale: float) -> np.ndarray:
        """Codes are already the data's values (as positions in the categories)."""
        return values

    def codes(self, column: pd.Series, categories: tuple[Any, ...]) -> np.ndarray:
        """Category codes ``0 .. K-1`` of a column, ``-1`` where missing."""
        values = column.to_numpy(dtype=object)
        lookup = {category_key(c): i for i, c in enumerate(categories)}
        out = np.full(len(values), -1, dtype=np.int64)
        for i, v in enumerate(values):
            if not is_missing(v):
                out[i] = lookup[category_key(v)]
        return out

    def fill(
        self,
        column: pd.Series,
        rows: np.ndarray,
        values: np.ndarray,
        categories: tuple[Any, ...],
        dtype: Any,
    ) -> pd.Series:
        """The column with the imputed codes' levels at ``rows``, in its own dtype."""
        codes = self.codes(column, categories)
        codes[rows] = values.astype(np.int64)
        if (codes < 0).any():
            raise RuntimeError(
                f"internal error: {column.name!r} still has missing values after filling"
            )
        restored = restore(codes, categories, dtype)
        restored.index = column.index
        restored.name = column.name
        return restored
