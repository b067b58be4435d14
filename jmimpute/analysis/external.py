"""Completed data sets made elsewhere: mice, Stata, SPSS, Blimp, mitml, Amelia, jomo.

:func:`jmimpute.analyze` fits and pools any m completed data sets, not only jmimpute's own.
Other programs hand them over in one of two layouts, and :func:`completed_sets` turns
either into a list of DataFrames:

* **stacked**: one table, the sets one below the other, with a column numbering them.
  The layout is recognised by that column's name (:data:`STACKED_LAYOUTS`): mice's
  ``.imp`` (and jmimpute's own long export), Stata's ``mi`` flong ``_mi_m``, SPSS's
  ``Imputation_`` (also mitml's ``write.mitmlSAV``) and jomo's ``Imputation``. Imputation
  0, where a layout has it, is the incomplete data and is dropped, and so are the
  layout's bookkeeping columns (mice's ``.id``, Stata's ``_mi_id`` and ``_mi_miss``).
  Blimp's ``SAVE: stacked = file.dat`` writes the imputation number as the *first*
  column and no header: pass the variable names, ``names=[...]``. Any other numbering
  column is named with ``imputation_column=``. Files are read by their suffix: ``.csv``
  and ``.parquet`` (:func:`jmimpute.tables.read_table`), Stata's ``.dta``, SPSS's
  ``.sav`` (with pyreadstat), and with ``names`` any headerless text file.
* **a list** of completed DataFrames (mitml's ``mitml.list``, Amelia's ``imputations``,
  jomo's ``jomo1`` output split by imputation), or of files, one per set (Amelia's
  ``write.amelia``, jmimpute's ``to_sets``).

Every set must have the same rows and the same columns, and there must be at least two;
anything else is refused with the argument, what was found and the fix.
"""

from __future__ import annotations

import difflib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from jmimpute.analysis.derive import ClusterStatistic, DeriveFunction, apply_derived, check_derived
from jmimpute.spec.exports import EXPORT_TARGETS
from jmimpute.tables import TABLE_FORMATS, read_table, require

_log = logging.getLogger("jmimpute")

STACKED_LAYOUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        target.columns[0]: (f"{target.program}, and jmimpute's export", target.columns[1:])
        for target in sorted(EXPORT_TARGETS.values(), key=lambda t: t.program)
        if target.columns
    },
    # written by the programs themselves, not by jmimpute
    "_mi_m": ("Stata's mi flong, once imported", ("_mi_id", "_mi_miss")),
    "Imputation": ("jomo", ()),
}
"""Known imputation-number columns: the program that writes them, and its bookkeeping
columns (dropped). Imputation 0 is the incomplete data in each and is dropped too. The
layouts jmimpute exports (:data:`jmimpute.spec.exports.EXPORT_TARGETS`) come first."""


def _path_text(path: Path) -> str:
    return repr(str(path))


def _read_headerless(path: Path, names: Sequence[str], argument: str) -> pd.DataFrame:
    """A headerless text file (Blimp's ``.dat``), comma- or whitespace-separated.

    Blimp pads its columns with spaces, so the separator is read from the first line: a
    comma if it has one, else any run of whitespace (which also skips leading blanks).
    """
    with path.open(encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), "")
    if not first:
        raise ValueError(f"`{argument}` {_path_text(path)} is empty; it holds no completed sets")
    sep = "," if "," in first else r"\s+"
    frame = pd.read_csv(path, header=None, sep=sep)
    if frame.shape[1] != len(names) + 1:
        raise ValueError(
            f"`names` gives {len(names)} column names, but {_path_text(path)} has "
            f"{frame.shape[1]} columns: the imputation number first, then {frame.shape[1] - 1} "
            "variables. Pass one name per variable, in the order of Blimp's VARIABLES "
            "command (the imputation number is not named)"
        )
    return frame


def _read_stata(path: Path) -> pd.DataFrame:
    return pd.read_stata(path)


def _read_spss(path: Path) -> pd.DataFrame:
    require("pyreadstat", "reading SPSS .sav files")
    import pyreadstat

    frame, _ = pyreadstat.read_sav(str(path))
    return frame


READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    **dict.fromkeys(TABLE_FORMATS, read_table),
    "dta": _read_stata,  # Stata's mi flong, and jmimpute's Stata export
    "sav": _read_spss,  # SPSS, split by Imputation_
}
"""Readers of files with their own column names, by suffix (without the dot)."""


