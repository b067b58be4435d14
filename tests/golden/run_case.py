"""Run one golden case in this process and save its outputs: ``python -m tests.golden.run_case
NAME OUT.npz`` (from the repository's root).

The golden test runs each case in a fresh process, after the kernel's Numba cache is written:
Numba's code for the kernel loaded from its on-disk cache and the same code compiled in the
running process differ in the last bits of some sums (``python
benchmarks/bench_cache_bits.py`` prints by how much), which
NUTS's chaotic trajectories turn into other draws. The golden files were made with the
cached code, as every run after the first on a machine uses.
"""

from __future__ import annotations

import sys

import numpy as np

from tests.golden.cases import CASES, run, snapshot, sweep_snapshot


def main(name: str, out: str) -> None:
    case = next(c for c in CASES if c.name == name)
    imp = run(case)
    arrays = snapshot(imp)
    if case.name == "brandsma_den":
        arrays |= sweep_snapshot(imp)
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
