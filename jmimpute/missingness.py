"""How much is missing: per variable, per pattern (mice's ``md.pattern``), in complete rows.

Also :func:`add_mcar`, which deletes values completely at random from complete data (the
usual exercise, and what a model file's ``[missing]`` table asks for).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_MAX_PATTERNS = 30  # patterns shown by str() and the HTML repr; the table keeps all


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


def pattern_table(data: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Missing-data patterns, as in mice's ``md.pattern``.

    Parameters
    ----------
    data : pandas.DataFrame
    variables : sequence of str
        The columns whose patterns are counted.

    Returns
    -------
    pandas.DataFrame
        One row per pattern (index ``pattern``, numbered from 1): a column per variable with
        1 where it is observed and 0 where it is missing, ``n_rows`` (rows with the pattern)
        and ``n_missing`` (variables missing in the pattern). Variables are ordered by their
        number of missing values and patterns by their number of missing variables, then by
        frequency, so the complete rows come first (mice's order). A final row ``"total"``
        holds the missing values per variable, the number of rows and the number of missing
        cells.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, None, 3.0], "b": [1, 2, None]})
    >>> pattern_table(frame, ["a", "b"])  # doctest: +NORMALIZE_WHITESPACE
             a  b  n_rows  n_missing
    pattern
    1        1  1       1          0
    2        1  0       1          1
    3        0  1       1          1
    total    1  1       3          2
    """
    names = list(dict.fromkeys(variables))
    observed = data[names].notna()
    order = observed.eq(False).sum().sort_values(kind="stable").index.tolist()
    observed = observed[order].astype(np.int64)
    counts = observed.value_counts(sort=False).rename("n_rows").reset_index()
    counts["n_missing"] = len(order) - counts[order].sum(axis=1)
    # fewest missing first, then most frequent, then observed-before-missing variable by variable
    counts = counts.sort_values(
        ["n_missing", "n_rows", *order],
        ascending=[True, False, *([False] * len(order))],
        kind="stable",
    )
    counts.index = pd.Index(range(1, len(counts) + 1), name="pattern")
    total = {name: int(len(data) - observed[name].sum()) for name in order}
    total |= {"n_rows": len(data), "n_missing": int(sum(total.values()))}
    out = pd.concat([counts, pd.DataFrame([total], index=pd.Index(["total"], name="pattern"))])
    return out.astype(np.int64)


def _level2_columns(data: pd.DataFrame, variables: Sequence[str], cluster: str) -> list[str]:
    """Variables whose observed values never vary within a cluster (and vary between)."""
    groups = data.groupby(cluster, sort=False, observed=True)
    out = []
    for name in variables:
        within = groups[name].nunique(dropna=True)
        if within.max() <= 1 and data[name].nunique(dropna=True) > 1:
            out.append(name)
    return out


@dataclass(frozen=True)
class MissingnessSummary:
    """How much is missing, per variable and per pattern (see :func:`missingness`).

    Attributes
    ----------
    variables : pandas.DataFrame
        Missing values per variable (:func:`missing_table`).
    patterns : pandas.DataFrame
        The missing-data patterns with a final ``"total"`` row (:func:`pattern_table`).
    complete_rows : int
        Rows with every variable observed: what listwise deletion keeps.
    n_rows : int
        Rows in the data.
    cluster : str or None
        The cluster variable, if given.
    """

    variables: pd.DataFrame
    patterns: pd.DataFrame
    complete_rows: int
    n_rows: int
    cluster: str | None = None

    @property
    def n_patterns(self) -> int:
        """Number of distinct missing-data patterns."""
        return len(self.patterns) - 1

    def _listwise(self) -> str:
        share = self.complete_rows / self.n_rows if self.n_rows else float("nan")
        return (
            f"{self.n_rows} rows; {self.complete_rows} complete ({share:.1%}): listwise "
            f"deletion would drop {self.n_rows - self.complete_rows} rows"
        )

    def _shown_variables(self) -> pd.DataFrame:
        shown = self.variables.copy()
        if "clusters_missing" in shown:  # blank for level-1 variables
            counts = shown["clusters_missing"]
            shown["clusters_missing"] = ["" if pd.isna(v) else str(v) for v in counts]
        return shown

    def _shown_patterns(self) -> tuple[pd.DataFrame, int]:
        if self.n_patterns <= _MAX_PATTERNS:
            return self.patterns, 0
        shown = pd.concat([self.patterns.iloc[:_MAX_PATTERNS], self.patterns.iloc[[-1]]])
        return shown, self.n_patterns - _MAX_PATTERNS

    def __str__(self) -> str:
        patterns, hidden = self._shown_patterns()
        more = [f"... and {hidden} rarer patterns"] if hidden else []
        with pd.option_context("display.width", 120, "display.max_columns", 40):
            return "\n".join(
                [
                    self._listwise(),
                    "",
                    "Missing values per variable:",
                    self._shown_variables().to_string(float_format=lambda v: f"{v:.3f}"),
                    "",
                    f"Missing-data patterns ({self.n_patterns}; 1 = observed, 0 = missing):",
                    patterns.to_string(),
                    *more,
                ]
            )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        patterns, hidden = self._shown_patterns()
        more = f"<p>... and {hidden} rarer patterns</p>" if hidden else ""
        return (
            f"<p>{html.escape(self._listwise())}</p>"
            f"<p><b>Missing values per variable</b></p>"
            f"{self._shown_variables().to_html(float_format='{:.3f}'.format)}"
            f"<p><b>Missing-data patterns</b> ({self.n_patterns}; 1 = observed, 0 = missing)</p>"
            f"{patterns.to_html()}{more}"
        )


