"""Hand-off layouts (Mplus, Stata, SPSS, R): the files read back and checked against each
program's documented layout; R's mice pools the written file as jm.analyze pools the sets.

The result is made without sampling (:func:`fake_imputation`): the layouts depend only on
the completed sets, so random imputed values in the places and kinds a run gives them test
them as well as a run would, in milliseconds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import jmimpute as jm
from jmimpute.atomic import TEMPORARY_PREFIX
from jmimpute.design.standardised import build_design
from jmimpute.results import handoff
from jmimpute.results.handoff import EXPORTS, Exporter
from jmimpute.results.imputation import Imputation
from jmimpute.results.tree import imputations_dataset
from jmimpute.spec.exports import EXPORT_TARGETS
from jmimpute.spec.model import build_spec
from jmimpute.spec.modelfile import SCHEMA
from jmimpute.spec.validate import validate

from ..helpers import plain

FORMULA = ["lpo + iqv + sex ~ 1 + (1|sch)", "den ~ 1"]
# the codes every program gets (jmimpute.results.handoff.common): whole-number categories
# keep their values, False/True are 0/1, other categories 1..K in their order
CODES = {
    "sex": {"boy": 1, "girl": 2},
    "den": {4: 4, 3: 3, 2: 2, 1: 1},
    "min": {False: 0, True: 1},
    "track": {"academic": 1, "general": 2, "vocational": 3},
}
LABELS = {col: {code: str(level) for level, code in codes.items()} for col, codes in CODES.items()}


def fake_imputation(data: pd.DataFrame, formula, *, m: int = 3, seed: int = 0) -> Imputation:
    """An Imputation of ``data`` whose draws are random values, made without sampling.

    The cells are laid out by the library's own :func:`imputations_dataset`, as a run lays
    them out: continuous values drawn on the standardised scale, categories as codes.
    """
    spec = build_spec(formula, m=m, progressbar=False)
    frame, level1, level2 = validate(data, spec)
    design = build_design(frame, spec.level1, level1, spec.level2, level2)
    rng = np.random.default_rng(seed)

    def block(variables, units):
        return np.column_stack(
            [
                rng.integers(0, len(v.categories), units).astype(float)
                if v.categories
                else rng.normal(size=units)
                for v in variables
            ]
        )

    draws = [
        SimpleNamespace(
            level1=block(level1, len(frame)),
            level2=block(level2, len(design.cluster_labels)) if level2 else None,
        )
        for _ in range(m)
    ]
    cells = imputations_dataset(draws, design, xr.Dataset(), frame.index)
    tree = xr.DataTree.from_dict({"imputations": cells})
    return Imputation(frame, spec, tree, variables=(level1, level2))


@pytest.fixture(scope="module")
def data():
    """600 rows of brandsma with a categorical, an ordinal, a boolean, a nullable integer
    and a text column (with missing values) that no model imputes."""
    frame = jm.datasets.load_brandsma().head(600).copy()
    frame["den"] = pd.Categorical(frame["den"], categories=[4, 3, 2, 1])
    frame["min"] = frame["min"].astype(bool)
    frame["rpg"] = frame["rpg"].astype("Int64")
    frame["sex"] = pd.Categorical.from_codes(
        frame["sex"].fillna(-1).astype(int), categories=["boy", "girl"], ordered=True
    )
    rng = np.random.default_rng(4)
    track = rng.choice(["vocational", "general", "academic"], len(frame)).astype(object)
    track[rng.random(len(frame)) < 0.1] = None
    frame["track"] = track
    return frame


@pytest.fixture(scope="module")
def imp(data):
    return fake_imputation(data, FORMULA).with_columns(iqm=jm.cluster_mean("iqv"))


def coded(frame: pd.DataFrame) -> pd.DataFrame:
    """A data set as the programs store it: categories as CODES, everything float."""
    out = frame.copy()
    for col, codes in CODES.items():
        out[col] = frame[col].astype(object).map(codes)
    return out.astype("float64")


def incomplete(imp) -> pd.DataFrame:
    """The incomplete data as the files hold it: derived columns missing (not computed)."""
    return imp.complete("all", include=True)[0]


def assert_sets_agree(sets: list[pd.DataFrame], imp, original: pd.DataFrame | None) -> None:
    """Set k holds imp.complete(k); observed values are the same in every set; imputed
    variables are complete; categorical columns hold valid codes only."""
    observed = coded(incomplete(imp))
    if original is not None:  # the incomplete data, m = 0, as written
        np.testing.assert_array_equal(original.to_numpy(float), observed.to_numpy())
    seen = observed.notna().to_numpy()
    for k, got in enumerate(sets, start=1):
        assert list(got.columns) == list(observed.columns)
        values = got.to_numpy(float)
        np.testing.assert_array_equal(values, coded(imp.complete(k)).to_numpy())
        np.testing.assert_array_equal(values[seen], observed.to_numpy()[seen])
        assert not got[[v.name for v in imp.variables]].isna().any().any(), k
        for col, codes in CODES.items():
            assert set(got[col].dropna()) <= set(codes.values()), (k, col)


# -- the registry --------------------------------------------------------------------------
def test_the_registry_is_data_and_the_model_file_knows_every_package():
    assert list(EXPORTS) == ["mplus", "stata", "spss", "r"]
    for name, entry in EXPORTS.items():
        assert isinstance(entry, Exporter)
        assert {"columns", "rename"} <= set(entry.options), name
        assert (entry.target == "folder") == (entry.suffixes == ()), name
    assert set(EXPORTS) <= set(SCHEMA["output"])


@pytest.mark.parametrize(
    ("package", "path", "options", "error", "message"),
    [
        ("sas", "x.sas7bdat", {}, ValueError, r"`package` must be one of 'mplus', 'stata'"),
        ("stata", "x.csv", {}, ValueError, r"`path` 'x.csv'.*ending in \.dta; use e\.g\. 'x\.dta'"),
        ("r", "x.parquet", {}, ValueError, r"ending in \.csv"),
        ("stata", 3, {}, TypeError, r"`path` must be a file or folder name.*got int 3"),
        (
            "stata",
            "x.dta",
            {"sep": ","},
            TypeError,
            r"takes the options columns, rename; got 'sep'",
        ),
        ("mplus", "m", {"sep": ";"}, ValueError, r"`sep` must be one of"),
        ("mplus", "m", {"missing": "."}, TypeError, r"`missing` must be a number"),
        ("mplus", "m", {"max_name_length": 0}, ValueError, r"`max_name_length` must be"),
        ("r", "x.csv", {"columns": ["lpo", "nope"]}, ValueError, r"`columns` names \['nope'\]"),
        ("r", "x.csv", {"columns": "lpo"}, TypeError, r"`columns` must be a list"),
        ("r", "x.csv", {"rename": {"nope": "a"}}, ValueError, r"`rename` names \['nope'\]"),
        (
            "r",
            "x.csv",
            {"rename": {"lpo": "iqv"}},
            ValueError,
            r"gives the columns \['iqv', 'lpo'\] the same name",
        ),
        ("r", "x.csv", {"rename": {"lpo": ".imp"}}, ValueError, r"clash with mice's \.imp"),
    ],
)
def test_bad_input_names_the_argument_value_and_fix(
    imp, tmp_path, package, path, options, error, message
):
    target = tmp_path / path if isinstance(path, str) else path
    with pytest.raises(error, match=message.replace("'x", f"'{tmp_path}/x")):
        imp.export(package, target, **options)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a folder


def test_package_names_are_read_without_case(imp, tmp_path):
    assert imp.export("Stata", tmp_path / "a.dta") == [tmp_path / "a.dta"]


# -- Mplus ----------------------------------------------------------------------------------
def read_mplus(folder: Path):
    """The template's NAMES, MISSING code and code list, and the data files in implist."""
    inp = (folder / "analysis.inp").read_text()
    names = re.search(r"NAMES = (.*?);", inp, re.S).group(1).split()
    missing = float(re.search(r"MISSING = ALL \((.*?)\);", inp).group(1))
    files = (folder / "implist.dat").read_text().splitlines()
    sets = [pd.read_csv(folder / f, header=None, names=names) for f in files]
    return inp, names, missing, files, sets


