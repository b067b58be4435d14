"""The `jmimpute` command line and the model files it reads."""

import contextlib
import io
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jmimpute as jm
from jmimpute.cli import main
from jmimpute.inputs import load_model_data
from jmimpute.spec.modelfile import ModelFileError, read_model_file

from .helpers import plain

MODELS = sorted((Path(__file__).parents[1] / "models").glob("*.toml"))

BASE = """\
[data]
path = "brandsma"

[model]
formula = "lpo + iqv ~ 1 + (1|sch)"

[sampler]
chains = 2
draws = 100
m = 3
"""


def write(tmp_path, text, name="model.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- model files --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "key", "line", "message"),
    [
        ("chains = 2", "chains = = 2", None, 8, "invalid TOML"),
        ("chains = 2", "chain = 2", "sampler.chain", 8, "did you mean 'chains'"),
        ("draws = 100", 'draws = "100"', "sampler.draws", 9, "must be an integer; got str"),
        ("formula", "categorical = []\n#", "model", 4, "needs exactly one of `formula`"),
        ("(1|sch)", "(1|sch", "model.formula", 5, r"'\(' is never closed"),
        (" + (1|sch)", "", "model.formula", 5, "has no random term"),
        ("m = 3", "m = 300", "sampler.m", 10, "raise `draws`"),
        ("m = 3", "m = 3\nbackend = 'jx'", "sampler.backend", 11, "'numba', 'jax'"),
        ('"brandsma"', '"absent.csv"', "data.path", 2, "no such file"),
        ('"brandsma"', '"brandsma.xlsx"', "data.path", 2, "neither a bundled"),
        ("m = 3", "m = 3\n\n[samplr]\nx = 1", "samplr", 12, "did you mean 'sampler'"),
        ("m = 3", "m = 3\n\n[priors]\npsi_sd = -1", "priors.psi_sd", 13, "positive"),
        ("m = 3", "m = 3\n\n[missing]\ncolumns = ['lpo']", "missing", 12, "'fraction'"),
        ("m = 3", "m = 3\n\n[output]\nlong = 'x.txt'", "output.long", 13, r"\.csv or \.parquet"),
        ("m = 3", "m = 3\n\n[model.extra]\nx = 1", "model.extra", 12, "unknown key 'extra'"),
        (
            '(1|sch)"',
            '(1|sch)"\ncategorical = ["den"]',
            "model.categorical",
            6,
            "not targets of `formula`",
        ),
    ],
)
def test_malformed_model_files_name_key_and_line(tmp_path, old, new, key, line, message):
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ModelFileError, match=message) as err:
        read_model_file(path)
    assert err.value.key == key
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}, line {line}: ")
    if key is not None:
        assert key.split(".")[-1] in str(err.value)


def test_missing_table_is_named(tmp_path):
    path = write(tmp_path, BASE.replace('[model]\nformula = "lpo + iqv ~ 1 + (1|sch)"\n', ""))
    with pytest.raises(ModelFileError, match=r"the required table \[model\] is missing"):
        read_model_file(path)


