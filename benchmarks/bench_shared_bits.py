"""The design as shared data against as constants: the same log density, to the last bits?

Issue 19 moved the design's values (the kernel's statistics, the level-2 values and
covariates) from constants of the PyTensor graph into shared data, so that one compiled
model serves other data of the same structure. Where a constant fed ordinary PyTensor
code (not the kernel, which Numba calls by name and never sees), LLVM saw its values and
compiled code specialised to them; the level-2 covariates' product is such code. This
prints, for a case with level-2 targets, how many of the log density's and gradient's
values differ between the two graphs at points of several scales, and by how much.
Different last bits send NUTS's chaotic trajectories elsewhere: the golden files of the
cases with level-2 targets were made again for this reason (``tests/test_golden.py``).

Run with ``python benchmarks/bench_shared_bits.py [brandsma_den|hsb]`` (about a minute
per graph the first time, while Numba compiles it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from nutpie import compile_pymc as cp
import jmimpute.models.collapsed.build as build
from jmimpute._kernels.small_dot import small_dot
from jmimpute.design.standardised import build_design
from jmimpute.models import model_for
from jmimpute.spec.model import build_spec
from jmimpute.spec.validate import validate
from tests.golden.cases import CASES

if {constants!r}:  # the level-2 covariates as constants, as before issue 19
    build.small_dot = lambda a, b: small_dot(getattr(a, "get_value", lambda: a)(), b)
case = next(c for c in CASES if c.name == {case!r})
spec = build_spec(case.formula, categorical=case.options.get("categorical"), progressbar=False)
frame, level1, level2 = validate(case.data(), spec)
design = build_design(frame, spec.level1, level1, spec.level2, level2)
model = model_for(spec.method).build(design, spec).model
n_dim, _, logp, *_ = cp._make_functions(
    model, mode="NUMBA", compute_grad=True, join_expanded=True,
    pymc_initial_point_fn=lambda seed: None,
)
rng = np.random.default_rng(0)
values = []
for i in range(300):
    value, grad = logp(rng.normal(0.0, (0.1, 0.5, 1.0, 2.0, 3.0)[i % 5], n_dim))
    values.append(np.r_[value, grad])
np.save(sys.argv[1], np.array(values))
"""


def _values(case: str, constants: bool, out: Path) -> np.ndarray:
    script = _SCRIPT.format(root=str(ROOT), case=case, constants=constants)
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, cwd=ROOT)
    return np.load(out)


def main() -> None:
    case = sys.argv[1] if len(sys.argv) > 1 else "brandsma_den"
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    constant = _values(case, True, out / "bits_constants.npy")
    shared = _values(case, False, out / "bits_shared.npy")
    differ = constant != shared
    scale = np.maximum(np.abs(constant), np.finfo(float).tiny)
    report = {
        "case": case,
        "values": int(differ.size),
        "differ": int(differ.sum()),
        "max_abs": float(np.abs(constant - shared).max()),
        "max_rel": float((np.abs(constant - shared) / scale).max()),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
