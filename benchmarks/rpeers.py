"""Running the R peers (mitml's panImpute and jomoImpute) from the benchmarks."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def have_mitml() -> bool:
    """Whether ``Rscript`` with mitml and coda is installed (shared/peers/README.md)."""
    if shutil.which("Rscript") is None:
        return False
    check = subprocess.run(
        ["Rscript", "-e", "library(mitml); library(coda)"], capture_output=True, check=False
    )
    if check.returncode != 0:
        logging.warning("Rscript found but mitml/coda are not installed; skipping the peers")
        return False
    return True


def run_peer_script(script: str, *args: str) -> dict[str, dict[str, float]]:
    """Run ``benchmarks/<script>`` and read its ``RESULT name key=value ...`` lines."""
    out = subprocess.run(
        ["Rscript", str(HERE / script), *args], capture_output=True, text=True, check=True
    ).stdout
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT"):
            _, name, *fields = line.split()
            results[name] = {k: float(v) for k, v in (f.split("=") for f in fields)}
    return results