def test_mplus_files_as_type_imputation_reads_them(imp, tmp_path):
    """Mplus User's Guide (DATA command, TYPE = IMPUTATION; example 13.13), paraphrased:
    with TYPE = IMPUTATION the file named by FILE lists the names of the imputed data
    sets, one name per line; each data set is a text file of numbers in free format
    (separated by commas or blanks), without a header, its columns in the order of
    VARIABLE: NAMES; missing values carry the code declared by MISSING."""
    written = imp.export("mplus", tmp_path / "mplus")
    inp, names, missing, files, sets = read_mplus(tmp_path / "mplus")
    assert files == ["imp_01.dat", "imp_02.dat", "imp_03.dat"]
    assert [p.name for p in written] == [*files, "implist.dat", "analysis.inp"]
    assert names == [*map(str, imp.data.columns), "iqm"]
    for f in files:  # no header: the first line is numbers
        first = (tmp_path / "mplus" / f).read_text().splitlines()[0].split(",")
        assert len(first) == len(names) and all(re.fullmatch(r"-?[\d.]+", v) for v in first)
    assert "FILE = implist.dat;" in inp and "TYPE = IMPUTATION;" in inp
    assert "CLUSTER = sch;" in inp and "TYPE = TWOLEVEL;" in inp
    assert all(len(line) <= 90 for line in inp.splitlines())  # Mplus before 8 reads 90
    assert "!   sex: 1 = boy, 2 = girl" in inp and "!   den: 4 = 4, 3 = 3, 2 = 2, 1 = 1" in inp
    assert "track: 1 = academic, 2 = general, 3 = vocational" in inp
    for got in sets:
        assert all(pd.api.types.is_numeric_dtype(d) for d in got.dtypes)
    # values still missing (columns no model imputes) carry the code, nothing else does
    assert_sets_agree([s.replace(missing, np.nan) for s in sets], imp, None)
    still = [s.eq(missing).to_numpy() for s in sets]
    assert all(np.array_equal(h, imp.complete(k).isna().to_numpy()) for k, h in enumerate(still, 1))


