"""Running the R peers (mitml's panImpute and jomoImpute) from the benchmarks."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def have_mitml(*extra: str) -> bool:
    """Whether ``Rscript`` with mitml, coda and the ``extra`` packages is installed.

    See docs/peers.md for installing them.
    """
    if shutil.which("Rscript") is None:
        return False
    packages = ("mitml", "coda", *extra)
    code = "; ".join(f"library({p})" for p in packages)
    check = subprocess.run(["Rscript", "-e", code], capture_output=True, check=False)
    if check.returncode != 0:
        logging.warning("Rscript found but not all of %s; skipping the peers", ", ".join(packages))
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
