"""How much is missing, per variable."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def missing_table(
    data: pd.DataFrame,
    variables: Sequence[str],
    *,
    cluster: str | None = None,
    level2: Sequence[str] = (),
) -> pd.DataFrame:
    """Count and fraction of missing values per variable.

    Parameters
    ----------
    data : pandas.DataFrame
    variables : sequence of str
    cluster : str, optional
        The cluster variable; with it, level-2 variables also count missing clusters.
    level2 : sequence of str
        Which of ``variables`` are level-2.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable: ``level``, ``n_missing`` (rows), ``fraction_missing``,
        ``n_observed`` and, for level-2 variables, ``clusters_missing``.

    Examples
    --------
    >>> import pandas as pd
    >>> missing_table(pd.DataFrame({"a": [1.0, None, 3.0]}), ["a"])
              level  n_missing  fraction_missing  n_observed
    variable
    a             1          1          0.333333           2
    """
    rows = []
    for name in variables:
        n_missing = int(data[name].isna().sum())
        row = {
            "variable": name,
            "level": 2 if name in level2 else 1,
            "n_missing": n_missing,
            "fraction_missing": n_missing / data.shape[0],
            "n_observed": data.shape[0] - n_missing,
        }
        if name in level2 and cluster is not None:
            observed = data[name].notna().groupby(data[cluster], observed=True).any()
            row["clusters_missing"] = int((~observed).sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("variable")
