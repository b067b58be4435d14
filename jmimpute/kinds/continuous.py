"""Continuous targets: standardised values in one dimension with a free scale."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jmimpute._text import listed_rows
from jmimpute.kinds.base import VariableKind


class Continuous(VariableKind):
    """A continuous target: centred and scaled by its observed mean and sd."""

    name = "continuous"
    latent = False
    covariance = "free"
    delta = "the variable's own units"

    def check(self, column: pd.Series, name: str) -> str | None:
        """Infinite values, or one value in every observed row (no spread to model)."""
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        observed = values[~np.isnan(values)]
        if not np.isfinite(observed).all():
            return (
                f"target {name!r} has infinite values (rows "
                f"{listed_rows(column.index, np.isinf(values))}); replace them with NaN to "
                "impute them, or fix them"
            )
        if np.unique(observed).size < 2:
            return (
                f"target {name!r} has the same observed value ({float(observed[0]):g}) in "
                "every row where it is observed; a constant cannot be modelled as normal: "
                "leave it out of the formula"
            )
        return None


CONTINUOUS = Continuous()
