"""How much is missing, per variable."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def missing_table(data: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Count and fraction of missing values per variable.

    Parameters
    ----------
    data : pandas.DataFrame
    variables : sequence of str

    Returns
    -------
    pandas.DataFrame
        Indexed by variable, with ``n_missing``, ``fraction_missing`` and ``n_observed``.

    Examples
    --------
    >>> import pandas as pd
    >>> missing_table(pd.DataFrame({"a": [1.0, None, 3.0]}), ["a"])
              n_missing  fraction_missing  n_observed
    variable
    a                 1          0.333333           2
    """
    rows = []
    for name in variables:
        n_missing = int(data[name].isna().sum())
        rows.append(
            {
                "variable": name,
                "n_missing": n_missing,
                "fraction_missing": n_missing / data.shape[0],
                "n_observed": data.shape[0] - n_missing,
            }
        )
    return pd.DataFrame(rows).set_index("variable")
