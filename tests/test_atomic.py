"""Writes are whole or absent: ``replacing`` and the writers that use it, a killed write too."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from jmimpute.atomic import TEMPORARY_PREFIX, replacing
from jmimpute.tables import write_table

GOLDEN = Path(__file__).resolve().parent / "golden"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMPORARY_PREFIX))


def test_success_replaces_the_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with replacing(path) as tmp:
        assert tmp.parent == path.parent
        assert tmp.name.startswith(TEMPORARY_PREFIX) and tmp.name.endswith("-out.csv")
        assert tmp.suffix == ".csv"
        tmp.write_text("new")
        assert path.read_text() == "old"  # not before the block has ended
    assert path.read_text() == "new"
    assert leftovers(tmp_path) == []


def test_a_new_file_and_its_folders_are_made(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    with replacing(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_exception_leaves_the_previous_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with pytest.raises(error), replacing(path) as tmp:
        tmp.write_text("half")
        raise error("disk full")
    assert path.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_an_exception_before_anything_is_written(tmp_path):
    path = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), replacing(path):
        raise RuntimeError("failed before writing")
    assert list(tmp_path.iterdir()) == []


def test_a_block_that_writes_nothing_is_an_error(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with pytest.raises(FileNotFoundError, match=r"nothing was written at .* was left as it was"):
        with replacing(path):
            pass
    assert path.read_text() == "old"


def make_store(path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)


def contents(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): p.read_text() for p in path.rglob("*") if p.is_file()}


def test_a_folder_is_replaced_whole(tmp_path):
    path = tmp_path / "store.zarr"
    make_store(path, {"zarr.json": "old", "a/0": "old a", "b/0": "old b"})
    with replacing(path) as tmp:
        assert tmp.suffix == ".zarr"
        make_store(tmp, {"zarr.json": "new", "c/0": "new c"})
    assert contents(path) == {"zarr.json": "new", "c/0": "new c"}  # nothing of the old one
    assert leftovers(tmp_path) == []


def test_a_failed_folder_write_leaves_the_previous_folder(tmp_path):
    path = tmp_path / "store.zarr"
    make_store(path, {"zarr.json": "old", "a/0": "old a"})
    with pytest.raises(OSError), replacing(path) as tmp:
        make_store(tmp, {"zarr.json": "new"})
        raise OSError(28, "No space left on device")
    assert contents(path) == {"zarr.json": "old", "a/0": "old a"}
    assert leftovers(tmp_path) == []


def test_a_folder_is_not_replaced_by_a_file(tmp_path):
    path = tmp_path / "result.nc"
    make_store(path, {"notes.txt": "mine"})  # e.g. a mistyped name
    with pytest.raises(IsADirectoryError, match="is a folder: writing a file there would"):
        with replacing(path) as tmp:
            tmp.write_text("new")
    assert contents(path) == {"notes.txt": "mine"}
    assert leftovers(tmp_path) == []


def test_a_file_is_not_replaced_by_a_folder(tmp_path):
    path = tmp_path / "result.zarr"
    path.write_text("mine")
    with pytest.raises(NotADirectoryError, match="is a file: writing a folder"):
        with replacing(path) as tmp:
            make_store(tmp, {"zarr.json": "new"})
    assert path.read_text() == "mine"
    assert leftovers(tmp_path) == []


def test_a_link_is_kept_and_its_target_replaced(tmp_path):
    target = tmp_path / "data" / "out.csv"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    with replacing(link) as tmp:
        assert tmp.parent == target.parent  # the rename stays on the target's file system
        tmp.write_text("new")
    assert link.is_symlink() and target.read_text() == "new"


def test_permissions_are_kept(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    path.chmod(0o640)
    with replacing(path) as tmp:
        tmp.write_text("new")
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_long_name_keeps_its_suffix(tmp_path):
    path = tmp_path / ("x" * 250 + ".nc")
    with replacing(path) as tmp:
        assert len(tmp.name) <= 255 and tmp.name.endswith(".nc")
        tmp.write_text("new")
    assert path.read_text() == "new"


def test_write_table_failing_midway_keeps_the_previous_table(tmp_path, monkeypatch):
    path = tmp_path / "sets.csv"
    old = pd.DataFrame({"a": [1.0, 2.0]})
    write_table(old, path)

    def fail(self, target, **kwargs):
        Path(target).write_text("a\n3.0\n")  # a part of the rows, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail)
    with pytest.raises(OSError, match="No space left"):
        write_table(pd.DataFrame({"a": [3.0, 4.0]}), path)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(pd.read_csv(path), old)
    assert leftovers(tmp_path) == []


def test_a_failed_zarr_write_of_a_result_keeps_the_previous_store(tmp_path, monkeypatch):
    pytest.importorskip("zarr")
    import xarray as xr

    import jmimpute as jm

    imp = jm.load_imputation(GOLDEN / "v1_result.nc")
    path = imp.to_zarr(tmp_path / "r.zarr")
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    written = xr.DataTree.to_zarr

    def fail(self, store, **kwargs):
        written(self, store, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.DataTree, "to_zarr", fail)
    with pytest.raises(OSError, match="No space left"):
        imp.to_zarr(path)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert leftovers(tmp_path) == []
    assert jm.load_imputation(path).m == imp.m
    # a folder that is no Zarr store is not emptied to make room for one
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(IsADirectoryError, match="is a folder but not a Zarr store"):
        imp.to_zarr(tmp_path / "mine")
    with pytest.raises(IsADirectoryError, match="is a folder: writing the result's file"):
        imp.to_netcdf(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def written(folder: Path) -> int:
    """Bytes in the temporary files in ``folder`` (0 while there are none)."""
    sizes = []
    for name in leftovers(folder):
        try:
            sizes.append((folder / name).stat().st_size)
        except FileNotFoundError:  # renamed into place meanwhile
            pass
    return sum(sizes)


ROWS = 3_000_000
"""Rows of the table the killed process writes: pandas takes seconds to write them (about
200 MB of CSV), so a kill soon after the temporary appears lands in the middle."""


def test_a_killed_write_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "big.csv"
    old = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
    write_table(old, path)
    old_bytes = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd
        from jmimpute.tables import write_table
        values = np.arange({ROWS}, dtype=float) / 7
        frame = pd.DataFrame({{"a": values, "b": values * 3, "c": values + 0.1}})
        write_table(frame, {str(path)!r})
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE) as child:
        try:
            deadline = time.monotonic() + 60  # importing jmimpute is slow on a loaded machine
            while written(tmp_path) < 2**20 and child.poll() is None:  # 1 MiB of ~200
                assert time.monotonic() < deadline, "the writer did not start within 60 s"
                assert path.read_bytes() == old_bytes  # never touched while being replaced
                time.sleep(0.005)
            started = written(tmp_path) > 0
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            stderr = child.communicate(timeout=30)[1].decode()
        finally:
            if child.poll() is None:
                child.kill()
        code = child.returncode
    assert started or code == 0, f"the writer never began (exit code {code}): {stderr}"
    if code == -signal.SIGKILL:
        # killed mid-write: the previous file is whole, the unfinished one beside it
        assert path.read_bytes() == old_bytes
        pd.testing.assert_frame_equal(pd.read_csv(path), old)
        (partial,) = leftovers(tmp_path)
        assert partial.endswith("-big.csv")
        assert 0 < (tmp_path / partial).stat().st_size
    else:  # the write ended before the kill (not expected): then the new file is whole
        assert code == 0, stderr
        assert len(pd.read_csv(path)) == ROWS
        assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_pipe_is_written_in_place_not_replaced_by_a_file(tmp_path):
    """A stream (a named pipe, /dev/stdout) has no previous version to keep: renaming a
    file over it would turn it into a regular file."""
    import stat
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    with replacing(pipe) as tmp:
        assert tmp == pipe
        tmp.write_bytes(b"streamed")
    reader.join(10)
    assert got == [b"streamed"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_a_name_that_is_not_utf8_and_a_long_name(tmp_path):
    odd = tmp_path / os.fsdecode(b"bad\xff.csv")
    with replacing(odd) as tmp:
        tmp.write_text("x")
    assert odd.read_text() == "x"
    long = tmp_path / ("é" * 120 + ".csv")  # 240 bytes: the temporary's name is shortened
    with replacing(long) as tmp:
        assert len(os.fsencode(tmp.name)) <= 255 and tmp.suffix == ".csv"
        tmp.write_text("y")
    assert long.read_text() == "y"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".jmimpute")] == []
