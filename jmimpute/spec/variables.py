"""What each target is: its kind, decided from its dtype and the user's declarations.

The kinds themselves (how each enters the model, how its values come back) are data in
:mod:`jmimpute.kinds`; this module decides which kind a column is and records its observed
categories and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jmimpute.kinds import KINDS, VariableKind
from jmimpute.kinds import kind as kind_entry
from jmimpute.kinds.categorical import category_key

MAX_CATEGORIES = 20


@dataclass(frozen=True)
class Variable:
    """One target of the imputation model.

    Attributes
    ----------
    name : str
    level : int
        1 (row level) or 2 (cluster level).
    kind : str
        The name of its kind in :data:`jmimpute.kinds.KINDS` (``"continuous"``,
        ``"binary"``, ``"nominal"``, ``"ordinal"``); :attr:`behaviour` is the entry.
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

    def __post_init__(self) -> None:
        kind_entry(self.kind)  # an unknown kind fails here, naming the known ones

    @property
    def behaviour(self) -> VariableKind:
        """The kind's registry entry: how the variable enters the model and comes back."""
        return KINDS[self.kind]

    @property
    def latent(self) -> bool:
        """Whether the variable enters through latent normals."""
        return self.behaviour.latent

    @property
    def n_dims(self) -> int:
        """Dimensions in the joint normal model."""
        return self.behaviour.n_dims(self.categories)

    @property
    def dim_names(self) -> tuple[str, ...]:
        """Names of the variable's dimensions."""
        return self.behaviour.dim_names(self.name, self.categories)

    def codes(self, column: pd.Series) -> np.ndarray:
        """Category codes ``0 .. K-1`` of a column, ``-1`` where missing."""
        return self.behaviour.codes(column, self.categories)

    def fill(self, column: pd.Series, rows: np.ndarray, values: np.ndarray) -> pd.Series:
        """``column`` with imputed ``values`` (data scale, or category codes) at ``rows``."""
        return self.behaviour.fill(column, rows, values, self.categories, self.dtype)


def observed_categories(column: pd.Series) -> list[Any]:
    """The observed categories of a column in model order, baseline first.

    A categorical dtype's order, False before True, else sorted.
    """
    observed = column.dropna()
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(observed.astype(object).map(category_key))
        return [c for c in column.cat.categories if category_key(c) in present]
    if pd.api.types.is_bool_dtype(column.dtype) or (
        column.dtype == object and observed.map(lambda v: isinstance(v, bool)).all()
    ):
        present = {bool(v) for v in observed}
        return [c for c in (False, True) if c in present]
    uniq = {category_key(v): v for v in observed.tolist()}
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
    cats = observed_categories(column)
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
