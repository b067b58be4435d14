"""Stata: the completed sets in the flong layout that ``mi import flong`` reads, as a .dta.

Stata's flong style keeps the incomplete data and every completed set one below the other
(``[MI] mi styles``). ``mi import flong, m(varname) id(varlist) imputed(varlist)`` brings
such a file into ``mi``: the ``m()`` variable numbers the sets, 0 for the original
(incomplete) data, 1..m; the ``id()`` variable numbers the observations, the same in every
set. The file has them as ``mi_m`` and ``mi_id``. The import itself creates ``mi``'s
system variables ``_mi_m``, ``_mi_id`` and ``_mi_miss``; names beginning with ``_mi_``
belong to ``mi``, so a file that already held them would clash with the import (pandas
cannot write the dataset characteristics that would make the file ``mi`` data without an
import).

Categorical columns become integers with value labels, so that Stata shows the categories
(the codes are those of :mod:`jmimpute.results.handoff.common`). The file is written by
pandas' ``to_stata`` (format 118, Stata 14 and later). The import command,
``mi import flong, m(mi_m) id(mi_id) imputed(...) passive(...)`` (the derived columns are
passive), is logged and kept in the file's label.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jmimpute.atomic import replacing
from jmimpute.results.handoff.common import prepare, refuse_names, stacked, suggest
from jmimpute.spec.exports import EXPORT_TARGETS

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")

SYSTEM = EXPORT_TARGETS["stata"].columns
"""The import's ``m()`` and ``id()`` variables, first in the file."""
MAX_NAME_LENGTH = 32
# Stata's reserved names ([U] 11.3) and the words pandas' writer also renames
RESERVED = frozenset(
    "_all _b byte _coef _cons double float if in int long _n _N _pi _pred _rc _skip strL "
    "using with aggregate array boolean break case catch class colvector complex const "
    "continue default delegate delete do else eltypedef end enum explicit export external "
    "for friend function global goto inline local NULL pragma protected quad rowvector "
    "short typedef typename virtual _se _variables".split()
)
_RULE = (
    "Stata names have at most 32 characters, letters, digits and underscores, do not "
    "begin with a digit, and are not reserved words (such as int, long, in, if, _n); "
    "names beginning with _mi_ belong to mi, and mi_m and mi_id number the sets and rows"
)
_LABELS = {
    "mi_m": "imputation number (0 = the incomplete data)",
    "mi_id": "observation in the incomplete data (1..n)",
}


def _letter(c: str) -> bool:
    # as pandas' format-118 writer: ASCII letters, digits and _, or code points from 192
    return (c.isascii() and (c.isalnum() or c == "_")) or (
        ord(c) >= 192 and c not in "\u00d7\u00f7"
    )


def _why(name: str) -> str | None:
    if len(name) > MAX_NAME_LENGTH:
        return f"{len(name)} characters"
    if not all(_letter(c) for c in name):
        return "holds characters other than letters, digits and _"
    if name[:1].isdigit():
        return "begins with a digit"
    if name in RESERVED or (name.startswith("str") and name[3:].isdigit()):
        return "a reserved word"
    if name.startswith("_mi_"):
        return "begins with _mi_"
    if name in SYSTEM:
        return "the file's own mi_m or mi_id, for mi import"
    return None


def check_names(columns: Sequence[str], sources: Mapping[str, str] | None = None) -> None:
    """Fail for column names Stata cannot hold (pandas would rename them with a warning).

    ``sources`` maps written names to the data's, for the message.
    """
    fix = partial(suggest, limit=MAX_NAME_LENGTH, reserved=RESERVED)
    refuse_names("Stata", columns, _why, _RULE, sources, fix)


def write_stata(
    imp: Imputation,
    path: Path,
    *,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the flong layout (m = 0 .. m) to a .dta file.

    Parameters
    ----------
    imp : Imputation
    path : pathlib.Path
        A ``.dta`` file.
    columns, rename : optional
        Columns to write and new names for them (:func:`~jmimpute.results.handoff.export`).

    Returns
    -------
    list of pathlib.Path
        ``[path]``.
    """
    prepared = prepare(imp, include=True, encode=True, columns=columns, rename=rename)
    names = [str(c) for c in prepared.frames[0].columns]
    check_names(names, prepared.sources)  # Stata tells upper from lower case
    n = len(prepared.frames[0])

    def front(k: int, frame: pd.DataFrame) -> dict:
        return {
            "mi_m": np.full(n, k, dtype=np.int16 if imp.m < 2**15 else np.int32),
            "mi_id": np.arange(1, n + 1, dtype=np.int32),
        }

    long = stacked(prepared.frames, front)
    imputed = f" imputed({' '.join(prepared.imputed)})" if prepared.imputed else ""
    # derived columns (missing in m = 0, computed on each set) are mi's passive variables:
    # left unregistered, the import would take them to be the same in every set
    passive = f" passive({' '.join(prepared.derived)})" if prepared.derived else ""
    command = f"mi import flong, m(mi_m) id(mi_id){imputed}{passive}"
    labels = {
        c.column: {float(k): v for k, v in c.labels.items()} for c in prepared.codings.values()
    }
    with replacing(path) as tmp:
        long.to_stata(
            tmp,
            write_index=False,
            version=118,
            data_label=command if len(command) <= 80 else command[:76] + " ...",
            variable_labels=dict(_LABELS),
            value_labels=labels or None,
        )
    _log.info(
        "wrote the Stata flong layout (m = 0..%d, %d rows) to %s; in Stata: %s",
        imp.m,
        len(long),
        path,
        command,
    )
    return [path]
