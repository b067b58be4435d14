"""Mplus: one headerless data file per completed set, an implist file, an input template.

Mplus analyses multiply imputed data with ``DATA: TYPE = IMPUTATION``: ``FILE`` then names
a text file that lists the data files, one file name per line, and every data file holds
one completed set in free format (numbers only, no header, fields separated by commas or
blanks), its columns in the order of ``VARIABLE: NAMES``. Mplus pools the estimates over
the sets with Rubin's rules itself.

Mplus reads numbers only, so categorical columns are written as integer codes
(:mod:`jmimpute.results.handoff.common`) and the code list is kept in the template; a value
still missing (a column that was not imputed) is written as the ``missing`` code that the
template declares with ``MISSING = ALL (code)``. Like Blimp's "VARIABLE ORDER IN SAVED
DATA", the template ``analysis.inp`` lists the names in the order of the columns, so the
user only writes the ``MODEL``.
"""

from __future__ import annotations

import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jmimpute._version import __version__
from jmimpute.atomic import replacing
from jmimpute.results.handoff.common import (
    Prepared,
    clash_error,
    duplicates,
    prepare,
    refuse_names,
    warn,
)

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")

MAX_NAME_LENGTH = 90
"""Mplus 8 reads names of up to 90 characters; earlier versions 8 (``max_name_length=8``)."""
SEPARATORS: dict[str, str] = {",": "comma", " ": "blank", "\t": "tab"}
IMPLIST = "implist.dat"
TEMPLATE = "analysis.inp"
LINE = 80  # Mplus before version 8 reads input lines of at most 90 characters
_RULE = (
    "Mplus names begin with a letter and hold only letters, digits and underscores "
    "(and Mplus does not tell upper from lower case)"
)


def _valid(name: str) -> str | None:
    """Why ``name`` is not an Mplus name, or None if it is one (before truncation)."""
    if not name[:1].isascii() or not name[:1].isalpha():
        return "does not begin with a letter"
    if not all((c.isascii() and c.isalnum()) or c == "_" for c in name):
        return "holds characters other than letters, digits and _"
    return None


def mplus_names(
    columns: Sequence[str],
    max_name_length: int = MAX_NAME_LENGTH,
    sources: Mapping[str, str] | None = None,
) -> list[str]:
    """The columns' Mplus names: checked, truncated to ``max_name_length`` with a warning.

    Parameters
    ----------
    columns : sequence of str
    max_name_length : int, default 90
        90 for Mplus 8, 8 for earlier versions.
    sources : mapping, optional
        Written name -> the data's name, for the messages.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        For a name Mplus cannot read, or names that become one after truncation or case
        folding (Mplus reads ``IQ`` and ``iq`` as the same variable).
    """
    check_names(columns, sources, max_name_length)
    names = [c[:max_name_length] for c in columns]
    cut = [c for c in columns if len(c) > max_name_length]
    if cut:
        warn(
            f"Mplus reads names of at most {max_name_length} characters: the columns {cut} "
            f"are written as {[c[:max_name_length] for c in cut]}; choose your own names "
            "with `rename`"
        )
    return names


def check_names(
    columns: Sequence[str],
    sources: Mapping[str, str] | None = None,
    max_name_length: int = MAX_NAME_LENGTH,
) -> None:
    """Fail for column names Mplus cannot read, or reads as one variable.

    Raises
    ------
    ValueError
        A name that does not begin with a letter or holds other characters than letters,
        digits and underscores, or names that are the same once cut to
        ``max_name_length`` and read without case.
    """
    refuse_names("Mplus", columns, _valid, _RULE, sources)
    clashes = duplicates(columns, key=lambda c: c[:max_name_length].upper())
    if clashes:
        same = sorted({c[:max_name_length].upper() for c in clashes})
        raise clash_error(
            "Mplus",
            clashes,
            f"{', '.join(same)}, once cut to {max_name_length} characters and read without "
            "case (Mplus does not tell upper from lower case)",
            sources,
        )


