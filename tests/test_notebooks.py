"""Execute the example notebooks in examples/ (``make test-notebooks``).

Each notebook runs top to bottom in a fresh ``python3`` kernel (ipykernel, started with the
interpreter running pytest), from its own directory, with ``JMIMPUTE_QUICK=1`` so the long
ones sample short chains. The test fails on any cell that raises. The notebooks are stored
without outputs; the executed copy is written to pytest's ``tmp_path`` for inspection.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT_S = 1200


def test_notebooks_found() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"brandsma_fimd.ipynb", "hsb_mertools.ipynb"}


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")

    notebook = nbformat.read(path, as_version=4)
    assert all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in notebook.cells
        if cell.cell_type == "code"
    ), f"{path.name} is stored with outputs; clear them before committing"

    monkeypatch.setenv("JMIMPUTE_QUICK", "1")  # the kernel inherits this environment
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(notebook, tmp_path / path.name)