def test_mplus_options(imp, tmp_path):
    imp.export("mplus", tmp_path, sep=" ", missing=-99999, columns=["sch", "lpo", "den"])
    _, names, missing, _, _ = read_mplus(tmp_path)
    assert names == ["sch", "lpo", "den"] and missing == -99999
    assert (tmp_path / "imp_01.dat").read_text().splitlines()[0].count(" ") == 2
    with pytest.raises(ValueError, match=r"`missing`=1 is a value of the column\(s\) \['sch'"):
        imp.export("mplus", tmp_path / "again", missing=1)


def test_mplus_numbers_are_exact_and_without_exponents(imp, tmp_path):
    """Free-format fields are plain decimals (0.00001, not 1e-05) that read back exactly."""
    tiny = imp.with_columns(tiny=lambda d: d["iqv"] * 1e-6, huge=lambda d: d["iqv"] * 1e17)
    tiny.export("mplus", tmp_path, columns=["tiny", "huge"])
    text = (tmp_path / "imp_01.dat").read_text()
    assert "e" not in text.lower()
    back = pd.read_csv(tmp_path / "imp_01.dat", header=None, names=["tiny", "huge"])
    np.testing.assert_array_equal(back.to_numpy(), tiny.complete(1)[["tiny", "huge"]].to_numpy())


def test_mplus_names_are_checked_cut_and_compared_without_case(imp, tmp_path):
    with pytest.raises(ValueError, match=r"Mplus cannot read the column name\(s\) 'iq\.v' "
                       r"\(renamed from 'iqv'\).*rename=\{'iqv': 'iq_v'\}"):  # fmt: skip
        imp.export("mplus", tmp_path / "a", rename={"iqv": "iq.v"})
    clash = r"'iqv', 'IQV' \(renamed from 'lpo'\) are one variable to Mplus, IQV, once cut to 90"
    with pytest.raises(ValueError, match=clash + r".*rename=\{'iqv': \.\.\., 'lpo'"):
        imp.export("mplus", tmp_path / "b", rename={"lpo": "IQV"})
    with pytest.raises(ValueError, match=r"one variable to Mplus, LANGUAGE, once cut to 8"):
        imp.export(
            "mplus",
            tmp_path / "c",
            rename={"lpo": "language_post", "lpr": "language_pre"},
            max_name_length=8,
        )
    with pytest.warns(UserWarning, match=r"\['language_post'\] are written as \['language'\]"):
        imp.export("mplus", tmp_path / "d", rename={"lpo": "language_post"}, max_name_length=8)
    assert " language " in (tmp_path / "d" / "analysis.inp").read_text()
    assert not (tmp_path / "a").exists()


