"""Data tables on disk: CSV or Parquet by the file's suffix, without the index.

Shared by reading the user's data (:mod:`jmimpute.inputs`) and writing completed data sets
(:mod:`jmimpute.results.exports`).
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from os import PathLike
from pathlib import Path

import pandas as pd

from jmimpute.atomic import replacing

_log = logging.getLogger("jmimpute")

StrPath = str | PathLike[str]
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")


def table_format(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file's suffix, or a clear error."""
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in TABLE_FORMATS:
        raise ValueError(
            f"cannot tell the file format of {str(path)!r} from its suffix "
            f"{path.suffix or '(none)'!r}; use a name ending in "
            f"{' or '.join('.' + f for f in TABLE_FORMATS)}"
        )
    return fmt


def require(module: str, purpose: str) -> None:
    """Fail with how to install ``module`` if it is missing (an optional dependency)."""
    if find_spec(module) is None:
        raise ImportError(
            f"{purpose} needs the package {module!r}, which is not installed; install it "
            f"with `pip install {module}`"
        )


def write_table(frame: pd.DataFrame, path: StrPath) -> Path:
    """Write a DataFrame without its index, as CSV or Parquet by the file's suffix.

    The file is written beside ``path`` and renamed into place when whole
    (:func:`jmimpute.atomic.replacing`): an interrupted write leaves the previous file.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or path-like
        Ends in ``.csv`` or ``.parquet``; missing parent folders are created.

    Returns
    -------
    pathlib.Path
    """
    out = Path(path)
    fmt = table_format(out)
    if fmt == "parquet":
        require("pyarrow", "writing Parquet")
    with replacing(out) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    _log.info("wrote %d rows to %s", len(frame), out)
    return out


def read_table(path: StrPath) -> pd.DataFrame:
    """Read a CSV or Parquet file by its suffix."""
    source = Path(path)
    if table_format(source) == "parquet":
        require("pyarrow", "reading Parquet")
        return pd.read_parquet(source)
    return pd.read_csv(source)
