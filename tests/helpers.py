"""Helpers shared across test modules."""

from __future__ import annotations

from jmimpute.design import Design, build_design
from jmimpute.spec.model import build_spec
from jmimpute.validate import validate


def design_for(data, formula, **kwargs) -> Design:
    """The standardised design jmimpute builds for ``formula`` on ``data``."""
    spec = build_spec(formula, **kwargs)
    frame, level1, level2 = validate(data, spec)
    return build_design(frame, spec.level1, level1, spec.level2, level2)


def plain(values) -> list:
    """Values as a CSV file keeps them: None, float (exact: CSV keeps the shortest repr) or str."""
    import numpy as np
    import pandas as pd

    return [
        None
        if pd.isna(v)
        else float(v)
        if isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        else str(v)
        for v in values
    ]