def _read(path: Path, names: Sequence[str] | None, argument: str) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"`{argument}`: no such file {_path_text(path)}")
    suffix = path.suffix.lower().removeprefix(".")
    binary = suffix in READERS and suffix != "csv"
    if names is not None and binary:
        raise ValueError(
            f"`names` is for headerless text files (Blimp's stacked output); "
            f"{_path_text(path)} names its own columns: leave `names` out"
        )
    if names is not None:
        return _read_headerless(path, names, argument)
    if suffix in READERS:
        return READERS[suffix](path)
    raise ValueError(
        f"`{argument}` {_path_text(path)} is not a "
        f"{', '.join('.' + s for s in READERS)} file. For a "
        "headerless file such as Blimp's stacked output (SAVE: stacked = file.dat), pass "
        "the variable names, names=[...], and its first column is read as the "
        "imputation number"
    )


def _numbers(column: pd.Series, what: str) -> pd.Series:
    """The imputation numbers as integers, or an error naming the column (``what``)."""
    numbers = pd.to_numeric(column, errors="coerce")
    values = numbers.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0)
    if bad.any():
        shown = ", ".join(map(repr, column[bad].drop_duplicates().head(5).tolist()))
        raise ValueError(
            f"the imputation numbers ({what}) must be whole numbers 0, 1, ..., m; found "
            f"{shown}. Name the column that numbers the sets with imputation_column='...'"
        )
    return pd.Series(values.astype(np.int64), index=column.index)


def _imputation_column(
    frame: pd.DataFrame, imputation_column: str | None
) -> tuple[str, tuple[str, ...]]:
    """The column that numbers the sets, and the bookkeeping columns to drop with it."""
    columns = [str(c) for c in frame.columns]
    if imputation_column is not None:
        if imputation_column not in frame.columns:
            close = difflib.get_close_matches(str(imputation_column), columns, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"`imputation_column` {imputation_column!r} is not a column of the stacked "
                f"data{hint} Its columns are {columns[:10]}{' ...' if len(columns) > 10 else ''}"
            )
        return imputation_column, STACKED_LAYOUTS.get(imputation_column, ("", ()))[1]
    found = [name for name in STACKED_LAYOUTS if name in frame.columns]
    if len(found) == 1:
        return found[0], STACKED_LAYOUTS[found[0]][1]
    known = ", ".join(f"{name!r} ({program})" for name, (program, _) in STACKED_LAYOUTS.items())
    if found:
        raise ValueError(
            f"the stacked data has several imputation-number columns {found}; name the one "
            f"to use, e.g. imputation_column={found[0]!r}"
        )
    raise ValueError(
        f"cannot tell which column numbers the imputations: the stacked data has none of "
        f"the known ones, {known}. Its columns are "
        f"{columns[:10]}{' ...' if len(columns) > 10 else ''}. Name it with "
        "imputation_column='...'; for a headerless file with the number first (Blimp's "
        "SAVE: stacked), pass the variable names, names=[...]; or pass a list of completed "
        "DataFrames"
    )


def split_stacked(
    frame: pd.DataFrame,
    *,
    imputation_column: str | None = None,
    names: Sequence[str] | None = None,
) -> list[pd.DataFrame]:
    """The completed sets of a stacked table, imputation 0 (the incomplete data) dropped.

    Parameters
    ----------
    frame : pandas.DataFrame
        The sets one below the other, numbered by a column (see :data:`STACKED_LAYOUTS`).
    imputation_column : str, optional
        The numbering column, if it is not one of the known ones.
    names : sequence of str, optional
        For a table without a header (Blimp): the first column is the imputation number,
        the others get these names.

    Returns
    -------
    list of pandas.DataFrame
        One per imputation number, in increasing order, each with a fresh 0-based index
        and without the numbering and bookkeeping columns.

    Raises
    ------
    ValueError
        If the numbering column cannot be found or holds other than whole numbers.
    """
    if names is not None:
        if imputation_column is not None:
            raise ValueError(
                "give either `names` (a headerless table whose first column is the imputation "
                "number) or `imputation_column` (a table with a header), not both"
            )
        names = _check_names(names)
        if frame.shape[1] != len(names) + 1:
            raise ValueError(
                f"`names` gives {len(names)} column names for a table of {frame.shape[1]} "
                "columns: the imputation number first, then one name per variable"
            )
        column = "the first column"
        numbers = _numbers(frame.iloc[:, 0], "the first column, as `names` says")
        data = frame.iloc[:, 1:].set_axis(names, axis=1)
    else:
        column, bookkeeping = _imputation_column(frame, imputation_column)
        numbers = _numbers(frame[column], f"column {column!r}")
        data = frame.drop(columns=[column, *(c for c in bookkeeping if c in frame.columns)])
    zero = (numbers == 0).to_numpy()
    if zero.any():
        if not data[zero].isna().any().any():
            warnings.warn(
                f"imputation 0 ({column}) has no missing values, yet it is dropped as the "
                "incomplete data; if your sets are numbered from 0, number them from 1",
                UserWarning,
                stacklevel=3,
            )
        _log.info("dropped imputation 0 (the incomplete data, %d rows)", int(zero.sum()))
    return [
        data[(numbers == k).to_numpy()].reset_index(drop=True)
        for k in sorted(set(numbers.tolist()) - {0})
    ]


