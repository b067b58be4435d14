"""``jm.load_imputation`` on what is not a whole result: each error names the file and why.

The result written here is the golden format-1 file read back and saved again (format 2),
which needs no sampling.
"""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jmimpute as jm
from jmimpute.atomic import TEMPORARY_PREFIX
from jmimpute.results.archive import FORMAT_VERSION

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture(scope="module")
def imp():
    return jm.load_imputation(GOLDEN / "v1_result.nc")


@pytest.fixture(scope="module")
def result_file(imp, tmp_path_factory):
    """A whole result file of the current format."""
    return imp.to_netcdf(tmp_path_factory.mktemp("result") / "result.nc")


def refused(path, error, *causes):
    """The message ``load_imputation(path)`` raises, checked to name the file and ``causes``."""
    with pytest.raises(error) as raised:
        jm.load_imputation(path)
    message = str(raised.value)
    assert repr(str(path)) in message, message
    for cause in causes:
        assert re.search(cause, message), (cause, message)
    return message


def test_a_whole_result_loads(result_file):
    assert jm.load_imputation(result_file).m > 0


def test_a_truncated_file_says_how_much_of_it_is_there(result_file, tmp_path):
    path = tmp_path / "cut.nc"
    path.write_bytes(result_file.read_bytes()[:5000])
    full = result_file.stat().st_size
    refused(path, ValueError, f"is incomplete: it has 5,000 of the {full:,} bytes", "cut short")


def test_a_csv_is_named_as_such(tmp_path):
    path = tmp_path / "sets.csv"
    path.write_text("lpo,iqv\n1.0,2.0\n")
    refused(
        path,
        ValueError,
        re.escape("is not a netCDF-4/HDF5 file (it starts with 'lpo,iqv')"),
        r"imp\.to_netcdf",
        r"pd\.read_csv",
    )


def test_a_netcdf_3_file_is_named_as_such(tmp_path):
    pytest.importorskip("scipy")
    path = tmp_path / "classic.nc"
    xr.Dataset({"x": ("d", np.arange(3))}).to_netcdf(path, engine="scipy")
    refused(path, ValueError, r"is a netCDF-3 \(classic\) file")


def test_another_programs_netcdf_is_refused(tmp_path):
    path = tmp_path / "plain.nc"
    xr.Dataset({"x": ("d", np.arange(3))}).to_netcdf(path, engine="h5netcdf")
    refused(path, ValueError, "holds no jmimpute result", r"not written by imp\.to_netcdf")


def rewritten(result_file, path, change):
    tree = xr.open_datatree(result_file, engine="h5netcdf").load()
    change(tree.attrs)
    tree.to_netcdf(path, engine="h5netcdf")
    return path


def test_a_newer_format_says_to_upgrade(result_file, tmp_path):
    path = rewritten(
        result_file,
        tmp_path / "newer.nc",
        lambda attrs: attrs.update(jmimpute_format=FORMAT_VERSION + 1),
    )
    refused(
        path,
        ValueError,
        f"written by a newer jmimpute, in jmimpute file format {FORMAT_VERSION + 1}",
        re.escape(f"reads formats 1 to {FORMAT_VERSION} (it is jmimpute {jm.__version__})"),
        "upgrade jmimpute",
    )


def test_a_result_missing_a_part_names_it(result_file, tmp_path):
    path = rewritten(result_file, tmp_path / "edited.nc", lambda attrs: attrs.pop("spec"))
    refused(path, ValueError, "marked as a jmimpute result but its part 'spec' is missing")


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.nc"
    path.touch()
    refused(path, ValueError, r"is empty \(0 bytes\)")


def test_a_folder_that_is_not_a_zarr_store(tmp_path):
    pytest.importorskip("zarr")
    path = tmp_path / "folder"
    path.mkdir()
    (path / "notes.txt").write_text("not zarr")
    refused(path, ValueError, "is a folder but not a Zarr store", r"imp\.to_zarr")


def test_a_damaged_zarr_store(imp, tmp_path):
    pytest.importorskip("zarr")
    path = imp.to_zarr(tmp_path / "r.zarr")
    (path / "zarr.json").write_text("{not json")
    refused(path, ValueError, "could not be read as a Zarr store", "damaged or incomplete")


def test_a_missing_file_names_an_unfinished_write_beside_it(tmp_path):
    path = tmp_path / "r.nc"
    message = refused(path, FileNotFoundError, "no imputation result at")
    assert TEMPORARY_PREFIX not in message
    (tmp_path / f"{TEMPORARY_PREFIX}0123456789ab-r.nc").write_bytes(b"\x89HDF")
    refused(path, FileNotFoundError, f"beside it is '{TEMPORARY_PREFIX}0123456789ab-r.nc'")


def test_a_partial_copy_of_a_zarr_store_names_what_is_missing(imp, tmp_path):
    pytest.importorskip("zarr")
    path = imp.to_zarr(tmp_path / "r.zarr")
    shutil.rmtree(path / "posterior")
    refused(path, ValueError, "marked as a jmimpute result but its part '/posterior' is missing")