def test_cli_reports_a_bad_model_file(tmp_path, capsys):
    path = write(tmp_path, BASE.replace("chains = 2", "chain = 2"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 8: unknown key 'chain'" in err


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_bundled_model_files_are_valid(path):
    model = read_model_file(path)
    assert model.output.long is not None and model.output.netcdf is not None
    assert model.random_seed is not None


def test_model_file_defaults_and_arguments(tmp_path):
    model = read_model_file(write(tmp_path, BASE, name="mine.toml"))
    assert model.data == "brandsma"
    assert model.output.long == Path("mine_long.csv")
    assert model.output.netcdf == Path("mine.nc")
    args = model.impute_arguments()
    assert args["formula"] == "lpo + iqv ~ 1 + (1|sch)"
    assert (args["chains"], args["draws"], args["m"]) == (2, 100, 3)
    # no tune or target_accept in the file: the collapsed model's defaults
    assert (args["tune"], args["target_accept"]) == (500, 0.65)
    # no method either: jm.impute chooses it from the data (jmimpute.models.choice)
    assert args["method"] is None and model.spec.auto_method


def test_an_analysis_model_file(tmp_path):
    """``[model] analysis`` chooses the substantive model; its layout is derived when run."""
    model = read_model_file(next(p for p in MODELS if p.name == "brandsma_random_slope.toml"))
    assert model.spec.method == "substantive"
    assert model.spec.analysis == "lpo ~ iqv + mean(iqv) + (1 + iqv | sch)"
    args = model.impute_arguments()
    assert "formula" not in args and args["analysis"] == model.spec.analysis
    both = BASE.replace('(1|sch)"', '(1|sch)"\nanalysis = "lpo ~ iqv + (1|sch)"')
    with pytest.raises(ModelFileError, match="needs exactly one of `formula`"):
        read_model_file(write(tmp_path, both))
    bad = BASE.replace('formula = "lpo + iqv ~ 1 + (1|sch)"', 'analysis = "lpo ~ iqv"')
    with pytest.raises(ModelFileError, match="one outcome and one random term") as err:
        read_model_file(write(tmp_path, bad))
    assert err.value.key == "model.analysis"


def test_data_file_relative_to_model_file(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    jm.datasets.load_brandsma().head(50).to_csv(tmp_path / "small.csv", index=False)
    model = read_model_file(write(folder, BASE.replace('"brandsma"', '"../small.csv"')))
    assert Path(model.data).resolve() == (tmp_path / "small.csv").resolve()
    assert load_model_data(model).shape == (50, 14)


def test_missing_values_as_in_the_mertools_example():
    model = read_model_file(next(p for p in MODELS if p.name == "hsb.toml"))
    assert model.missing is not None
    assert model.missing.cluster == "schid" and model.missing.level2 == ("size",)
    data = load_model_data(model)
    expected = jm.testing.add_mcar(
        jm.datasets.load_hsb(),
        ["minority", "female", "ses", "size"],
        0.05,
        cluster="schid",
        level2=["size"],
        seed=20170710,
    )
    pd.testing.assert_frame_equal(data, expected)
    # size, a school variable, is missing for whole schools only
    assert (data.groupby("schid")["size"].apply(lambda s: s.isna().nunique()) == 1).all()
    assert 0.02 < data["ses"].isna().mean() < 0.08


# -- jmimpute summary -------------------------------------------------------------------
def test_summary_command(capsys):
    assert main(["-q", "summary", "brandsma", "--cluster", "sch", "--vars", "lpo", "den"]) == 0
    out = capsys.readouterr().out
    data = jm.datasets.load_brandsma()
    complete = len(data.dropna(subset=["lpo", "den"]))
    assert f"4106 rows; {complete} complete" in out
    assert "Missing-data patterns (4;" in out
    assert "total" in out


def test_summary_of_a_file(tmp_path, capsys):
    frame = pd.DataFrame({"g": [1, 1, 2, 2], "a": [1.0, np.nan, 3.0, 4.0]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["-q", "summary", str(tmp_path / "d.csv"), "--cluster", "g"]) == 0
    assert "4 rows; 3 complete" in capsys.readouterr().out
    assert main(["-q", "summary", str(tmp_path / "absent.csv")]) == 2
    assert "neither a bundled data set" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "jmimpute"
    if not script.exists():
        pytest.skip("jmimpute is not installed as a console script here (pip install -e .)")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"jmimpute {jm.__version__}"


# -- jmimpute run -------------------------------------------------------------------------
SMALL_RUN = """\
[data]
path = "brandsma"

[model]
formula = ["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"]
categorical = ["den"]

[sampler]
chains = 2
tune = 150
draws = 150
m = 3
random_seed = 5

[output]
long = "out/long.csv"
sets = "out/sets"
netcdf = "out/result.nc"
zarr = "out/result.zarr"
"""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    path = write(folder, SMALL_RUN)
    out = folder / "results"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["-q", "run", str(path), "--out", str(out), "--no-progress"])
    return code, out, printed.getvalue()


def test_run_writes_every_output_and_prints_the_summary(small_run):
    code, out, printed = small_run
    assert code == 0
    assert "Multilevel joint-model imputation" in printed and "Convergence" in printed
    files = ["out/long.csv", "out/result.nc", "out/result.zarr", "out/sets/imp_01.csv"]
    for name in files:
        assert (out / name).exists(), name
    assert sorted(p.name for p in (out / "out/sets").iterdir()) == [
        "imp_01.csv",
        "imp_02.csv",
        "imp_03.csv",
    ]


def test_run_outputs_agree(small_run):
    _, out, _ = small_run
    imp = jm.load_imputation(out / "out/result.nc")
    assert imp.m == 3 and imp.spec.level2_targets == ("den",)
    assert imp.tree.attrs["random_seed"] == 5
    long = pd.read_csv(out / "out/long.csv")
    for k in range(1, imp.m + 1):
        completed = imp.complete(k)
        stacked = long[long[".imp"] == k]
        one = pd.read_csv(out / f"out/sets/imp_{k:02d}.csv")
        for col in completed.columns:
            assert plain(stacked[col]) == plain(completed[col]), (k, col)
            assert plain(one[col]) == plain(completed[col]), (k, col)
        assert completed["den"].notna().all()
    from_zarr = jm.load_imputation(out / "out/result.zarr")
    for k in range(1, imp.m + 1):
        pd.testing.assert_frame_equal(from_zarr.complete(k), imp.complete(k))


@pytest.mark.slow
def test_every_model_file_end_to_end(tmp_path, capsys):
    for path in MODELS:
        model = read_model_file(path)
        assert main(["-q", "run", str(path), "--out", str(tmp_path), "--no-progress"]) == 0
        assert "Multilevel joint-model imputation" in capsys.readouterr().out
        imp = jm.load_imputation(tmp_path / model.output.netcdf)
        assert imp.m == model.spec.m
        # the run hid the progress bars; everything else is as the file says, except that a
        # file without `draws` samples until converged and records the draws of the run kept
        kept, asked = imp.spec.sampler, model.spec.sampler
        assert kept.auto_draws == asked.auto_draws
        assert kept.draws >= asked.draws if asked.auto_draws else kept.draws == asked.draws
        as_asked = replace(kept, progressbar=True, draws=asked.draws)
        ran = replace(imp.spec, sampler=as_asked)
        if model.spec.analysis is not None:  # the layout is derived from the data when run
            ran = replace(ran, level1=model.spec.level1, level2=model.spec.level2)
        assert ran == model.spec
        assert_long_file_matches(tmp_path / model.output.long, imp)


def assert_long_file_matches(path, imp):
    """The stacked CSV holds imp.complete(k) for every k (string columns read as strings)."""
    text = {c for c, dtype in imp.data.dtypes.items() if pd.api.types.is_string_dtype(dtype)}
    long = pd.read_csv(path, dtype=dict.fromkeys(text, str))
    for k in range(1, imp.m + 1):
        completed = imp.complete(k)
        stacked = long[long[".imp"] == k]
        assert stacked[".id"].tolist() == completed.index.tolist()
        for col in completed.columns:
            assert plain(stacked[col]) == plain(completed[col]), (path.name, k, col)


# -- [output] keys for the analysis programs (jmimpute.results.handoff) -------------------
HANDOFF_OUTPUT = """
[output]
mplus = "out/mplus"
stata = "out/flong.dta"
spss = "out/split.sav"
r = "out/mice.csv"
"""


def test_output_keys_name_the_analysis_programs(tmp_path):
    model = read_model_file(write(tmp_path, BASE + HANDOFF_OUTPUT))
    assert model.output.exports == (
        ("mplus", Path("out/mplus")),
        ("stata", Path("out/flong.dta")),
        ("spss", Path("out/split.sav")),
        ("r", Path("out/mice.csv")),
    )
    assert model.output.long is None


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('"out/flong.dta"', '"out/flong.csv"', "output.stata", r"must end in \.dta \(Stata: flong"),
        ('"out/mice.csv"', '"out/mice.rds"', "output.r", r"must end in \.csv"),
        ('"out/split.sav"', '"out/split.xlsx"', "output.spss", r"must end in \.sav or \.csv"),
        ("stata =", "stat =", "output.stat", r"did you mean 'stata'\? valid keys are .*mplus"),
    ],
)
def test_bad_output_keys_name_key_and_line(tmp_path, old, new, key, message):
    text = (BASE + HANDOFF_OUTPUT).replace(old, new, 1)
    with pytest.raises(ModelFileError, match=message) as err:
        read_model_file(write(tmp_path, text))
    assert err.value.key == key
    name = key.split(".")[1]
    lines = text.splitlines()
    assert err.value.line == 1 + next(i for i, ln in enumerate(lines) if ln.startswith(name + " "))


def test_run_refuses_names_a_program_cannot_read_before_imputing(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("imputed although the names cannot be exported")

    monkeypatch.setattr("jmimpute.pipeline.impute", never)
    data = jm.datasets.load_brandsma().head(50).rename(columns={"ses": "ses.2"})
    data.to_csv(tmp_path / "d.csv", index=False)
    text = BASE.replace('"brandsma"', '"d.csv"') + HANDOFF_OUTPUT
    assert main(["-q", "run", str(write(tmp_path, text)), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "[output] mplus: Mplus cannot read the column name(s) 'ses.2'" in err
    assert "rename them in the data file" in err


def test_run_writes_the_analysis_programs_layouts(small_run, tmp_path, monkeypatch):
    """`jmimpute run` with the [output] keys mplus, stata, spss and r writes each layout
    (the imputation is the small run's, read back, so nothing is sampled again)."""
    pyreadstat = pytest.importorskip("pyreadstat")
    _, out, _ = small_run
    imp = jm.load_imputation(out / "out/result.nc")
    monkeypatch.setattr("jmimpute.pipeline.impute", lambda *args, **kwargs: imp)
    model = write(tmp_path, SMALL_RUN.split("[output]")[0] + HANDOFF_OUTPUT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["-q", "run", str(model), "--out", str(tmp_path / "res")]) == 0
    res = tmp_path / "res" / "out"
    assert (res / "mplus" / "implist.dat").read_text().split() == [
        "imp_01.dat", "imp_02.dat", "imp_03.dat",
    ]  # fmt: skip
    assert "TYPE = IMPUTATION;" in (res / "mplus" / "analysis.inp").read_text()
    n = len(imp.data)
    flong = pd.read_stata(res / "flong.dta", convert_categoricals=False)
    assert flong["mi_m"].tolist() == np.repeat(np.arange(imp.m + 1), n).tolist()
    split, _ = pyreadstat.read_sav(res / "split.sav")
    assert split["Imputation_"].max() == imp.m and len(split) == (imp.m + 1) * n
    long = pd.read_csv(res / "mice.csv")
    assert list(long.columns[:2]) == [".imp", ".id"] and long[".imp"].max() == imp.m
    for k in range(1, imp.m + 1):
        completed = imp.complete(k)
        assert plain(long.loc[long[".imp"] == k, "lpo"]) == plain(completed["lpo"])
        np.testing.assert_array_equal(flong.loc[flong["mi_m"] == k, "iqv"], completed["iqv"])
    assert "Multilevel joint-model imputation" in printed.getvalue()