def missingness(
    data: pd.DataFrame,
    variables: Sequence[str] | None = None,
    *,
    cluster: str | None = None,
    level2: Sequence[str] | None = None,
) -> MissingnessSummary:
    """Summarise the missing values of a data set before imputing it.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified.
    variables : sequence of str, optional
        Columns to summarise; by default every column except ``cluster``.
    cluster : str, optional
        The cluster variable; with it, level-2 variables also count the clusters where
        they are missing.
    level2 : sequence of str, optional
        Which of ``variables`` are level-2 (constant within clusters). By default, with
        ``cluster``, those whose observed values never vary within a cluster.

    Returns
    -------
    MissingnessSummary
        ``.variables`` (per variable), ``.patterns`` (mice's ``md.pattern``) and
        ``.complete_rows`` (what listwise deletion keeps, as in Amelia's summary).

    Examples
    --------
    >>> import jmimpute as jm
    >>> summary = jm.missingness(jm.datasets.load_brandsma(), ["lpo", "iqv"], cluster="sch")
    >>> summary.complete_rows
    3886
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            f"`data` must be a pandas DataFrame, got {type(data).__name__}; "
            "wrap it with pd.DataFrame(...)"
        )
    if cluster is not None and cluster not in data.columns:
        raise ValueError(
            f"`cluster`={cluster!r} is not a column of `data`; columns are {list(data.columns)}"
        )
    if variables is None:
        names = [str(c) for c in data.columns if c != cluster]
    elif isinstance(variables, str):
        names = [variables]
    else:
        names = list(dict.fromkeys(variables))
    absent = [n for n in names if n not in data.columns]
    if absent or not names:
        raise ValueError(
            f"`variables` must name columns of `data`; {absent or 'none'} given that are not. "
            f"Columns are {list(data.columns)}"
        )
    if level2 is None:
        level2 = _level2_columns(data, names, cluster) if cluster is not None else []
    stray = [n for n in level2 if n not in names]
    if stray:
        raise ValueError(f"`level2` names {stray}, which are not among `variables` {names}")
    table = missing_table(data, names, cluster=cluster, level2=list(level2))
    if "clusters_missing" in table:
        table["clusters_missing"] = table["clusters_missing"].astype("Int64")
    return MissingnessSummary(
        variables=table,
        patterns=pattern_table(data, names),
        complete_rows=int(data[names].notna().all(axis=1).sum()),
        n_rows=len(data),
        cluster=cluster,
    )


def add_mcar(
    data: pd.DataFrame,
    columns: list[str] | tuple[str, ...],
    fraction: float = 0.05,
    *,
    cluster: str | None = None,
    level2: list[str] | tuple[str, ...] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """Delete values completely at random (the usual exercise on complete data).

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified; a copy is returned.
    columns : sequence of str
        Columns to delete values from, each independently.
    fraction : float
        Expected fraction deleted per column.
    cluster : str, optional
        The cluster variable; needed for ``level2`` columns.
    level2 : sequence of str
        Columns (among ``columns``) that are constant within clusters: whole clusters are
        deleted, so they stay constant within a cluster.
    seed : int

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import jmimpute as jm
    >>> hsb = add_mcar(jm.datasets.load_hsb(), ["ses", "size"], cluster="schid",
    ...                level2=["size"], seed=1)
    >>> bool(hsb.groupby("schid")["size"].nunique(dropna=False).max() == 1)
    True
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction={fraction!r} must lie in [0, 1)")
    if level2 and cluster is None:
        raise ValueError("level2 columns need `cluster=`, the column naming each row's cluster")
    out = data.copy(deep=True)
    rng = np.random.default_rng(seed)
    for col in columns:
        if col in level2:
            labels = pd.unique(out[cluster])
            gone = labels[rng.random(len(labels)) < fraction]
            out.loc[out[cluster].isin(gone), col] = np.nan
        else:
            out.loc[rng.random(len(out)) < fraction, col] = np.nan
    return out
