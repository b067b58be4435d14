"""Design columns computed from the row values, in NumPy or in the PyTensor graph.

Each :class:`~jmimpute.models.substantive.structure.Atom` kind is an entry of
:data:`ATOMS`; the same functions evaluate a column on NumPy arrays (the scaling constants
before sampling) and on PyTensor tensors (the model, where imputed values are
coordinates), since both spell products, powers and differences alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jmimpute.models.substantive.structure import Atom, Column


@dataclass(frozen=True)
class RowValues:
    """What the atoms read, one entry per row (level-2 values broadcast to their rows).

    Attributes
    ----------
    values : mapping of str to array
        Each variable's values on the data scale.
    means : mapping of str to array
        Each level-1 variable's cluster mean (latent or observed, as the structure says).
    dummies : mapping of (str, object) to array
        1.0 where a complete categorical column equals a category (:func:`dummies`).
    """

    values: Mapping[str, Any]
    means: Mapping[str, Any]
    dummies: Mapping[tuple[str, Any], Any]


def _value(atom: Atom, rows: RowValues) -> Any:
    v = rows.values[atom.name]
    return v if atom.power == 1 else v**atom.power


def _mean(atom: Atom, rows: RowValues) -> Any:
    return rows.means[atom.name]


def _cwc(atom: Atom, rows: RowValues) -> Any:
    return rows.values[atom.name] - rows.means[atom.name]


def _dummy(atom: Atom, rows: RowValues) -> Any:
    return rows.dummies[(atom.name, atom.level)]


def dummies(columns: tuple[Column, ...], data: pd.DataFrame) -> dict[tuple[str, Any], np.ndarray]:
    """The dummy of every category the columns' ``"dummy"`` atoms name."""
    return {
        (a.name, a.level): (data[a.name] == a.level).to_numpy(dtype=float)
        for c in columns
        for a in c.atoms
        if a.kind == "dummy"
    }


ATOMS: dict[str, Callable[[Atom, RowValues], Any]] = {
    "value": _value,
    "mean": _mean,
    "cwc": _cwc,
    "dummy": _dummy,
}
"""How each atom kind is computed from the rows."""


def evaluate(column: Column, rows: RowValues) -> Any:
    """The column's value on every row: the product of its atoms."""
    out = None
    for atom in column.atoms:
        v = ATOMS[atom.kind](atom, rows)
        out = v if out is None else out * v
    return out


def observed_means(values: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Each row's cluster mean of ``values`` over the cluster's non-missing rows."""
    ok = ~np.isnan(values)
    sums = np.bincount(cluster[ok], weights=values[ok], minlength=n_clusters)
    counts = np.bincount(cluster[ok], minlength=n_clusters)
    means = np.divide(sums, counts, out=np.full(n_clusters, np.nan), where=counts > 0)
    return means[cluster]


@dataclass(frozen=True)
class Scaling:
    """``(column - center) / scale``: the columns the sampler sees, near mean 0 and sd 1.

    A reparameterisation only (with an intercept in the same part of the model), chosen so
    that NUTS meets coefficients of similar scale and little correlation.
    """

    center: np.ndarray
    scale: np.ndarray


def scaling(columns: tuple[Column, ...], rows: RowValues, centre: bool) -> Scaling:
    """The scaling of ``columns`` from rows whose missing values are filled in roughly."""
    if not columns:
        return Scaling(np.zeros(0), np.ones(0))
    stack = np.column_stack([np.asarray(evaluate(c, rows), dtype=float) for c in columns])
    center = np.nanmean(stack, axis=0) if centre else np.zeros(stack.shape[1])
    scale = np.nanstd(stack - center, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
    return Scaling(np.nan_to_num(center), scale)


def dependent_column(columns: tuple[Column, ...], rows: RowValues, intercept: bool) -> int | None:
    """The first column that is a linear combination of the intercept and those before it.

    Such a column's coefficient is identified by its prior alone (``x``, ``cwc(x)`` and
    ``mean(x)`` together, or a constant column). Judged on rows with their missing values
    filled in roughly, which leaves exact dependence exact.
    """
    stack = [np.ones(_rows_of(rows))] if intercept else []
    for k, column in enumerate(columns):
        candidate = np.column_stack([*stack, np.asarray(evaluate(column, rows), dtype=float)])
        scaled = candidate / np.maximum(np.abs(candidate).max(axis=0), 1e-300)
        if np.linalg.matrix_rank(scaled, tol=1e-9 * scaled.shape[0]) < candidate.shape[1]:
            return k
        stack.append(candidate[:, -1])
    return None


def _rows_of(rows: RowValues) -> int:
    first = next(iter(rows.values.values()), None)
    if first is None:
        first = next(iter(rows.dummies.values()))
    return int(np.asarray(first).shape[0])