def test_mplus_refuses_columns_that_are_not_numbers(tmp_path):
    frame = jm.datasets.load_brandsma().head(100).copy()
    frame["when"] = pd.Timestamp("2020-01-01")
    imp = fake_imputation(frame, "lpo ~ 1 + (1|sch)", m=2)
    with pytest.raises(
        ValueError, match=r"Mplus reads numbers only, and the column\(s\) \['when'\]"
    ):
        imp.export("mplus", tmp_path)
    imp.export("mplus", tmp_path, columns=["sch", "lpo"])  # the fix the message names


# -- Stata ---------------------------------------------------------------------------------
def test_stata_mi_flong_layout(imp, tmp_path):
    """The flong layout that ``mi import flong, m(varname) id(varlist) imputed(varlist)``
    reads ([MI] mi import flong; as the UCLA FAQ on imported imputations puts it, "Stata's
    MI commands expect that the original (pre-imputation) data is included", as m = 0, and
    its example imports with ``m(m) id(id)``): one imputation-number variable, 0 for the
    incomplete data, and one observation id, the same in every set. The import creates
    ``_mi_m``, ``_mi_id`` and ``_mi_miss`` itself, so the file must not hold them."""
    from pandas.io.stata import StataReader

    path = imp.export("stata", tmp_path / "flong.dta")[0]
    back = pd.read_stata(path, convert_categoricals=False)
    n = len(imp.data)
    assert list(back.columns[:2]) == ["mi_m", "mi_id"]
    assert not any(str(c).startswith("_mi_") for c in back.columns)
    assert back["mi_m"].tolist() == np.repeat(np.arange(imp.m + 1), n).tolist()
    assert back["mi_id"].tolist() == list(range(1, n + 1)) * (imp.m + 1)
    blocks = [b.drop(columns=["mi_m", "mi_id"]) for _, b in back.groupby("mi_m")]
    assert_sets_agree(blocks[1:], imp, blocks[0])
    with StataReader(path) as reader:
        labels = reader.value_labels()
        assert reader.data_label == (  # the derived iqm is passive
            "mi import flong, m(mi_m) id(mi_id) imputed(iqv sex lpo den) passive(iqm)"
        )
    for col, expected in LABELS.items():
        assert {int(k): v for k, v in labels[col].items()} == expected, col
    labelled = pd.read_stata(path)  # categories as Stata shows them
    assert set(labelled["sex"].dropna()) == {"boy", "girl"}


@pytest.mark.parametrize(
    ("new", "why", "fix"),
    [
        ("1lpo", "begins with a digit", "v1lpo"),
        ("long", "a reserved word", "long_v"),
        ("_mi_lpo", "begins with _mi_", "v_mi_lpo"),
        ("l" * 33, "33 characters", "l" * 32),
        ("lpo post", "holds characters other than letters, digits and _", "lpo_post"),
    ],
)
def test_stata_names(imp, tmp_path, new, why, fix):
    message = rf"Stata cannot read .*\(renamed from 'lpo'\) \({why}\).*rename=\{{'lpo': '{fix}'\}}"
    with pytest.raises(ValueError, match=message):
        imp.export("stata", tmp_path / "x.dta", rename={"lpo": new})
    assert not (tmp_path / "x.dta").exists()


def test_stata_refuses_a_column_named_as_the_import_variables(imp, tmp_path):
    with pytest.raises(ValueError, match=r"\(renamed from 'lpo'\) \(the file's own mi_m or mi_id"):
        imp.export("stata", tmp_path / "x.dta", rename={"lpo": "mi_m"})
    assert not (tmp_path / "x.dta").exists()


