"""Completed sets made elsewhere: each program's layout, read into the same list of sets,
analysed and pooled exactly as that list; and an error with the fix for each way it fails.

The sets are plain DataFrames (no sampling): three "imputations" of a two-level data set.
"""

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm
from jmimpute.analysis.external import STACKED_LAYOUTS, completed_sets

FORMULA = "y ~ x + (1|g)"


def _sets(m: int = 3, clusters: int = 12, size: int = 6, seed: int = 5) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(1, clusters + 1), size)
    x0 = rng.normal(size=g.size)
    u = rng.normal(size=clusters)[g - 1]
    out = []
    for _ in range(m):
        x = x0 + 0.2 * rng.normal(size=g.size)  # "imputed" values differ between sets
        out.append(pd.DataFrame({"g": g, "y": 1.0 + 0.5 * x + u + rng.normal(size=g.size), "x": x}))
    return out


@pytest.fixture
def sets() -> list[pd.DataFrame]:
    return _sets()


def _incomplete(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(x=frame["x"].where(np.arange(len(frame)) % 4 != 0))


def _stacked(sets, column, start=1, **extra):
    """``sets`` one below the other, numbered in ``column`` from ``start``; extra columns
    are functions of (number, frame)."""
    parts = []
    for k, frame in enumerate(sets, start=start):
        front = {column: k} | {name: f(k, frame) for name, f in extra.items()}
        parts.append(pd.concat([pd.DataFrame(front, index=frame.index), frame], axis=1))
    return pd.concat(parts, ignore_index=True)


def _assert_same_sets(got, expected, *, exact=True):
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=exact, rtol=1e-12)


def _assert_same_analysis(a, b):
    """The same pooled tables, compared exactly (assert_frame_equal with check_exact)."""
    pd.testing.assert_frame_equal(a.pool().table, b.pool().table, check_exact=True)
    pd.testing.assert_series_equal(a.varcorr(), b.varcorr(), check_exact=True)


def test_blimp_stacked_file_pools_exactly_as_the_list(sets, tmp_path):
    """Blimp's SAVE: stacked writes the imputation number first and no header, its
    columns padded with spaces; with the variable names it gives the very same sets."""
    path = tmp_path / "imps.dat"
    lines = [
        f"{k:>4d} " + " ".join(f"{v!r:>24}" for v in row)
        for k, frame in enumerate(sets, start=1)
        for row in frame.itertuples(index=False)
    ]
    path.write_text("\n".join(lines) + "\n")
    names = list(sets[0].columns)

    _assert_same_sets(completed_sets(path, names=names), sets)
    from_file = jm.analyze(path, FORMULA, names=names, progressbar=False)
    from_list = jm.analyze(sets, FORMULA, progressbar=False)
    _assert_same_analysis(from_file, from_list)
    assert from_file.m == 3


def test_blimp_comma_separated_and_a_headerless_frame(sets, tmp_path):
    path = tmp_path / "imps.csv"
    stacked = _stacked(sets, "number")
    stacked.to_csv(path, header=False, index=False)
    _assert_same_sets(completed_sets(path, names=["g", "y", "x"]), sets)
    headerless = stacked.set_axis(range(stacked.shape[1]), axis=1)
    _assert_same_sets(completed_sets(headerless, names=["g", "y", "x"]), sets)


def test_mice_long_layout(sets):
    """mice's complete(imp, "long", include = TRUE): .imp 0 (the incomplete data) is
    dropped, and so is .id."""
    long = _stacked(
        [_incomplete(sets[0]), *sets], ".imp", start=0, **{".id": lambda k, f: np.arange(len(f))}
    )
    _assert_same_sets(completed_sets(long), sets)
    _assert_same_analysis(
        jm.analyze(long, FORMULA, progressbar=False), jm.analyze(sets, FORMULA, progressbar=False)
    )


