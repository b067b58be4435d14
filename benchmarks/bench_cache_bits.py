"""Does the kernel give the same bits compiled afresh and loaded from Numba's on-disk cache?

Evaluates the collapsed kernel's value and gradient on the small problems of
``tests/problems.py`` in two fresh processes sharing an empty ``NUMBA_CACHE_DIR``: the first
compiles the kernel (and writes the cache), the second loads it. Prints the largest absolute
difference between the two (0 would mean the same bits). NUTS turns any difference into
other draws, which is why ``tests/test_golden.py`` runs its cases on cached code. Run with
``python benchmarks/bench_cache_bits.py`` (about a minute: one compile).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVALUATE = """
import sys
import numpy as np
from tests.kernels.helpers import kernel
from tests.problems import CONFIGS, make_problem
out = []
for name, cfg in CONFIGS.items():
    value, grads = kernel(make_problem(seed=len(name), empty_cluster=True, **cfg))
    out.append(np.concatenate([[value], *[g.ravel() for g in grads]]))
np.save(sys.argv[1], np.concatenate(out))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env = os.environ | {"NUMBA_CACHE_DIR": cache}
        runs = []
        for label in ("compiled", "cached"):
            path = Path(out) / f"{label}.npy"
            subprocess.run(
                [sys.executable, "-c", EVALUATE, str(path)], cwd=ROOT, env=env, check=True
            )
            runs.append(np.load(path))
    diff = np.abs(runs[0] - runs[1])
    print(f"{diff.size} values: the kernel's value and gradients on tests/problems.py's problems")
    print(f"largest |compiled - cached| = {diff.max():.3g}, differing values: {(diff > 0).sum()}")


if __name__ == "__main__":
    main()
