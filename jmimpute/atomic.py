"""Files that are either whole or absent: write beside the target, then rename into place.

A crash, a full disk or a kill in the middle of a write must neither leave a truncated file
under the final name nor destroy the file that was there before. Every writer therefore
writes to a temporary name in the target's own folder (so the rename stays on one file
system, where POSIX makes it atomic) and renames it over the target only once the write
has finished; on failure the temporary file is removed and the previous file is untouched.
A process killed outright (SIGKILL, power loss) cannot remove its temporary: it is left
beside the target under a name starting with :data:`TEMPORARY_PREFIX`, never under the
target's name, and can be deleted. Replacing a folder (a Zarr store) takes two renames:
a kill between them leaves the previous version under a name starting with
:data:`PREVIOUS_PREFIX`, to be renamed back by hand.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_log = logging.getLogger("jmimpute")

TEMPORARY_PREFIX = ".jmimpute-partial-"
"""Names of files being written start with this; one left behind is an interrupted write."""
PREVIOUS_PREFIX = ".jmimpute-previous-"
"""A folder being replaced is moved aside under this prefix for a moment (see above)."""
_NAME_MAX = 255
"""The longest file name most file systems take (ext4, APFS, NTFS): a temporary name is
the target's with a prefix, so a long target name is shortened in it."""


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _beside(final: Path, prefix: str = TEMPORARY_PREFIX) -> Path:
    """A fresh name in ``final``'s folder, ending in ``final``'s name (and so its suffix)."""
    head = f"{prefix}{uuid.uuid4().hex[:12]}-"
    name = final.name
    # file names are bytes to the system (os.fsencode: not every name is valid UTF-8)
    if len(head) + len(os.fsencode(name)) > _NAME_MAX:  # keep the suffix, shorten the stem
        keep = _NAME_MAX - len(head) - len(os.fsencode(final.suffix))
        stem = os.fsencode(final.stem)[: max(keep, 0)]
        name = stem.decode(errors="ignore") + final.suffix
    return final.with_name(head + name)


def _fsync(path: Path) -> None:
    """Flush a file, or every file in a folder and the folders themselves, to the disk.

    Without it a crash soon after the rename could leave the new name pointing at data
    the disk never received (a zero-length file after a power loss on ext4 and others).
    """
    files = [path] if not path.is_dir() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    if path.is_dir():
        for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
            _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make a folder's entries (a rename into it) durable; not every system can."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows opens no folders; its renames are durable on their own
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse it: the rename is as durable as they make it
    finally:
        os.close(fd)


def _swap(tmp: Path, final: Path) -> None:
    """Put ``tmp`` under ``final``'s name, replacing what is there (a file or a folder).

    A file does not replace a folder, nor a folder a file: that would delete a folder of
    the user's (a mistyped name) with all it holds, or a file of another kind.
    """
    if final.exists() and final.is_dir() != tmp.is_dir():
        if final.is_dir():
            raise IsADirectoryError(
                f"{str(final)!r} is a folder: writing a file there would delete the folder "
                "and all it holds, so it was left as it was; remove it first, or write to "
                "another name"
            )
        raise NotADirectoryError(
            f"{str(final)!r} is a file: writing a folder (such as a Zarr store) there would "
            "delete it, so it was left as it was; remove it first, or write to another name"
        )
    if not final.is_dir():
        os.replace(tmp, final)  # one atomic step: a file over a file (or over nothing)
        return
    # a folder cannot be renamed over a folder: move the old one aside first, so that at
    # every moment one whole version is under a name
    old = _beside(final, PREVIOUS_PREFIX)
    final.rename(old)
    try:
        tmp.rename(final)
    except BaseException:
        old.rename(final)  # put the previous version back under its name
        raise
    _remove(old)


@contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The caller writes a file (or a folder, such as a Zarr store) at the yielded path. When
    the block ends without an exception the temporary is flushed to disk and renamed over
    ``path``; a previous folder at ``path`` is replaced as a whole (by a folder only, and
    a file by a file only). When the block raises
    (KeyboardInterrupt included), the temporary is removed and ``path`` is left as it was.
    Missing parent folders are created. A symbolic link at ``path`` is kept: its target
    is replaced. A replaced file's permissions are kept. A pipe or a device (such as
    ``/dev/stdout``) is written in place.

    Parameters
    ----------
    path : str or path-like
        The final name.

    Yields
    ------
    pathlib.Path
        Where to write, in the same folder as ``path``, keeping its suffix (so writers that
        choose a format by suffix still do).

    Raises
    ------
    FileNotFoundError
        If the block ended without writing anything at the yielded path.
    IsADirectoryError, NotADirectoryError
        If a file was written where a folder is, or a folder where a file is.

    Examples
    --------
    >>> with replacing("out/sets.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, index=False)
    """
    final = Path(path)
    if final.is_symlink():  # replace what the link points to, not the link
        final = final.resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not final.is_file() and not final.is_dir():
        # a pipe or a device (/dev/stdout): renaming over it would replace it by a file,
        # and a stream has no previous version to keep, so it is written in place
        yield final
        return
    tmp = _beside(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(
                f"nothing was written at {str(tmp)!r}, so {str(final)!r} was left as it was; "
                "a writer inside `with replacing(path) as tmp:` must write to `tmp`"
            )
        if tmp.is_file() and final.is_file():
            shutil.copymode(final, tmp)
        _fsync(tmp)
        _swap(tmp, final)
        _fsync_folder(final.parent)
    except BaseException:
        _remove(tmp)
        raise
    _log.debug("replaced %s", final)


__all__ = ["PREVIOUS_PREFIX", "TEMPORARY_PREFIX", "replacing"]
