"""Check the user's data against the specification, at the boundary, with clear errors.

Every error names the argument, the value that was received, what was expected, and a
fix. Nothing here modifies the data.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from jmimpute._text import SHOW, listed_rows
from jmimpute.spec.model import ImputationSpec
from jmimpute.spec.variables import Variable, resolve_variable


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def check_data_frame(data: object) -> pd.DataFrame:
    """Require a non-empty DataFrame with unique column names."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"`data` must be a pandas DataFrame, got {type(data).__name__}; "
            "wrap it with pd.DataFrame(...)"
        )
    if data.shape[0] == 0:
        raise ValueError("`data` has no rows")
    dupes = data.columns[data.columns.duplicated()].unique().tolist()
    if dupes:
        raise ValueError(
            f"`data` has duplicated column names {dupes}; rename them so that each is unique"
        )
    return data


def _check_columns(data: pd.DataFrame, spec: ImputationSpec) -> None:
    names = list(spec.level1.variables) + list(spec.level2.variables if spec.level2 else ())
    for name in dict.fromkeys(names):
        if name not in data.columns:
            close = difflib.get_close_matches(
                str(name), [str(c) for c in data.columns], n=3, cutoff=0.5
            )
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(
                f"`formula` names {name!r}, which is not a column of `data`.{hint} "
                f"Columns are: {', '.join(map(repr, data.columns[:30]))}"
                + (" ..." if data.shape[1] > 30 else "")
            )
    f = spec.level1
    used = {*f.targets, *f.fixed, *f.random, *(spec.level2.variables if spec.level2 else ())}
    if f.cluster in used:
        raise ValueError(
            f"`formula` uses the cluster variable {f.cluster!r} as a target or predictor; "
            "it may only appear after '|' in the random term"
        )
    if spec.level2 is not None:
        clash = set(spec.level2.targets) & {*f.fixed, *f.random}
        if clash:
            raise ValueError(
                f"{sorted(clash)} are imputed at level 2 and cannot be fully observed level-1 "
                "covariates at the same time; leave them out of the level-1 right-hand side"
            )


def _check_cluster(data: pd.DataFrame, cluster: str) -> None:
    col = data[cluster]
    missing = col.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"cluster variable {cluster!r} has {int(missing.sum())} missing values (rows "
            f"{listed_rows(data.index, missing)}); every row needs a cluster: fill them in or drop "
            "those rows"
        )
    n_clusters = col.nunique()
    if n_clusters < 2:
        raise ValueError(
            f"cluster variable {cluster!r} has {n_clusters} distinct value; a multilevel "
            "imputation model needs at least 2 clusters"
        )


def _check_targets(
    data: pd.DataFrame, spec: ImputationSpec, names: tuple[str, ...], level: int
) -> tuple[Variable, ...]:
    out = []
    for name in names:
        col = data[name]
        var = resolve_variable(col, name, level, spec.categorical, spec.ordinal)
        if col.isna().all():
            raise ValueError(
                f"target {name!r} is missing in every row; there is nothing to learn its "
                "distribution from: leave it out of the formula"
            )
        problem = var.behaviour.check(col, name)
        if problem is not None:
            raise ValueError(problem)
        out.append(var)
    return tuple(out)


def _check_level2_constant(data: pd.DataFrame, spec: ImputationSpec) -> None:
    """Level-2 targets and covariates must not vary within a cluster."""
    assert spec.level2 is not None
    cluster = data[spec.cluster]
    for name in spec.level2.variables:
        distinct = data[name].groupby(cluster, sort=False, observed=True).nunique(dropna=True)
        varying = distinct[distinct > 1]
        if len(varying):
            shown = ", ".join(repr(c) for c in varying.index[:SHOW])
            more = len(varying) - min(len(varying), SHOW)
            raise ValueError(
                f"level-2 variable {name!r} varies within clusters of {spec.cluster!r} "
                f"(clusters {shown}{f' and {more} more' if more else ''}); a level-2 "
                "variable takes one value per cluster: fix the data or model it at level 1"
            )


def _check_covariates(data: pd.DataFrame, spec: ImputationSpec) -> None:
    f = spec.level1
    level2_cov = spec.level2.fixed if spec.level2 else ()
    for name in dict.fromkeys([*f.fixed, *f.random, *level2_cov]):
        col = data[name]
        missing = col.isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"covariate {name!r} on the right of `formula` has {int(missing.sum())} missing "
                f"values (rows {listed_rows(data.index, missing)}); covariates must be fully "
                "observed. "
                f"Impute it too by moving it left of '~' (e.g. '{' + '.join(f.targets)} + "
                f"{name} ~ ...'), or drop those rows"
            )
        if name in f.random and _is_categorical(col):
            raise TypeError(
                f"random-slope variable {name!r} has dtype {col.dtype}; random slopes need a "
                "numeric variable"
            )
        if not _is_categorical(col):
            values = col.to_numpy(dtype="float64")
            if not np.isfinite(values).all():
                raise ValueError(
                    f"covariate {name!r} has infinite values (rows "
                    f"{listed_rows(data.index, ~np.isfinite(values))}); fix or drop them"
                )
        if col.nunique() < 2:
            raise ValueError(
                f"covariate {name!r} is constant; it cannot be estimated next to the "
                "intercept: leave it out (write '1' in the formula for an intercept)"
            )


def validate(
    data: object, spec: ImputationSpec
) -> tuple[pd.DataFrame, tuple[Variable, ...], tuple[Variable, ...]]:
    """Check ``data`` against ``spec`` and decide each target's kind.

    Parameters
    ----------
    data : object
        What the user passed as ``data``.
    spec : ImputationSpec

    Returns
    -------
    frame : pandas.DataFrame
        The same object, now known to be a valid DataFrame for ``spec``.
    level1, level2 : tuple of Variable
        The level-1 and level-2 targets.
    """
    frame = check_data_frame(data)
    _check_columns(frame, spec)
    _check_cluster(frame, spec.cluster)
    level1 = _check_targets(frame, spec, spec.targets, 1)
    level2 = _check_targets(frame, spec, spec.level2_targets, 2)
    _check_covariates(frame, spec)
    if spec.level2 is not None:
        _check_level2_constant(frame, spec)
    return frame, level1, level2