# -- SPSS ----------------------------------------------------------------------------------
def test_spss_imputation_split_layout(imp, tmp_path):
    """IBM SPSS Statistics, Multiple Imputation (paraphrased): imputed data sets are stacked
    in one file with the variable Imputation_, which is 0 for the original data (with its
    missing values) and 1..m for the imputations; splitting the file by Imputation_ makes
    the procedures pool over the imputations."""
    pyreadstat = pytest.importorskip("pyreadstat")
    path = imp.export("spss", tmp_path / "split.sav")[0]
    back, meta = pyreadstat.read_sav(path)
    assert back.columns[0] == "Imputation_"
    assert meta.column_names_to_labels["Imputation_"] == "Imputation Number"
    n = len(imp.data)
    assert back["Imputation_"].tolist() == np.repeat(np.arange(imp.m + 1.0), n).tolist()
    blocks = [b.drop(columns="Imputation_") for _, b in back.groupby("Imputation_")]
    assert_sets_agree(blocks[1:], imp, blocks[0])
    for col, expected in LABELS.items():
        assert {int(k): v for k, v in meta.variable_value_labels[col].items()} == expected
    assert meta.variable_measure["sex"] == "ordinal" and meta.variable_measure["den"] == "nominal"
    assert meta.variable_measure["Imputation_"] == "nominal"


def test_spss_without_pyreadstat_writes_csv_with_a_warning(imp, tmp_path, monkeypatch):
    monkeypatch.setattr(handoff.spss, "have_pyreadstat", lambda: False)
    with pytest.warns(UserWarning, match="pyreadstat is not installed"):
        written = imp.export("spss", tmp_path / "split.sav")
    assert written == [tmp_path / "split.csv"] and not (tmp_path / "split.sav").exists()
    back = pd.read_csv(written[0])
    assert back.columns[0] == "Imputation_" and back["Imputation_"].max() == imp.m
    assert set(back["sex"].dropna()) == {"boy", "girl"}


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            "imputation_",
            r"'imputation_' \(renamed from 'lpo'\) are one variable to SPSS, "
            r"the split variable Imputation_",
        ),
        ("BY", r"'BY' \(renamed from 'lpo'\) \(a keyword\).*rename=\{'lpo': 'BY_v'\}"),
        ("lpo.", r"'lpo\.' \(renamed from 'lpo'\) \(ends with a period\)"),
        ("_lpo", r"'_lpo' \(renamed from 'lpo'\) \(does not begin with a letter\)"),
    ],
)
def test_spss_names(imp, tmp_path, new, message):
    with pytest.raises(ValueError, match=message):
        imp.export("spss", tmp_path / "x.sav", rename={"lpo": new})


# -- R ---------------------------------------------------------------------------------------
def test_r_long_layout_for_as_mids(imp, tmp_path):
    """mice, ?as.mids: ".imp: ... The values are assumed to be consecutive integers between
    0 and m. Values 1 through m correspond to the imputation index, value 0 indicates the
    original data (with missings)"; ".id: ... indicating the subject identification";
    "The function expects the input data long to be sorted by imputation number ... and in
    the same sequence within each imputation block"."""
    path = imp.export("r", tmp_path / "long.csv")[0]
    back = pd.read_csv(path)
    assert list(back.columns[:2]) == [".imp", ".id"]
    n = len(imp.data)
    assert back[".imp"].tolist() == np.repeat(np.arange(imp.m + 1), n).tolist()
    assert back[".id"].tolist() == imp.data.index.tolist() * (imp.m + 1)
    assert "NA" in path.read_text()  # R's read.csv reads NA as missing in text columns too
    sets = [b.drop(columns=[".imp", ".id"]) for _, b in back.groupby(".imp")]
    for k, (got, expected) in enumerate(zip(sets, imp.complete("all", include=True), strict=True)):
        for col in expected.columns:
            assert plain(got[col]) == plain(expected[col]), (k, col)