def test_stata_mi_flong_layout(sets, tmp_path):
    flong = _stacked(
        [_incomplete(sets[0]), *sets],
        "_mi_m",
        start=0,
        _mi_id=lambda k, f: np.arange(1, len(f) + 1),
        _mi_miss=lambda k, f: f["x"].isna().astype(int) if k == 0 else np.nan,
    )
    _assert_same_sets(completed_sets(flong), sets)
    path = tmp_path / "flong.dta"
    flong.to_stata(path, write_index=False)
    from_dta = completed_sets(path)
    assert [list(s.columns) for s in from_dta] == [["g", "y", "x"]] * 3
    _assert_same_sets([s.astype(sets[0].dtypes.to_dict()) for s in from_dta], sets)


def test_jmimpute_stata_export_layout(sets):
    """jmimpute's own Stata export (``mi_m``, ``mi_id``, before ``mi import flong``)."""
    flong = _stacked(
        [_incomplete(sets[0]), *sets], "mi_m", start=0, mi_id=lambda k, f: np.arange(1, len(f) + 1)
    )
    _assert_same_sets(completed_sets(flong), sets)


def test_spss_split_layout_from_csv_and_sav(sets, tmp_path):
    split = _stacked([_incomplete(sets[0]), *sets], "Imputation_", start=0)
    path = tmp_path / "split.csv"
    split.to_csv(path, index=False)
    _assert_same_sets(completed_sets(path), sets, exact=False)
    pyreadstat = pytest.importorskip("pyreadstat")
    sav = tmp_path / "split.sav"
    pyreadstat.write_sav(split, str(sav))
    from_sav = completed_sets(sav)
    _assert_same_sets([s.astype(sets[0].dtypes.to_dict()) for s in from_sav], sets)


@pytest.mark.parametrize("column", ["Imputation", "imp_no"])
def test_jomo_layout_and_a_named_column(sets, column):
    stacked = _stacked([_incomplete(sets[0]), *sets], column, start=0)
    named = {} if column in STACKED_LAYOUTS else {"imputation_column": column}
    _assert_same_sets(completed_sets(stacked, **named), sets)
    fits = jm.analyze(stacked, FORMULA, progressbar=False, **named)
    _assert_same_analysis(fits, jm.analyze(sets, FORMULA, progressbar=False))


