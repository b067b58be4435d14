"""R: mice's long layout with the incomplete data, which ``mice::as.mids`` reads.

``as.mids(long)`` turns a data frame into a ``mids`` object (what ``mice()`` returns) when
it has the columns ``.imp`` (0 for the original, incomplete data, then 1..m) and ``.id``
(the row); mitml's ``mids2mitml.list`` or ``split(long, long$.imp)`` take it from there.
The file is :meth:`Imputation.to_long` with ``include=True``, written as CSV with missing
values as ``NA``, which ``read.csv`` reads as missing in text columns too (an empty field
in a text column would be read as the category "").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jmimpute.atomic import replacing
from jmimpute.results.handoff.common import prepare, shown, stacked
from jmimpute.spec.exports import EXPORT_TARGETS

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation

_log = logging.getLogger("jmimpute")

FRONT = EXPORT_TARGETS["r"].columns


def check_names(columns: Sequence[str], sources: Mapping[str, str] | None = None) -> None:
    """Fail for columns named as mice's own ``.imp`` and ``.id``.

    ``sources`` maps written names to the data's, for the message.
    """
    taken = [c for c in columns if c in FRONT]
    if taken:
        listed = ", ".join(shown(c, sources) for c in taken)
        fix = ", ".join(f"{(sources or {}).get(c, c)!r}: {c[1:]!r}" for c in taken)
        raise ValueError(
            f"the column(s) {listed} would clash with mice's {FRONT[0]} and {FRONT[1]}; "
            f"rename them with rename={{{fix}}}"
        )


def write_r(
    imp: Imputation,
    path: Path,
    *,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``.imp`` 0..m, ``.id`` and the data as CSV for ``mice::as.mids``.

    Parameters
    ----------
    imp : Imputation
    path : pathlib.Path
        A ``.csv`` file.
    columns, rename : optional
        Columns to write and new names for them (:func:`~jmimpute.results.handoff.export`).

    Returns
    -------
    list of pathlib.Path
        ``[path]``. In R: ``mids <- mice::as.mids(read.csv(path))``.
    """
    prepared = prepare(imp, include=True, encode=False, columns=columns, rename=rename)
    check_names([str(c) for c in prepared.frames[0].columns], prepared.sources)
    long = stacked(prepared.frames, lambda k, frame: {".imp": k, ".id": frame.index})
    with replacing(path) as tmp:
        long.to_csv(tmp, index=False, na_rep="NA")
    _log.info("wrote mice's long layout (.imp 0..%d, %d rows) to %s", imp.m, len(long), path)
    return [path]