def write_mplus(
    imp: Imputation,
    folder: Path,
    *,
    sep: str = ",",
    missing: float = -999,
    max_name_length: int = MAX_NAME_LENGTH,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``imp_01.dat`` .. (one per set), ``implist.dat`` and ``analysis.inp``.

    Parameters
    ----------
    imp : Imputation
    folder : pathlib.Path
        Created if missing; files already there under other names are left alone.
    sep : str, default ","
        Field separator of the data files: a comma, a blank or a tab (Mplus's free format
        takes any of them).
    missing : float, default -999
        Written for values still missing; must not be a value of the data.
    max_name_length : int, default 90
        Longest name the Mplus version reads: 90 for Mplus 8, 8 for earlier versions.
    columns, rename : optional
        Columns to write and new names for them (:func:`~jmimpute.results.handoff.export`).

    Returns
    -------
    list of pathlib.Path
        The data files, the implist file, then the template.
    """
    if sep not in SEPARATORS:
        raise ValueError(
            f"`sep` must be one of {list(SEPARATORS)} (Mplus's free format); got {sep!r}"
        )
    if isinstance(missing, bool) or not isinstance(missing, int | float | np.number):
        raise TypeError(f"`missing` must be a number such as -999; got {missing!r}")
    if not math.isfinite(missing):
        raise ValueError(f"`missing` must be a finite number such as -999; got {missing!r}")
    if isinstance(max_name_length, bool) or not isinstance(max_name_length, int):
        raise TypeError(f"`max_name_length` must be an integer (8 or 90); got {max_name_length!r}")
    if max_name_length < 1:
        raise ValueError(f"`max_name_length` must be at least 1; got {max_name_length}")
    prepared = prepare(imp, include=False, encode=True, columns=columns, rename=rename)
    frames = [_numbers(f) for f in prepared.frames]
    names = mplus_names(list(frames[0].columns), max_name_length, prepared.sources)
    code = _number(float(missing))
    for frame in frames:
        hit = [c for c in frame.columns if (frame[c] == missing).any()]
        if hit:
            raise ValueError(
                f"`missing`={code} is a value of the column(s) {hit}, so Mplus would read "
                "those values as missing; choose another code, e.g. missing=-99999"
            )
    width = max(2, len(str(imp.m)))
    written = []
    for k, frame in enumerate(frames, start=1):
        target = folder / f"imp_{k:0{width}d}.dat"
        with replacing(target) as tmp:
            frame.to_csv(
                tmp,
                sep=sep,
                header=False,
                index=False,
                na_rep=code,
                float_format=_number if _exponents(frame) else None,
            )
        written.append(target)
    implist = folder / IMPLIST
    with replacing(implist) as tmp:
        tmp.write_text("".join(f"{p.name}\n" for p in written), encoding="ascii")
    template = folder / TEMPLATE
    with replacing(template) as tmp:
        tmp.write_text(_template(imp, prepared, names, code, sep), encoding="utf-8")
    _log.info("wrote %d Mplus data files, %s and %s to %s", len(written), IMPLIST, TEMPLATE, folder)
    return [*written, implist, template]


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every column numeric (codes already), or an error naming the rest."""
    other = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if other:
        raise ValueError(
            f"Mplus reads numbers only, and the column(s) {other} hold "
            f"{sorted({str(frame[c].dtype) for c in other})}; convert them to numbers "
            "before imputing, or leave them out with `columns`"
        )
    return frame


def _exponents(frame: pd.DataFrame) -> bool:
    """Whether pandas' own (fast, shortest round-trip) float text would use an exponent.

    It does below 1e-4 and from 1e16 in absolute value; only then is every value written
    by :func:`_number` (slower than pandas' own), as 0.00001 rather than 1e-05.
    """
    values = np.abs(frame.select_dtypes("float").to_numpy(dtype=float))
    return bool((((values < 1e-4) & (values > 0)) | (values >= 1e16)).any())


def _number(value: object) -> str:
    """Shortest digits that read back to the same double, without exponent notation."""
    return np.format_float_positional(float(value), unique=True, trim="-")  # type: ignore[arg-type]


def _template(imp: Imputation, prepared: Prepared, names: list[str], code: str, sep: str) -> str:
    renamed = dict(zip(prepared.frames[0].columns, names, strict=True))
    lines = [
        "TITLE:",
        "  Multiply imputed data written by jmimpute",
        f"! jmimpute {__version__}: {imp.spec.formula_text}, m = {imp.m} imputations",
        f"! {SEPARATORS[sep]}-separated files without a header, listed in {IMPLIST}",
        "DATA:",
        f"  FILE = {IMPLIST};",
        "  TYPE = IMPUTATION;",
        "VARIABLE:",
        *_wrapped("NAMES = ", names),
        f"  MISSING = ALL ({code});",
    ]
    if prepared.cluster is not None:
        lines.append(f"  CLUSTER = {renamed[prepared.cluster]};")
    lines += [
        "  ! USEVARIABLES = ...;  ! the variables of your analysis model",
        *_comment(f"imputed: {' '.join(renamed[n] for n in prepared.imputed) or 'none'}"),
    ]
    if prepared.derived:
        derived = " ".join(renamed[n] for n in prepared.derived)
        lines += _comment(f"derived from each completed set: {derived}")
    if prepared.codings:
        lines.append("! categorical columns, written as integer codes:")
        for name, coding in prepared.codings.items():
            pairs = ", ".join(f"{c} = {label}" for c, label in coding.labels.items())
            lines += _comment(f"  {renamed[name]}: {pairs}")
    lines += [
        "ANALYSIS:",
        "  TYPE = TWOLEVEL;" if prepared.cluster is not None else "  ! TYPE = ...;",
        "MODEL:",
        "  ! your analysis model, e.g. %WITHIN% y ON x; %BETWEEN% y;",
        "",
    ]
    return "\n".join(lines)


def _wrapped(head: str, names: list[str]) -> list[str]:
    text = textwrap.wrap(
        " ".join(names) + ";",
        width=LINE,
        initial_indent="  " + head,
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    return text


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=LINE, initial_indent="! ", subsequent_indent="!   ")
