"""SPSS: the incomplete data and the completed sets in one file, split by ``Imputation_``.

SPSS recognises multiply imputed data by the variable ``Imputation_``: 0 marks the
original (incomplete) data and 1..m the completed sets, one below the other; with the file
split by it, SPSS's procedures fit each set and pool the results. Categorical columns
become integer codes with value labels and measure level nominal or ordinal (the codes are
those of :mod:`jmimpute.results.handoff.common`).

The .sav file is written with pyreadstat (an optional dependency: ``pip install
pyreadstat``); without it the same layout is written as CSV, with the categories as text
and a logged note, which SPSS opens with File > Import Data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jmimpute.atomic import replacing
from jmimpute.results.handoff.common import (
    clash_error,
    duplicates,
    prepare,
    refuse_names,
    stacked,
    suggest,
    warn,
)
from jmimpute.spec.exports import EXPORT_TARGETS

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")

SPLIT = EXPORT_TARGETS["spss"].columns[0]
MAX_NAME_BYTES = 64
RESERVED = frozenset("ALL AND BY EQ GE GT LE LT NE NOT OR TO WITH".split())
_RULE = (
    "SPSS names have at most 64 bytes, begin with a letter (or @), hold letters, digits "
    "and . _ $ # @, do not end with a period, and are not keywords such as ALL, BY, TO, "
    "WITH; SPSS does not tell upper from lower case"
)


def _why(name: str) -> str | None:
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"{len(name.encode('utf-8'))} bytes"
    if not (name[:1].isalpha() or name[:1] == "@"):
        return "does not begin with a letter"
    if not all(c.isalnum() or c in "._$#@" for c in name):
        return "holds characters other than letters, digits and . _ $ # @"
    if name.endswith("."):
        return "ends with a period"
    if name.upper() in RESERVED:
        return "a keyword"
    return None


def check_names(columns: Sequence[str], sources: Mapping[str, str] | None = None) -> None:
    """Fail for column names SPSS cannot hold, or that are one name to SPSS.

    ``sources`` maps written names to the data's, for the message.
    """
    fix = partial(suggest, limit=MAX_NAME_BYTES, reserved=RESERVED)
    refuse_names("SPSS", columns, _why, _RULE, sources, fix)
    taken = [c for c in columns if c.upper() == SPLIT.upper()]
    if taken:
        raise clash_error(
            "SPSS",
            taken,
            f"the split variable {SPLIT} (SPSS does not tell upper from lower case)",
            sources,
        )
    clashes = duplicates(columns, key=str.upper)
    if clashes:
        raise clash_error("SPSS", clashes, "which does not tell upper from lower case", sources)


def have_pyreadstat() -> bool:
    """Whether pyreadstat, which writes .sav files, is installed."""
    return find_spec("pyreadstat") is not None


def write_spss(
    imp: Imputation,
    path: Path,
    *,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``Imputation_`` 0..m and the data to a .sav file (or CSV, see the module).

    Parameters
    ----------
    imp : Imputation
    path : pathlib.Path
        A ``.sav`` file, or ``.csv`` for the layout as text. For ``.sav`` without
        pyreadstat the CSV is written beside it, with the suffix ``.csv``.
    columns, rename : optional
        Columns to write and new names for them (:func:`~jmimpute.results.handoff.export`).

    Returns
    -------
    list of pathlib.Path
        The file written.
    """
    sav = path.suffix.lower() == ".sav"
    if sav and not have_pyreadstat():
        path = path.with_suffix(".csv")
        warn(
            f"pyreadstat is not installed, so SPSS's layout is written as CSV to {path} "
            "(categories as text, without value labels); `pip install pyreadstat` "
            "writes a .sav file"
        )
        sav = False
    prepared = prepare(imp, include=True, encode=sav, columns=columns, rename=rename)
    check_names([str(c) for c in prepared.frames[0].columns], prepared.sources)
    n = len(prepared.frames[0])
    long = stacked(prepared.frames, lambda k, _: {SPLIT: np.full(n, k, dtype=np.int32)})
    if not sav:
        with replacing(path) as tmp:
            long.to_csv(tmp, index=False)
        _log.info("wrote SPSS's layout (%s 0..%d) as CSV to %s", SPLIT, imp.m, path)
        return [path]
    import pyreadstat

    measure = {
        str(c): "scale" if pd.api.types.is_numeric_dtype(long[c].dtype) else "unknown"
        for c in long.columns
    }
    measure |= {c.column: "ordinal" if c.ordered else "nominal" for c in prepared.codings.values()}
    measure[SPLIT] = "nominal"
    labels: dict[str, dict[int | float, str]] = {
        c.column: {code: text for code, text in c.labels.items()} for c in prepared.codings.values()
    }
    with replacing(path) as tmp:
        pyreadstat.write_sav(
            long,
            tmp,
            file_label=f"jmimpute: m = {imp.m} imputations",
            column_labels={SPLIT: "Imputation Number"},
            variable_value_labels=labels,
            variable_measure={k: v for k, v in measure.items() if v != "unknown"},
        )
    _log.info("wrote SPSS's layout (%s 0..%d, %d rows) to %s", SPLIT, imp.m, len(long), path)
    return [path]