def _r_ready() -> str | None:
    """Why R cannot pool here, or None."""
    if shutil.which("Rscript") is None:
        return "Rscript is not on PATH"
    check = subprocess.run(
        ["Rscript", "-e", "library(mice); library(lme4); library(broom.mixed)"],
        capture_output=True,
        text=True,
    )
    return None if check.returncode == 0 else "R lacks mice, lme4 or broom.mixed"


POOL_IN_R = """
suppressPackageStartupMessages({library(mice); library(lme4); library(broom.mixed)})
mids <- as.mids(read.csv(commandArgs(TRUE)[1]))
fits <- with(mids, lmer(lpo ~ iqv + (1 | sch), REML = TRUE))
pooled <- summary(pool(fits))
write.csv(data.frame(term = pooled$term, estimate = pooled$estimate,
                     se = pooled$std.error), commandArgs(TRUE)[2], row.names = FALSE)
"""


def test_mice_pools_the_file_as_jm_analyze_pools_the_sets(imp, tmp_path):
    """as.mids -> with(lmer(REML)) -> pool in R, against jm.analyze (statsmodels MixedLM,
    REML) -> Rubin's rules on the same sets.

    Both maximise the same REML likelihood, so the pooled estimates agree to the
    optimisers' tolerance (1e-4 relative). The standard errors differ by about 1e-3
    relative, for a reason in the fitters, not the file: lme4 takes the fixed effects'
    covariance as (X'V^-1 X)^-1 at the variance estimates, statsmodels inverts the observed
    Hessian of the whole REML likelihood, including the variance parameters (on set 1 the
    intercept's s.e. is 0.69002 in lme4, 0.69005 by (X'V^-1 X)^-1 with statsmodels' variance
    estimates, and 0.69052 from statsmodels' Hessian): they are compared at 5e-3.
    """
    why = _r_ready()
    if why is not None:
        pytest.skip(why)
    path = imp.export("r", tmp_path / "long.csv")[0]
    script = tmp_path / "pool.R"
    script.write_text(POOL_IN_R)
    out = tmp_path / "pooled.csv"
    done = subprocess.run(
        ["Rscript", str(script), str(path), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    in_r = pd.read_csv(out).set_index("term")
    ours = jm.analyze(imp, "lpo ~ iqv + (1|sch)", progressbar=False).pool().table
    assert list(in_r.index) == list(ours.index) == ["(Intercept)", "iqv"]
    np.testing.assert_allclose(in_r["estimate"], ours["estimate"], rtol=1e-4)
    np.testing.assert_allclose(in_r["se"], ours["std_error"], rtol=5e-3)


# -- every file is whole or absent ---------------------------------------------------------
def test_a_failed_write_leaves_the_previous_file(imp, tmp_path, monkeypatch):
    path = imp.export("stata", tmp_path / "flong.dta")[0]
    before = path.read_bytes()

    def broken(self, target, **kwargs):
        Path(target).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_stata", broken)
    with pytest.raises(OSError, match="disk full"):
        imp.export("stata", path)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMPORARY_PREFIX)]


# -- read back by jm.completed_sets --------------------------------------------------------
@pytest.mark.parametrize(
    ("package", "name", "read"),
    [
        ("stata", "x.dta", pd.read_stata),
        ("r", "x.csv", pd.read_csv),
        ("spss", "x.sav", lambda path: __import__("pyreadstat").read_sav(str(path))[0]),
    ],
)
def test_each_stacked_export_reads_back_as_its_sets(imp, tmp_path, package, name, read):
    """The layouts written here are among those jm.analyze reads, by one registry of their
    columns (jmimpute.spec.exports): the file splits into its sets 1..m, the incomplete
    data and the bookkeeping columns dropped (the values are checked by the layout tests
    above)."""
    if package == "spss":
        pytest.importorskip("pyreadstat")
    from jmimpute.analysis.external import completed_sets

    path = imp.export(package, tmp_path / name)[0]
    table = read(path)
    number, *bookkeeping = EXPORT_TARGETS[package].columns
    expected = [
        block.drop(columns=[number, *bookkeeping]).reset_index(drop=True)
        for k, block in table.groupby(number)
        if k != 0
    ]
    got = completed_sets(path)
    assert len(got) == imp.m
    for a, b in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(a, b)
