"""Completed data sets as tables on disk: mice's stacked layout, or one file per set.

For analysis elsewhere: R's mice reads the long layout with ``as.mids``, mitml a list of
sets; the layouts of Mplus, Stata, SPSS and R are in :mod:`jmimpute.results.handoff`.
:func:`~jmimpute.tables.write_table` writes each file whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from jmimpute.tables import TABLE_FORMATS, StrPath, write_table

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation


def to_long(imp: Imputation, path: StrPath | None = None, *, include: bool = False) -> pd.DataFrame:
    """The completed sets stacked in mice's long layout, optionally written to a file.

    Parameters
    ----------
    imp : Imputation
    path : str or path-like, optional
        A ``.csv`` or ``.parquet`` file to write (Parquet needs pyarrow).
    include : bool, default False
        Also include the incomplete data as imputation 0 (as mice's ``complete(include=TRUE)``).

    Returns
    -------
    pandas.DataFrame
        ``imp.complete("long")``: columns ``.imp`` (1..m), ``.id`` (the row label) and the data.
    """
    long = imp.complete("long", include=include)
    if path is not None:
        write_table(long, path)
    return long


def to_sets(imp: Imputation, directory: StrPath, fmt: str = "csv") -> list[Path]:
    """Write each completed set to its own file, ``imp_01.csv`` .. ``imp_<m>.csv``.

    Parameters
    ----------
    imp : Imputation
    directory : str or path-like
        Created if missing.
    fmt : {"csv", "parquet"}, default "csv"

    Returns
    -------
    list of pathlib.Path
        The files, in imputation order.
    """
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"`fmt` must be one of {', '.join(map(repr, TABLE_FORMATS))}; got {fmt!r}")
    width = max(2, len(str(imp.m)))
    folder = Path(directory)
    return [
        write_table(frame, folder / f"imp_{k:0{width}d}.{fmt}")
        for k, frame in enumerate(imp.complete("all"), start=1)
    ]