def _check_names(names: object) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(
            f"`names` must be a list of column names, e.g. names=['y', 'x', 'g']; got {names!r}"
        )
    out = [str(n) for n in names]
    repeated = sorted({n for n in out if out.count(n) > 1})
    if repeated:
        raise ValueError(f"`names` repeats {repeated}; each column needs its own name")
    return out


def _check_sets(sets: list[pd.DataFrame], where: str) -> list[pd.DataFrame]:
    """Refuse fewer than 2 sets, sets of unequal length and sets with differing columns."""
    if len(sets) < 2:
        raise ValueError(
            f"{where} holds {len(sets)} completed data set(s); pooling needs at least 2 (the "
            "imputation number 0, the incomplete data, is not one). Pass all m sets"
        )
    lengths = [len(s) for s in sets]
    if len(set(lengths)) > 1:
        shown = ", ".join(f"set {k}: {n}" for k, n in enumerate(lengths, start=1))
        raise ValueError(
            f"the completed data sets in {where} have unequal numbers of rows ({shown}); each "
            "set must hold every row of the data. Check that no set was filtered or truncated"
        )
    if lengths[0] == 0:
        raise ValueError(
            f"the completed data sets in {where} have no rows; check that the file or frame "
            "holds the sets (not only a header) and, for a stacked table, that its imputation "
            "column numbers them from 1"
        )
    first = list(sets[0].columns)
    if len(set(first)) < len(first):
        raise ValueError(f"the completed data sets in {where} repeat column names: {first}")
    out = [sets[0]]
    for k, frame in enumerate(sets[1:], start=2):
        columns = list(frame.columns)
        if columns != first:
            extra = [c for c in columns if c not in first]
            missing = [c for c in first if c not in columns]
            if extra or missing or len(columns) != len(first):
                raise ValueError(
                    f"set {k} in {where} has other columns than set 1: extra {extra}, missing "
                    f"{missing}; every set must have the same columns"
                )
            frame = frame[first]  # the same columns in another order
        out.append(frame)
    return out


def _as_frame(item: object, k: int, argument: str) -> pd.DataFrame:
    if isinstance(item, pd.DataFrame):
        return item
    if isinstance(item, str | PathLike):
        return _read(Path(item), None, argument)
    raise TypeError(
        f"`{argument}` item {k} is a {type(item).__name__}; a list of completed sets holds "
        "pandas DataFrames or paths to files (.csv, .parquet, .dta, .sav), one per set"
    )


def completed_sets(
    source: object,
    *,
    imputation_column: str | None = None,
    names: Sequence[str] | None = None,
) -> list[pd.DataFrame]:
    """The m completed data sets in ``source``, as a list of DataFrames.

    Parameters
    ----------
    source : DataFrame, list of DataFrames or files, str or path-like, or Imputation
        The sets stacked in one table (a DataFrame; a ``.csv``, ``.parquet``, ``.dta`` or
        ``.sav`` file; or a headerless text file with ``names``), a list of completed sets
        (DataFrames or files, one per set), or a jmimpute Imputation (its
        ``complete("all")``). See the module docstring for the layouts recognised.
    imputation_column : str, optional
        The column numbering the stacked sets, when it is not one of mice's ``.imp``,
        Stata's ``_mi_m``, SPSS's ``Imputation_`` or jomo's ``Imputation``.
    names : sequence of str, optional
        The variables of a headerless stacked file (Blimp's ``SAVE: stacked``), in order;
        its first column is read as the imputation number.

    Returns
    -------
    list of pandas.DataFrame
        At least two sets with the same rows and columns, in imputation order. The user's
        DataFrames are not modified (stacked ones are split into new frames).

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    TypeError
        If ``source`` (or an item of a list) is none of the kinds above.
    ValueError
        If the layout cannot be recognised, or the sets are fewer than 2, of unequal
        length or with differing columns; the message names the argument and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> stacked = pd.DataFrame({".imp": [0, 0, 1, 1, 2, 2], "y": [1.0, None, 1.0, 2.5, 1.0, 3.1]})
    >>> [s["y"].tolist() for s in completed_sets(stacked)]
    [[1.0, 2.5], [1.0, 3.1]]
    """
    return read_sets(source, imputation_column=imputation_column, names=names)


