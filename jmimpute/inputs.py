"""The user's data: a bundled data set, a CSV or Parquet file, or what a model file names."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from jmimpute import datasets
from jmimpute.missingness import add_mcar
from jmimpute.spec.modelfile import ModelFile, ModelFileError
from jmimpute.tables import StrPath, read_table

_log = logging.getLogger("jmimpute")


def bundled_datasets() -> tuple[str, ...]:
    """Names of the data sets shipped with jmimpute (``jmimpute.datasets.load_NAME``)."""
    return tuple(name.removeprefix("load_") for name in datasets.__all__)


def read_data(source: StrPath) -> pd.DataFrame:
    """A bundled data set by name (``"brandsma"``, ``"hsb"``), or a CSV or Parquet file.

    Examples
    --------
    >>> read_data("brandsma").shape
    (4106, 14)
    """
    if isinstance(source, str) and source in bundled_datasets():
        frame: pd.DataFrame = getattr(datasets, f"load_{source}")()
        return frame
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(
            f"data {str(source)!r} is neither a bundled data set "
            f"({', '.join(bundled_datasets())}) nor an existing file"
        )
    return read_table(path)


def load_model_data(model: ModelFile) -> pd.DataFrame:
    """The data a model file names, with its ``[missing]`` values deleted."""
    data = read_data(model.data)
    _log.info("read %d rows and %d columns from %s", *data.shape, model.data)
    if model.missing is not None:
        miss = model.missing
        absent = [c for c in (*miss.columns, miss.cluster) if c not in data.columns]
        if absent:
            raise ModelFileError(
                model.path,
                None,
                "missing",
                f"[missing] names {absent}, which are not "
                f"columns of the data; columns are {list(data.columns)}",
            )
        data = add_mcar(
            data,
            list(miss.columns),
            miss.fraction,
            cluster=miss.cluster,
            level2=list(miss.level2),
            seed=miss.seed,
        )
        _log.info(
            "deleted %.0f%% of %s completely at random (seed %d)",
            100 * miss.fraction,
            ", ".join(miss.columns),
            miss.seed,
        )
    return data
