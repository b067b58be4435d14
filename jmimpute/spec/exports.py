"""The analysis programs jmimpute writes completed data for, as data: what each reads.

The specification's view of the exports: a model file's ``[output]`` keys and the checks
of their paths need only the program, its layout and what its path names (a file of some
suffixes, or a folder). The writers themselves are in :mod:`jmimpute.results.handoff`,
whose :data:`~jmimpute.results.handoff.EXPORTS` joins each entry here to its writer, so
that the specification never imports the results layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class ExportTarget:
    """What one analysis program reads as multiply imputed data.

    Attributes
    ----------
    program : str
        The program, as its users name it.
    layout : str
        What is written, in a line.
    target : {"file", "folder"}
        Whether the path names a file or a folder to write into.
    suffixes : tuple of str
        The suffixes a file target may have (the first is the usual one); empty for a
        folder.
    columns : tuple of str
        The columns the layout writes before the data: the imputation number (0 for the
        incomplete data), then any row id; empty for one file per set. Reading the layout
        back (:mod:`jmimpute.analysis.external`) looks for the same names.
    """

    program: str
    layout: str
    target: Literal["file", "folder"]
    suffixes: tuple[str, ...]
    columns: tuple[str, ...] = ()

    def takes(self, path: Path) -> bool:
        """Whether ``path`` names what this layout is written to.

        A folder, or a file with one of the suffixes; the model-file reader and the
        exporters ask alike.
        """
        return self.target == "folder" or path.suffix.lower() in self.suffixes


EXPORT_TARGETS: dict[str, ExportTarget] = {
    "mplus": ExportTarget(
        program="Mplus",
        layout="imp_01.dat .. (headerless, numbers only), implist.dat and analysis.inp "
        "for DATA: TYPE = IMPUTATION",
        target="folder",
        suffixes=(),
    ),
    "stata": ExportTarget(
        program="Stata",
        layout="flong layout for mi import flong (mi_m 0..m, mi_id) in a .dta file",
        target="file",
        suffixes=(".dta",),
        columns=("mi_m", "mi_id"),
    ),
    "spss": ExportTarget(
        program="SPSS",
        layout="split variable Imputation_ (0 = the incomplete data, 1..m) in a .sav file",
        target="file",
        suffixes=(".sav", ".csv"),
        columns=("Imputation_",),
    ),
    "r": ExportTarget(
        program="R (mice, mitml)",
        layout="mice's long layout (.imp 0..m, .id) as CSV, for mice::as.mids",
        target="file",
        suffixes=(".csv",),
        columns=(".imp", ".id"),
    ),
}
"""By package name: the ``package`` of ``imp.export`` and the ``[output]`` key."""

__all__ = ["EXPORT_TARGETS", "ExportTarget"]