def test_parquet_file_and_a_list_of_files(sets, tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "long.parquet"
    _stacked(sets, ".imp").to_parquet(path, index=False)
    _assert_same_sets(completed_sets(path), sets)
    files = []
    for k, frame in enumerate(sets, start=1):
        files.append(tmp_path / f"imp_{k}.parquet")
        frame.to_parquet(files[-1], index=False)
    _assert_same_sets(completed_sets(files), sets)


def test_derived_cluster_mean_uses_the_formulas_group_and_leaves_the_sets_alone(sets):
    before = [s.copy() for s in sets]
    derived = jm.analyze(
        sets, "y ~ x + xm + (1|g)", derive={"xm": jm.cluster_mean("x")}, progressbar=False
    )
    inline = jm.analyze(sets, "y ~ x + mean(x) + (1|g)", progressbar=False)
    np.testing.assert_array_equal(
        derived.pool().table["estimate"].to_numpy(), inline.pool().table["estimate"].to_numpy()
    )
    _assert_same_sets(sets, before)


def test_sets_in_another_column_order_are_aligned(sets):
    reordered = [sets[0], sets[1][["x", "g", "y"]], sets[2]]
    got = completed_sets(reordered)
    assert all(list(s.columns) == ["g", "y", "x"] for s in got)


def test_imputation_zero_without_missing_values_is_flagged(sets):
    stacked = _stacked(sets, "Imputation_", start=0)
    with pytest.warns(UserWarning, match="has no missing values.*number them from 1"):
        got = completed_sets(stacked)
    assert len(got) == 2


# -- errors: each names the argument, what was found and the fix --------------------------
def test_no_known_imputation_column(sets):
    frame = pd.concat(sets, ignore_index=True)
    with pytest.raises(ValueError, match=r"none of the known ones, '\.imp' \(R \(mice") as err:
        completed_sets(frame)
    message = str(err.value)
    for name in STACKED_LAYOUTS:
        assert repr(name) in message
    assert "imputation_column=" in message and "names=[...]" in message


def test_unknown_imputation_column_suggests_one(sets):
    stacked = _stacked(sets, "imp_no")
    with pytest.raises(ValueError, match=r"`imputation_column` 'imp_n0' .*did you mean 'imp_no'"):
        completed_sets(stacked, imputation_column="imp_n0")


def test_several_known_columns_are_ambiguous(sets):
    stacked = _stacked(sets, ".imp", Imputation_=lambda k, f: k)
    with pytest.raises(ValueError, match=r"several imputation-number columns.*imputation_column="):
        completed_sets(stacked)


def test_imputation_numbers_must_be_whole(sets):
    stacked = _stacked(sets, ".imp").assign(**{".imp": lambda d: d[".imp"] + 0.5})
    with pytest.raises(ValueError, match=r"column '\.imp'.*whole numbers.*found 1\.5"):
        completed_sets(stacked)


def test_sets_of_unequal_length(sets):
    with pytest.raises(ValueError, match=r"unequal numbers of rows \(set 1: 72, set 2: 71, set 3"):
        completed_sets([sets[0], sets[1].iloc[:-1], sets[2]])
    ragged = _stacked([sets[0], sets[1].iloc[:-2]], ".imp")
    with pytest.raises(ValueError, match=r"stacked `source`.*set 1: 72, set 2: 70"):
        completed_sets(ragged)


@pytest.mark.parametrize("how", ["list", "stacked"])
def test_fewer_than_two_sets(sets, how):
    source = [sets[0]] if how == "list" else _stacked([_incomplete(sets[0]), sets[0]], ".imp", 0)
    with pytest.raises(
        ValueError, match=r"holds 1 completed data set\(s\); pooling needs at least"
    ):
        completed_sets(source)


def test_columns_that_differ_between_sets(sets):
    odd = sets[1].rename(columns={"x": "w"})
    with pytest.raises(ValueError, match=r"set 2 .* extra \['w'\], missing \['x'\]"):
        completed_sets([sets[0], odd, sets[2]])


def test_names_must_match_the_file(sets, tmp_path):
    path = tmp_path / "imps.dat"
    _stacked(sets, "k").to_csv(path, sep=" ", header=False, index=False)
    with pytest.raises(ValueError, match=r"`names` gives 2 column names, but .* has 4 columns"):
        completed_sets(path, names=["y", "x"])
    with pytest.raises(ValueError, match=r"is not a \.csv, .*names=\[\.\.\.\]"):
        completed_sets(path)
    with pytest.raises(ValueError, match=r"either `names`.*or `imputation_column`"):
        completed_sets(path, names=["g", "y", "x"], imputation_column="k")
    with pytest.raises(ValueError, match=r"`names` repeats \['y'\]"):
        completed_sets(path, names=["g", "y", "y"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        completed_sets(tmp_path / "absent.dat", names=["g", "y", "x"])


def test_wrong_kinds_of_source(sets):
    with pytest.raises(TypeError, match=r"`source` item 2 is a dict"):
        completed_sets([sets[0], {"y": [1]}])
    with pytest.raises(TypeError, match="`source` must be an Imputation, a stacked DataFrame"):
        completed_sets(42)
    with pytest.raises(TypeError, match="a list of completed sets needs neither"):
        completed_sets(sets, imputation_column=".imp")


def test_analyze_needs_a_formula_for_sets_made_elsewhere(sets):
    with pytest.raises(TypeError, match=r"give the analysis `formula`.*made elsewhere"):
        jm.analyze(sets)
    with pytest.raises(TypeError, match="`imp` must be an Imputation"):
        jm.analyze({"y": [1.0]}, "y ~ 1")


def test_analyze_names_its_own_argument(sets):
    with pytest.raises(ValueError, match=r"the list `imp` holds 1 completed data set"):
        jm.analyze([sets[0]], FORMULA, progressbar=False)


def test_names_are_refused_for_files_that_name_their_columns(sets, tmp_path):
    path = tmp_path / "flong.dta"
    _stacked(sets, "_mi_m").to_stata(path, write_index=False)
    with pytest.raises(
        ValueError, match=r"`names` is for headerless text files.*leave `names` out"
    ):
        completed_sets(path, names=["g", "y", "x"])
