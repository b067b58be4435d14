"""Completed data sets in the layout each analysis program reads as multiply imputed data.

Every program that pools analyses over imputations expects its own layout: Mplus a list
of data files, Stata ``mi``'s flong layout, SPSS a split variable, R's mice a long table.
Each layout is an :class:`Exporter` in :data:`EXPORTS`, so that :func:`export` (and
:meth:`Imputation.export <jmimpute.Imputation.export>`, and the ``[output]`` keys of a
model file) dispatch through one table; adding a program is adding an entry.

Every file is written to a temporary name and renamed into place when complete
(:func:`jmimpute.atomic.replacing`), so a crash never leaves a truncated file.

Examples
--------
>>> imp.export("mplus", "out/mplus")  # doctest: +SKIP
>>> imp.export("stata", "out/brandsma.dta")  # doctest: +SKIP
>>> sorted(EXPORTS)
['mplus', 'r', 'spss', 'stata']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jmimpute.results.handoff import mplus, r, spss, stata
from jmimpute.spec.exports import EXPORT_TARGETS

if TYPE_CHECKING:
    from jmimpute.results.imputation import Imputation


@dataclass(frozen=True)
class Exporter:
    """How one analysis program reads multiply imputed data, and the function that writes it.

    Attributes
    ----------
    program, layout, target, suffixes
        As in :class:`jmimpute.spec.exports.ExportTarget`: the program, what is written,
        whether ``path`` names a file or a folder, and a file's suffixes.
    options : tuple of str
        The keyword options ``write`` takes.
    write : callable
        ``write(imp, path, **options) -> list[Path]``, the files written.
    check : callable
        ``check(column_names)``: raises ValueError for names the program cannot read, so
        that the command line can refuse them before a long run.
    """

    program: str
    layout: str
    target: Literal["file", "folder"]
    suffixes: tuple[str, ...]
    options: tuple[str, ...]
    write: Callable[..., list[Path]]
    check: Callable[[Sequence[str]], None]


_COMMON = ("columns", "rename")


def _exporter(
    package: str,
    options: tuple[str, ...],
    write: Callable[..., list[Path]],
    check: Callable[[Sequence[str]], None],
) -> Exporter:
    target = EXPORT_TARGETS[package]
    return Exporter(
        target.program, target.layout, target.target, target.suffixes, options, write, check
    )


EXPORTS: dict[str, Exporter] = {
    "mplus": _exporter(
        "mplus", ("sep", "missing", "max_name_length", *_COMMON), mplus.write_mplus,
        mplus.check_names,
    ),
    "stata": _exporter("stata", _COMMON, stata.write_stata, stata.check_names),
    "spss": _exporter("spss", _COMMON, spss.write_spss, spss.check_names),
    "r": _exporter("r", _COMMON, r.write_r, r.check_names),
}  # fmt: skip
"""The exporters by package name (the ``package`` of :func:`export`, the ``[output]`` key):
each target of :data:`jmimpute.spec.exports.EXPORT_TARGETS` with its writer."""


def exporter(package: str) -> Exporter:
    """The entry of :data:`EXPORTS` for ``package`` (any case), or an error listing them."""
    if not isinstance(package, str) or package.lower() not in EXPORTS:
        raise ValueError(
            f"`package` must be one of {', '.join(map(repr, EXPORTS))}; got {package!r}"
        )
    return EXPORTS[package.lower()]


def check_path(package: str, path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, checked against the package's target (a file's suffix).

    Raises
    ------
    TypeError
        ``path`` is not a string or path.
    ValueError
        A file whose suffix the package does not write.
    """
    entry = exporter(package)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"`path` must be a file or folder name (str or pathlib.Path); got "
            f"{type(path).__name__} {path!r}"
        )
    target = Path(path).expanduser()
    if not EXPORT_TARGETS[package.lower()].takes(target):
        usual = target.with_suffix(entry.suffixes[0])
        raise ValueError(
            f"`path` {str(path)!r}: the {package.lower()!r} export writes a file ending in "
            f"{' or '.join(entry.suffixes)}; use e.g. {str(usual)!r}"
        )
    if entry.target == "folder" and target.is_file():
        raise ValueError(
            f"`path` {str(path)!r} is a file, but the {package.lower()!r} export writes "
            f"several files into a folder; name a folder, e.g. {str(target.with_suffix(''))!r}"
        )
    return target


def export(
    imp: Imputation, package: str, path: str | os.PathLike[str], **options: Any
) -> list[Path]:
    """Write the completed sets in the layout an analysis program reads.

    Parameters
    ----------
    imp : Imputation
    package : {"mplus", "stata", "spss", "r"}
        The program (:data:`EXPORTS`): ``"mplus"`` a folder of data files, an implist file
        and an input template; ``"stata"`` the ``mi`` flong layout in a ``.dta`` file;
        ``"spss"`` the ``Imputation_`` split layout in a ``.sav`` file; ``"r"`` mice's
        long layout (``.imp``, ``.id``) as CSV.
    path : str or path-like
        A folder for Mplus, else a file with one of the package's suffixes.
    **options
        ``columns`` (the columns to write, in order) and ``rename`` (old name -> name in
        the files, for names the program cannot read), for every package; for Mplus also
        ``sep`` (``","``, ``" "`` or a tab), ``missing`` (the code of values still
        missing, -999) and ``max_name_length`` (90 for Mplus 8, 8 before).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        An unknown package, a path of the wrong kind, or column names the program cannot
        read (the message says how to rename them).
    TypeError
        An option the package does not take.
    """
    entry = exporter(package)
    target = check_path(package, path)
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise TypeError(
            f"the {package.lower()!r} export takes the options "
            f"{', '.join(entry.options)}; got {', '.join(map(repr, unknown))}"
        )
    return entry.write(imp, target, **options)


__all__ = ["EXPORTS", "Exporter", "check_path", "export", "exporter"]
