"""The seam refactor (issue 18) changed no output: seeded runs equal their golden files.

``tests/golden/make_golden.py`` wrote the files before the refactor. Every array of the
result (both posteriors, sample stats, imputed cells and their coordinates, the kept
draws, a hash of every completed set) and, for brandsma with ``den``, a delta sweep's
pooled table and shifted imputations must be bitwise equal. Numba compiles for the host
CPU, whose vector width changes the order of the kernel's floating-point sums and so the
chaotic NUTS trajectories: on another kind of CPU the comparison is skipped, saying so. For
the same reason each case runs in a fresh process that loads the kernel from Numba's cache
(``tests/golden/run_case.py`` says why), written first if need be.

Issue 19 made ``brandsma_den``'s file again: the design's values became shared data
instead of constants, and LLVM no longer compiles the level-2 covariates' product (an
intercept of ones there) for their known values. The log density and gradient differ in
1 of 188,100 values, by one unit in the last place (``python
benchmarks/bench_shared_bits.py brandsma_den``); NUTS's trajectories turn that into other
draws. The other six cases are unchanged, bit for bit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.golden.cases import CASES, cpu_key

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kernel_cached():
    """Compile the kernel's entry in a process of its own, which writes Numba's cache."""
    subprocess.run([sys.executable, "-c", "import jmimpute._kernels.entry"], cwd=ROOT, check=True)


def _compare(golden: dict, new: dict) -> None:
    missing = sorted(set(golden) - set(new))
    assert not missing, f"outputs no longer produced: {missing}"
    differ = []
    for key, want in golden.items():
        got = new[key]
        if want.shape != got.shape or not np.array_equal(
            want, got, equal_nan=want.dtype.kind == "f"
        ):
            differ.append(key)
    assert not differ, f"outputs differ from the golden files: {differ}"


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c.slow else c for c in CASES],
    ids=[c.name for c in CASES],
)
def test_outputs_equal_the_golden_files(case, kernel_cached, tmp_path):
    with np.load(GOLDEN / f"{case.name}.npz") as files:
        golden = {k: files[k] for k in files.files}
    made_on = str(golden.pop("cpu"))
    if made_on != cpu_key():
        pytest.skip(f"golden files made on another CPU ({made_on}), not {cpu_key()}")
    out = tmp_path / "new.npz"
    subprocess.run(
        [sys.executable, "-m", "tests.golden.run_case", case.name, str(out)], cwd=ROOT, check=True
    )
    with np.load(out) as files:
        new = {k: files[k] for k in files.files}
    _compare(golden, new)
