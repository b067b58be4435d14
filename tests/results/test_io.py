"""Exports (long, per set) and archives (netCDF, Zarr) round trip to an equal result."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import jmimpute as jm
from jmimpute.results.frames import data_to_dataset as _data_to_dataset
from jmimpute.results.frames import dataset_to_data as _dataset_to_data
from jmimpute.spec.model import build_spec
from jmimpute.spec.serial import spec_from_json, spec_to_json

from ..helpers import plain


@pytest.fixture(scope="module")
def data():
    """brandsma with columns of several dtypes that the files must keep."""
    frame = jm.datasets.load_brandsma()
    frame["den"] = pd.Categorical(frame["den"], categories=[4, 3, 2, 1])
    frame["min"] = frame["min"].astype(bool)
    frame["rpg"] = frame["rpg"].astype("Int64")
    frame["sex"] = pd.Categorical.from_codes(
        frame["sex"].fillna(-1).astype(int), categories=["boy", "girl"], ordered=True
    )
    return frame


@pytest.fixture(scope="module")
def imp(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        result = jm.impute(
            data,
            "lpo + iqv ~ 1 + (1|sch)",
            chains=2,
            tune=150,
            draws=150,
            m=3,
            random_seed=11,
            progressbar=False,
        )
    return result.with_columns(iqm=jm.cluster_mean("iqv"))


def assert_same_result(loaded, imp):
    assert loaded.spec == imp.spec
    assert loaded.m == imp.m
    assert loaded.derived == imp.derived
    assert loaded.variables == imp.variables
    pd.testing.assert_frame_equal(loaded.data, imp.data)
    for k in range(1, imp.m + 1):
        pd.testing.assert_frame_equal(loaded.complete(k), imp.complete(k))
    assert loaded.tree.groups == imp.tree.groups
    for group in imp.tree.groups:
        xr.testing.assert_identical(loaded.tree[group].dataset, imp.tree[group].dataset)
    for name in ("beta", "sigma", "psi"):
        np.testing.assert_array_equal(
            loaded.posterior[name].to_numpy(),
            imp.posterior[name].to_numpy(),
        )


def test_long_csv_reads_back_as_each_completed_set(imp, tmp_path):
    path = tmp_path / "long.csv"
    long = imp.to_long(path)
    pd.testing.assert_frame_equal(long, imp.complete("long"))
    back = pd.read_csv(path)
    assert list(back.columns) == list(long.columns)
    assert sorted(back[".imp"].unique()) == list(range(1, imp.m + 1))
    for k in range(1, imp.m + 1):
        expected = imp.complete(k)
        got = back[back[".imp"] == k].drop(columns=[".imp", ".id"]).reset_index(drop=True)
        for col in expected.columns:
            assert plain(got[col]) == plain(expected[col]), (k, col)
        assert back.loc[back[".imp"] == k, ".id"].tolist() == expected.index.tolist()


def test_long_with_original_and_parquet(imp, tmp_path):
    pytest.importorskip("pyarrow")
    long = imp.to_long(tmp_path / "long.parquet", include=True)
    back = pd.read_parquet(tmp_path / "long.parquet")
    assert back[".imp"].min() == 0 and len(back) == len(long)
    assert back.loc[back[".imp"] == 0, "lpo"].isna().sum() == imp.data["lpo"].isna().sum()
    # Parquet keeps most dtypes but gives integer categories back as floats: compare values
    got, expected = back[back[".imp"] == 2], imp.complete(2)
    for col in expected.columns:
        assert plain(got[col]) == plain(expected[col]), col


def test_sets_one_file_per_imputation(imp, tmp_path):
    paths = imp.to_sets(tmp_path / "sets")
    assert [p.name for p in paths] == ["imp_01.csv", "imp_02.csv", "imp_03.csv"]
    for k, path in enumerate(paths, start=1):
        back = pd.read_csv(path)
        np.testing.assert_allclose(back["lpo"], imp.complete(k)["lpo"])
        np.testing.assert_allclose(back["iqm"], imp.complete(k)["iqm"])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda imp, d: imp.to_long(d / "long.txt"), ValueError, r"\.csv or \.parquet"),
        (lambda imp, d: imp.to_sets(d, fmt="xlsx"), ValueError, "`fmt` must be one of"),
        (lambda imp, d: jm.load_imputation(d / "absent.nc"), FileNotFoundError, "absent"),
    ],
)
def test_export_errors(imp, tmp_path, call, error, message):
    with pytest.raises(error, match=message):
        call(imp, tmp_path)


def test_netcdf_round_trip_gives_an_equal_result(imp, tmp_path):
    path = imp.to_netcdf(tmp_path / "result.nc")
    assert_same_result(jm.load_imputation(path), imp)


def test_zarr_round_trip_gives_an_equal_result(imp, tmp_path):
    pytest.importorskip("zarr")
    path = imp.to_zarr(tmp_path / "result.zarr")
    assert path.is_dir()
    assert_same_result(jm.load_imputation(path), imp)


def test_function_derived_columns_are_left_out_with_a_warning(imp, tmp_path):
    with_function = imp.with_columns(double=lambda d: 2 * d["iqv"])
    with pytest.warns(UserWarning, match=r"\['double'\] are Python functions"):
        with_function.to_netcdf(tmp_path / "f.nc")
    loaded = jm.load_imputation(tmp_path / "f.nc")
    assert loaded.derived == ("iqm",)


def test_a_plain_netcdf_file_is_refused(tmp_path):
    xr.Dataset({"x": ("d", np.arange(3))}).to_netcdf(tmp_path / "plain.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match=r"not written by imp\.to_netcdf"):
        jm.load_imputation(tmp_path / "plain.nc")


def test_spec_json_round_trip():
    spec = build_spec(
        ["y1 + y2 ~ 1 + x + (1 + x|g)", "w ~ 1 + v"],
        categorical=["w"],
        priors=jm.Priors(psi_sd=0.5),
        chains=3,
        draws=50,
        m=7,
        cores=2,
        backend="jax",
    )
    text = spec_to_json(spec)
    json.loads(text)
    assert spec_from_json(text) == spec


def frame_of_every_dtype():
    frame = pd.DataFrame(
        {
            "cat": pd.Categorical([1, None, 3], categories=[3, 1]),
            "ordered": pd.Categorical(["lo", "hi", None], categories=["lo", "hi"], ordered=True),
            "flag": [True, False, True],
            "int32": np.array([1, 2, 3], dtype=np.int32),
            "Int64": pd.array([1, None, 3], dtype="Int64"),
            "boolean": pd.array([True, None, False], dtype="boolean"),
            "Float64": pd.array([1.5, None, 3.0], dtype="Float64"),
            "string": pd.array(["a", None, "c"], dtype="string"),
            "float": [1.0, np.nan, 2.0],
            "when": pd.to_datetime(["2020-01-01", None, "2021-01-01"]),
            "row": [1, 2, 3],  # the name of the default row dimension
        },
        index=pd.Index(["x", "y", "z"], name="id"),
    )
    frame["object"] = pd.Series(["a", np.nan, "c"], index=frame.index, dtype=object)
    return frame


@pytest.mark.parametrize("engine", ["h5netcdf", "zarr"])
def test_data_keeps_every_dtype(tmp_path, engine):
    pytest.importorskip(engine)
    frame = frame_of_every_dtype()
    tree = xr.DataTree.from_dict({"d": _data_to_dataset(frame)})
    if engine == "zarr":
        tree.to_zarr(tmp_path / "d.zarr", consolidated=False)
        back = xr.load_datatree(tmp_path / "d.zarr", engine="zarr", consolidated=False)
    else:
        tree.to_netcdf(tmp_path / "d.nc", engine=engine)
        back = xr.load_datatree(tmp_path / "d.nc", engine=engine)
    pd.testing.assert_frame_equal(_dataset_to_data(back["d"].dataset), frame)


def test_range_index_kept():
    frame = pd.DataFrame({"a": [1.0, 2.0]}, index=pd.RangeIndex(10, 14, 2))
    pd.testing.assert_frame_equal(_dataset_to_data(_data_to_dataset(frame)), frame)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"a/b": [1.0]}), "without '/'"),
        (pd.DataFrame({"a": [object()]}), "cannot be saved"),
        (pd.DataFrame({"a": [1.0]}, index=pd.MultiIndex.from_tuples([(1, 2)])), "MultiIndex"),
    ],
)
def test_unsavable_data(frame, message):
    with pytest.raises(ValueError, match=message):
        _data_to_dataset(frame)


GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def test_a_format_1_file_reads_into_an_equal_result():
    """``tests/golden/v1_result.nc`` was written before the DataTree followed ArviZ's groups
    (its completed sets hashed beside it): it loads with ``observed_data``, its parameters
    in their convergence groups, and the same completed sets."""
    from tests.golden.cases import frame_hash

    loaded = jm.load_imputation(GOLDEN / "v1_result.nc")
    with np.load(GOLDEN / "v1_result.npz") as files:
        hashes = [str(files[f"set{k}"]) for k in range(loaded.m)]
    assert [frame_hash(f) for f in loaded.complete("all")] == hashes
    assert list(loaded.tree.children) == [
        "posterior", "standardised_posterior", "sample_stats", "observed_data", "imputations",
    ]  # fmt: skip
    assert loaded.derived == ("ym",)
    assert loaded.posterior["psi"].attrs == {"group": "cluster covariance", "symmetric": 1}
    assert set(loaded.rhat().index) >= {"fixed effects", "thresholds", "level-2 fixed effects"}


def test_a_result_of_an_unknown_format_names_it(imp, tmp_path):
    path = imp.to_netcdf(tmp_path / "r.nc")
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    tree.attrs["jmimpute_format"] = 99
    tree.to_netcdf(tmp_path / "newer.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match="jmimpute file format 99; this version of jmimpute reads"):
        jm.load_imputation(tmp_path / "newer.nc")


def test_the_tree_follows_arviz(imp):
    """ArviZ's group names; ``imp.posterior`` is the posterior group itself."""
    assert list(imp.tree.children) == [
        "posterior", "standardised_posterior", "sample_stats", "observed_data", "imputations",
    ]  # fmt: skip
    assert imp.posterior.name == "posterior" and "beta" in imp.posterior
    pd.testing.assert_frame_equal(_dataset_to_data(imp.tree["observed_data"].dataset), imp.data)
