"""Small text helpers for error messages, shared by every layer."""

from __future__ import annotations

import numpy as np
import pandas as pd

SHOW = 5
"""How many offending rows or clusters an error lists."""


def listed_rows(index: pd.Index, mask: np.ndarray) -> str:
    """The labels of the first :data:`SHOW` rows where ``mask`` holds, and how many more."""
    labels = [repr(v) for v in index[mask][:SHOW]]
    more = int(mask.sum()) - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")
