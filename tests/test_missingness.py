"""Missingness summary: per variable, md.pattern-style patterns, listwise deletion."""

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm
from jmimpute.missingness import missing_table, pattern_table

VARS = ["lpo", "iqv", "ses", "den", "ssi"]


@pytest.fixture(scope="module")
def brandsma():
    return jm.datasets.load_brandsma()


def test_patterns_match_plain_pandas_counts(brandsma):
    table = pattern_table(brandsma, VARS)
    patterns = table.drop(index="total")
    # independent count: group rows by their tuple of observed flags
    flags = brandsma[VARS].notna().astype(int)
    expected = flags.groupby(VARS).size()
    assert len(patterns) == len(expected)
    assert patterns["n_rows"].sum() == len(brandsma)
    for _, row in patterns.iterrows():
        key = tuple(int(row[v]) for v in VARS)
        assert row["n_rows"] == expected.loc[key], key
        assert row["n_missing"] == len(VARS) - sum(key)


def test_pattern_order_and_total_row(brandsma):
    table = pattern_table(brandsma, VARS)
    patterns = table.drop(index="total")
    # complete rows first, then by number of missing variables, most frequent first within
    assert patterns.iloc[0][VARS].tolist() == [1] * len(VARS)
    assert patterns["n_missing"].is_monotonic_increasing
    for _, group in patterns.groupby("n_missing"):
        assert group["n_rows"].is_monotonic_decreasing
    # variables ordered by their number of missing values, as md.pattern does
    counts = brandsma[VARS].isna().sum()
    variables = [c for c in table.columns if c in VARS]
    assert counts[variables].is_monotonic_increasing
    total = table.loc["total"]
    for v in VARS:
        assert total[v] == counts[v]
    assert total["n_rows"] == len(brandsma)
    assert total["n_missing"] == counts.sum()
    assert list(patterns.index) == list(range(1, len(patterns) + 1))


def test_listwise_and_variables(brandsma):
    summary = jm.missingness(brandsma, VARS, cluster="sch")
    assert summary.complete_rows == len(brandsma.dropna(subset=VARS))
    assert summary.n_rows == len(brandsma)
    assert summary.n_patterns == len(brandsma[VARS].notna().drop_duplicates())
    expected = missing_table(brandsma, VARS, cluster="sch", level2=["den", "ssi"])
    pd.testing.assert_frame_equal(
        summary.variables.drop(columns="clusters_missing"),
        expected.drop(columns="clusters_missing"),
    )
    # den and ssi are constant within schools: detected as level 2, with clusters counted
    assert summary.variables.loc[["den", "ssi"], "level"].tolist() == [2, 2]
    assert summary.variables.loc[["lpo", "iqv", "ses"], "level"].tolist() == [1, 1, 1]
    missing_schools = brandsma.groupby("sch")["den"].apply(lambda s: s.isna().all()).sum()
    assert summary.variables.loc["den", "clusters_missing"] == missing_schools


def test_defaults_and_repr(brandsma):
    summary = jm.missingness(brandsma, cluster="sch")
    assert "sch" not in summary.variables.index
    assert len(summary.variables) == brandsma.shape[1] - 1
    text = str(summary)
    assert f"{summary.complete_rows} complete" in text
    assert "listwise deletion would drop" in text
    assert "Missing-data patterns" in text
    assert "rarer patterns" in text  # 44 patterns, 30 shown
    html = summary._repr_html_()
    assert "<table" in html and "Missing-data patterns" in html


def test_explicit_level2_and_no_cluster():
    data = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [np.nan, np.nan, 2.0, 2.0]})
    summary = jm.missingness(data)
    assert summary.complete_rows == 2
    assert "clusters_missing" not in summary.variables
    assert summary.patterns.loc["total", "n_missing"] == 3
    clustered = jm.missingness(data.assign(g=[1, 1, 2, 2]), ["a", "b"], cluster="g", level2=["b"])
    assert clustered.variables.loc["b", "clusters_missing"] == 1


def test_data_not_modified(brandsma):
    before = brandsma.copy(deep=True)
    jm.missingness(brandsma, VARS, cluster="sch")
    pd.testing.assert_frame_equal(brandsma, before)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"variables": ["nope"]}, ValueError, "nope"),
        ({"cluster": "school"}, ValueError, "`cluster`='school'"),
        ({"variables": ["lpo"], "level2": ["den"]}, ValueError, "`level2` names"),
    ],
)
def test_bad_arguments(brandsma, kwargs, error, message):
    with pytest.raises(error, match=message):
        jm.missingness(brandsma, **kwargs)


def test_not_a_frame():
    with pytest.raises(TypeError, match="pandas DataFrame"):
        jm.missingness([[1, 2]])  # type: ignore[arg-type]
