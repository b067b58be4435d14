"""What each target is: continuous, binary, nominal or ordinal, and how it maps to latent dims.

Categorical targets enter the joint model through latent normals (jomo's maximum-indicant
form): a binary or ordinal variable has one latent dimension, a nominal variable with K
categories has K - 1, one per non-baseline category (the baseline, the first category, is
the one where all are below 0). Their scales are fixed at 1 for identification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("continuous", "binary", "nominal", "ordinal")
MAX_CATEGORIES = 20


@dataclass(frozen=True)
class Variable:
    """One target of the imputation model.

    Attributes
    ----------
    name : str
    level : int
        1 (row level) or 2 (cluster level).
    kind : {"continuous", "binary", "nominal", "ordinal"}
    categories : tuple
        Category values in model order (baseline first); empty for continuous.
    dtype : object
        The column's original dtype, restored in completed data sets.
    """

    name: str
    level: int
    kind: str
    categories: tuple[Any, ...] = ()
    dtype: Any = None

    @property
    def latent(self) -> bool:
        """Whether the variable enters through latent normals."""
        return self.kind != "continuous"

    @property
    def n_dims(self) -> int:
        """Dimensions in the joint normal model."""
        return len(self.categories) - 1 if self.kind == "nominal" else 1

    @property
    def dim_names(self) -> tuple[str, ...]:
        """Names of the variable's dimensions."""
        if self.kind == "nominal":
            return tuple(f"{self.name}[{c}]" for c in self.categories[1:])
        return (self.name,)

    def codes(self, column: pd.Series) -> np.ndarray:
        """Category codes ``0 .. K-1`` of a column, ``-1`` where missing."""
        values = column.to_numpy(dtype=object)
        lookup = {_key(c): i for i, c in enumerate(self.categories)}
        out = np.full(len(values), -1, dtype=np.int64)
        for i, v in enumerate(values):
            if not _is_missing(v):
                out[i] = lookup[_key(v)]
        return out

    def restore(self, codes: np.ndarray) -> pd.Series:
        """Category values for codes, in the column's original dtype where it can hold them."""
        cats = np.asarray(self.categories, dtype=object)
        values = cats[codes]
        if isinstance(self.dtype, pd.CategoricalDtype):
            return pd.Series(pd.Categorical(values, dtype=self.dtype))
        if pd.api.types.is_bool_dtype(self.dtype):
            return pd.Series(values.astype(bool), dtype=self.dtype)  # keeps nullable 'boolean'
        if self.dtype is not None and pd.api.types.is_numeric_dtype(self.dtype):
            kind = np.dtype("float64") if pd.api.types.is_float_dtype(self.dtype) else None
            series = pd.Series(values)
            return series.astype(kind or self.dtype)
        return pd.Series(values, dtype=self.dtype)


def _key(value: Any) -> Any:
    """A hashable key under which 1, 1.0 and np.int64(1) are the same category."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return value


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _observed_categories(column: pd.Series) -> list[Any]:
    observed = column.dropna()
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(observed.astype(object).map(_key))
        return [c for c in column.cat.categories if _key(c) in present]
    if pd.api.types.is_bool_dtype(column.dtype) or (
        column.dtype == object and observed.map(lambda v: isinstance(v, bool)).all()
    ):
        present = {bool(v) for v in observed}
        return [c for c in (False, True) if c in present]
    uniq = {_key(v): v for v in observed.tolist()}
    try:
        return [uniq[k] for k in sorted(uniq)]
    except TypeError:  # mixed types: keep order of first appearance
        return list(uniq.values())


def _declare_hint(name: str) -> str:
    return (
        f"declare how to model it: categorical=[{name!r}] for unordered categories, "
        f"ordinal=[{name!r}] for ordered ones, or convert it to a pandas 'category' dtype"
    )


def resolve_variable(
    column: pd.Series, name: str, level: int, categorical: tuple[str, ...], ordinal: tuple[str, ...]
) -> Variable:
    """Decide a target's kind from its dtype and the declarations.

    Raises
    ------
    TypeError
        A string column that was not declared, naming how to declare it.
    ValueError
        A categorical variable with fewer than 2 or more than ``MAX_CATEGORIES`` observed
        categories.
    """
    dtype = column.dtype
    is_cat_dtype = isinstance(dtype, pd.CategoricalDtype)
    is_bool = pd.api.types.is_bool_dtype(dtype)
    numeric = pd.api.types.is_numeric_dtype(dtype) and not is_bool
    ordered = bool(getattr(dtype, "ordered", False))
    if name in ordinal or (is_cat_dtype and ordered and name not in categorical):
        kind = "ordinal"
    elif name in categorical or is_cat_dtype or is_bool:
        kind = "categorical"
    elif numeric:
        return Variable(name=name, level=level, kind="continuous", dtype=dtype)
    elif column.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all():
        kind = "categorical"
    else:
        raise TypeError(
            f"target {name!r} holds non-numeric values (dtype {dtype}); {_declare_hint(name)}"
        )
    cats = _observed_categories(column)
    if len(cats) < 2:
        shown = cats[0] if cats else "nothing"
        raise ValueError(
            f"categorical target {name!r} has only one observed category ({shown!r}); a "
            "constant cannot be imputed: leave it out of the formula"
        )
    if len(cats) > MAX_CATEGORIES:
        raise ValueError(
            f"categorical target {name!r} has {len(cats)} observed categories (more than "
            f"{MAX_CATEGORIES}); if it is really continuous, do not declare it categorical"
        )
    if kind == "categorical":
        kind = "binary" if len(cats) == 2 else "nominal"
    return Variable(name=name, level=level, kind=kind, categories=tuple(cats), dtype=dtype)
