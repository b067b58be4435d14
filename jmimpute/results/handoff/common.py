"""What every hand-off shares: the completed sets chosen and renamed, categories as codes.

Mplus reads numbers only, and Stata and SPSS store categories as integers with value
labels, so the exporters share one rule for turning a categorical column into integer
codes; the same data then carry the same codes in every program (and a user comparing
an Mplus run with a Stata run compares like with like):

* ``False``/``True`` are 0 and 1;
* categories that are all whole numbers (brandsma's denomination 1..4) keep their values,
  so the code *is* the value;
* any other categories (strings, fractions) are numbered 1..K in the column's category
  order (a pandas Categorical's order, else sorted), which keeps an ordinal's order.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from jmimpute.kinds.categorical import category_key, is_missing

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")

CODE_LIMIT = 2**31 - 1
"""Whole-number categories beyond this keep no value codes (Stata's long is 32-bit)."""


@dataclass(frozen=True)
class Coding:
    """The integer codes of a categorical column and the categories they stand for.

    Attributes
    ----------
    column : str
        The column's name in the written files.
    labels : dict of int to str
        Code -> the category as text (value labels in Stata and SPSS, a comment in Mplus).
    ordered : bool
        Whether the categories are ordered (SPSS's measure level "ordinal").
    """

    column: str
    labels: dict[int, str]
    ordered: bool


@dataclass(frozen=True)
class Prepared:
    """The completed sets as an exporter writes them.

    Attributes
    ----------
    frames : list of pandas.DataFrame
        The incomplete data first when asked for (``include``), then sets 1..m; columns
        chosen and renamed, categorical columns as codes when asked for (``encode``).
    codings : dict of str to Coding
        By written column name; empty without ``encode``.
    cluster : str or None
        The written name of the cluster variable, None if it was left out.
    imputed : tuple of str
        The written names of the imputed variables among the columns.
    derived : tuple of str
        The written names of the derived variables among them (NaN in the incomplete
        data, computed on each completed set).
    sources : dict of str to str
        Written name -> the column's name in the data, for messages that say what to
        rename.
    """

    frames: list[pd.DataFrame]
    codings: dict[str, Coding]
    cluster: str | None
    imputed: tuple[str, ...]
    derived: tuple[str, ...]
    sources: dict[str, str]


def prepare(
    imp: Imputation,
    *,
    include: bool,
    encode: bool,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> Prepared:
    """The completed sets chosen, renamed and (with ``encode``) with categories as codes.

    Parameters
    ----------
    imp : Imputation
    include : bool
        Put the incomplete data first (Stata's m = 0, SPSS's ``Imputation_`` 0).
    encode : bool
        Replace categorical, boolean and text columns by integer codes (:class:`Coding`)
        and nullable numbers by float64 with NaN, which every writer understands.
    columns : sequence of str, optional
        The columns to write, in this order (default: all, derived ones last).
    rename : mapping, optional
        Old name -> name in the files, for names the program does not accept.

    Returns
    -------
    Prepared
    """
    frames = imp.complete("all", include=include)
    available = [str(c) for c in frames[0].columns]
    chosen = _chosen(columns, available)
    names = _renamed(rename, chosen)
    frames = [f.set_axis([str(c) for c in f.columns], axis=1)[chosen] for f in frames]
    targets = {v.name: v for v in imp.variables}
    codings: dict[str, Coding] = {}
    if encode:
        for old in chosen:
            coded = _encode([f[old] for f in frames], targets.get(old))
            if coded is None:
                continue
            values, labels, ordered = coded
            for frame, column in zip(frames, values, strict=True):
                frame[old] = column
            if labels:
                codings[names[old]] = Coding(names[old], labels, ordered)
    frames = [f.rename(columns=names) for f in frames]
    cluster = names.get(imp.spec.cluster)
    imputed = tuple(names[n] for n in chosen if n in targets)
    derived = tuple(names[n] for n in chosen if n in imp.derived)
    sources = {new: old for old, new in names.items()}
    return Prepared(frames, codings, cluster, imputed, derived, sources)


def _chosen(columns: Sequence[str] | None, available: list[str]) -> list[str]:
    if columns is None:
        return available
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise TypeError(
            f"`columns` must be a list of column names, e.g. {available[:3]}; got {columns!r}"
        )
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise ValueError(
            f"`columns` names {unknown}, which are not columns of the completed data; "
            f"the columns are {available}"
        )
    twice = sorted({c for c in columns if list(columns).count(c) > 1})
    if twice or not columns:
        raise ValueError(
            f"`columns` must name each column once and at least one; got {list(columns)!r}"
        )
    return list(columns)


def _renamed(rename: Mapping[str, str] | None, chosen: list[str]) -> dict[str, str]:
    names = {c: c for c in chosen}
    if rename is None:
        return names
    if not isinstance(rename, Mapping):
        raise TypeError(
            "`rename` must be a mapping of column names to new names, e.g. "
            f"{{'a.b': 'a_b'}}; got {type(rename).__name__} {rename!r}"
        )
    unknown = [k for k in rename if k not in names]
    if unknown:
        raise ValueError(
            f"`rename` names {unknown}, which are not among the columns written {chosen}"
        )
    bad = {k: v for k, v in rename.items() if not isinstance(v, str) or not v}
    if bad:
        raise TypeError(f"`rename` must map to non-empty strings; got {bad}")
    names |= dict(rename)
    clashes = set(duplicates(names.values()))
    if clashes:
        both = [old for old, new in names.items() if new in clashes]
        raise ValueError(
            f"`rename` {dict(rename)!r} gives the columns {both} the same name "
            f"{sorted(clashes)}; give each column its own name"
        )
    return names


def duplicates(names: Iterable[str], key: Callable[[str], str] = str) -> list[str]:
    """The names whose ``key`` is shared with another name, in order."""
    seen: dict[str, list[str]] = {}
    for name in names:
        seen.setdefault(key(name), []).append(name)
    return [n for group in seen.values() if len(group) > 1 for n in group]


# -- categories as codes -----------------------------------------------------------------
def _encode(
    columns: list[pd.Series], variable: Any
) -> tuple[list[pd.Series], dict[int, str], bool] | None:
    """Codes (float64, NaN where missing) and labels of one column over all frames.

    None leaves the column as it is: plain numbers, and dates (which Stata and SPSS store
    as dates; Mplus refuses them itself).
    """
    dtype = columns[0].dtype
    categorical = variable is not None and variable.kind != "continuous"
    if isinstance(dtype, pd.CategoricalDtype):
        categories = list(dtype.categories)
        ordered = bool(dtype.ordered)
    elif pd.api.types.is_bool_dtype(dtype):
        categories, ordered = [False, True], False
    elif pd.api.types.is_numeric_dtype(dtype):
        plain = [c.astype("float64") for c in columns]  # nullable Int64/Float64: NaN
        if not categorical:
            return None if _numpy_number(dtype) else (plain, {}, False)
        values = sorted({float(v) for c in plain for v in c.dropna()})
        if not _whole(values):  # fractional categories keep their values, unlabelled
            return plain, {}, False
        return plain, {int(v): _text(v) for v in values}, variable.kind == "ordinal"
    elif pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return None
    else:  # text, or objects such as True/False with missing values
        categories = _sorted_categories(columns, variable)
        ordered = variable is not None and variable.kind == "ordinal"
    codes = _codes(categories)
    lookup = {category_key(c): code for c, code in zip(categories, codes, strict=True)}
    coded = [_apply(c, lookup) for c in columns]
    return coded, {code: _text(c) for c, code in zip(categories, codes, strict=True)}, ordered


def _numpy_number(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"


def _whole(values: Sequence[Any]) -> bool:
    return all(
        isinstance(v, int | float | np.integer | np.floating)
        and not isinstance(v, bool | np.bool_)
        and float(v).is_integer()
        and abs(float(v)) <= CODE_LIMIT
        for v in values
    )


def _codes(categories: Sequence[Any]) -> list[int]:
    if categories and all(isinstance(c, bool | np.bool_) for c in categories):
        return [int(bool(c)) for c in categories]
    if _whole(categories):
        return [int(float(c)) for c in categories]
    return list(range(1, len(categories) + 1))


def _sorted_categories(columns: list[pd.Series], variable: Any) -> list[Any]:
    """The target's categories, then any other values (sorted, else in order of appearance)."""
    known = list(variable.categories) if variable is not None else []
    keys = {category_key(c) for c in known}
    extra: dict[Any, Any] = {}
    for column in columns:
        for value in column.tolist():
            if not is_missing(value) and category_key(value) not in keys:
                extra.setdefault(category_key(value), value)
    try:
        rest = [extra[k] for k in sorted(extra)]
    except TypeError:  # mixed types
        rest = list(extra.values())
    return known + rest


def _apply(column: pd.Series, lookup: dict[Any, int]) -> pd.Series:
    values = [np.nan if is_missing(v) else lookup[category_key(v)] for v in column.tolist()]
    return pd.Series(values, index=column.index, name=column.name, dtype="float64")


def _text(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


# -- names ---------------------------------------------------------------------------------
def suggest(name: str, limit: int | None = None, reserved: Iterable[str] = ()) -> str:
    """A name a program reads, suggested for one it does not.

    ASCII letters, digits and underscores, beginning with a letter, at most ``limit``
    characters, and none of ``reserved`` (compared without case).
    """
    out = "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_" for c in name)
    out = out if out[:1].isalpha() else "v" + out
    if out.upper() in {r.upper() for r in reserved}:
        out += "_v"
    return out[:limit]


def shown(name: str, sources: Mapping[str, str] | None) -> str:
    """``'name'``, or ``'name' (renamed from 'column')`` for a name given by ``rename``."""
    source = (sources or {}).get(name, name)
    return repr(name) if source == name else f"{name!r} (renamed from {source!r})"


def name_error(
    program: str,
    bad: Mapping[str, str],
    rule: str,
    sources: Mapping[str, str] | None = None,
    fix: Callable[[str], str] = suggest,
) -> ValueError:
    """A ValueError naming the columns a program refuses, its rule and a ``rename`` fix.

    ``bad`` maps each written name to why the program refuses it; ``sources`` maps written
    names to the data's (so that the suggested ``rename`` names columns of the data);
    ``fix`` suggests a name the program reads.
    """
    listed = ", ".join(f"{shown(name, sources)} ({why})" for name, why in bad.items())
    fixes = ", ".join(f"{(sources or {}).get(k, k)!r}: {fix(k)!r}" for k in bad)
    return ValueError(
        f"{program} cannot read the column name(s) {listed}: {rule}. Rename them in the "
        f"files with rename={{{fixes}}} (or leave them out with `columns`)"
    )


def refuse_names(
    program: str,
    columns: Sequence[str],
    why: Callable[[str], str | None],
    rule: str,
    sources: Mapping[str, str] | None = None,
    fix: Callable[[str], str] = suggest,
) -> None:
    """Raise :func:`name_error` for the ``columns`` that ``why`` refuses (a reason, or None)."""
    bad = {c: reason for c in columns if (reason := why(c)) is not None}
    if bad:
        raise name_error(program, bad, rule, sources, fix)


def clash_error(
    program: str, clashes: Sequence[str], why: str, sources: Mapping[str, str] | None = None
) -> ValueError:
    """A ValueError for names a program reads as one variable, with a ``rename`` fix."""
    listed = ", ".join(shown(name, sources) for name in clashes)
    fix = ", ".join(f"{(sources or {}).get(k, k)!r}: ..." for k in clashes)
    return ValueError(
        f"the column names {listed} are one variable to {program}, {why}; give them "
        f"distinct names with rename={{{fix}}}"
    )


def warn(message: str) -> None:
    """Log and warn (for what a user should see but that does not stop the export)."""
    _log.warning(message)
    warnings.warn(message, UserWarning, stacklevel=4)


def stacked(frames: list[pd.DataFrame], front: Callable[[int, pd.DataFrame], dict]) -> pd.DataFrame:
    """The frames one below the other, each headed by the columns ``front(k, frame)`` makes."""
    parts = []
    for k, frame in enumerate(frames):
        head = pd.DataFrame(front(k, frame), index=frame.index)
        parts.append(pd.concat([head, frame], axis=1))
    return pd.concat(parts, ignore_index=True)