def read_sets(
    source: object,
    *,
    imputation_column: str | None = None,
    names: Sequence[str] | None = None,
    argument: str = "source",
) -> list[pd.DataFrame]:
    """:func:`completed_sets`, with errors that name the caller's argument.

    :func:`jmimpute.analyze` takes the sets as ``imp``, so its errors say ``imp``.
    """
    if hasattr(source, "complete") and hasattr(source, "spec"):  # an Imputation
        if imputation_column is not None or names is not None:
            raise TypeError(
                "`imputation_column` and `names` are for completed sets made elsewhere; an "
                "Imputation knows its own"
            )
        return list(source.complete("all"))
    if isinstance(source, str | PathLike):
        path = Path(source)
        frame = _read(path, None if names is None else _check_names(names), argument)
        sets = split_stacked(frame, imputation_column=imputation_column, names=names)
        return _check_sets(sets, f"`{argument}` {_path_text(path)}")
    if isinstance(source, pd.DataFrame):
        sets = split_stacked(source, imputation_column=imputation_column, names=names)
        return _check_sets(sets, f"the stacked `{argument}`")
    if isinstance(source, list | tuple):
        if imputation_column is not None or names is not None:
            raise TypeError(
                "`imputation_column` and `names` are for one stacked table; a list of "
                "completed sets needs neither"
            )
        sets = [_as_frame(item, k, argument) for k, item in enumerate(source, start=1)]
        return _check_sets(sets, f"the list `{argument}`")
    raise TypeError(
        f"`{argument}` must be an Imputation, a stacked DataFrame or file (.csv, .parquet, .dta, "
        ".sav, or a headerless Blimp file with names=[...]) or a list of completed "
        "DataFrames; got "
        f"{type(source).__name__}"
    )


@dataclass(frozen=True, eq=False)  # DataFrames do not compare to a bool
class CompletedSets:
    """Completed sets made elsewhere, read as :func:`jmimpute.analyze` reads an Imputation.

    Attributes
    ----------
    sets : tuple of pandas.DataFrame
        As :func:`completed_sets` returns them (never modified).
    cluster : str or None
        The cluster variable, for derived cluster means without ``by=``: the grouping
        factor of the analysis formula's random term.
    derivations : dict
        Variables computed on every set (``derive=``), as :meth:`Imputation.with_columns`.
    """

    sets: tuple[pd.DataFrame, ...]
    cluster: str | None = None
    derivations: Mapping[str, ClusterStatistic | DeriveFunction] = field(default_factory=dict)

    @property
    def m(self) -> int:
        """Number of completed sets."""
        return len(self.sets)

    @property
    def data(self) -> pd.DataFrame:
        """The first set: its columns and types are those of every set."""
        return self.sets[0]

    @property
    def derived(self) -> tuple[str, ...]:
        """Names of the derived variables."""
        return tuple(self.derivations)

    def with_columns(self, **derived: ClusterStatistic | DeriveFunction) -> CompletedSets:
        """The same sets with variables derived from each; see :meth:`Imputation.with_columns`.

        Raises
        ------
        ValueError
            If a name is already a column of the sets.
        """
        clash = [name for name in derived if name in self.data.columns]
        if clash:
            raise ValueError(
                f"derived variable names {clash} are already columns of the completed sets; "
                "choose new names (or use the columns as they are)"
            )
        merged = dict(self.derivations) | check_derived(derived)
        return CompletedSets(self.sets, self.cluster, merged)

    def complete(self, which: int = 1) -> pd.DataFrame:
        """Completed set ``which`` (1-based, as mice and mitml number them), a copy."""
        if not 1 <= which <= self.m:
            raise ValueError(f"`which` must be between 1 and m={self.m}; got {which}")
        return apply_derived(self.sets[which - 1].copy(), self.derivations, self.cluster)
