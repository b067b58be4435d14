"""Compile once: what a user waits for before sampling, in a new process and across data sets.

Prints, each figure from its own fresh Python process where a process is named:

* **new process, warm caches** (the default): brandsma ``lpo + iqv ~ 1 + (1|sch)``,
  m = 20, defaults. ``call`` is the wall time of ``jm.impute`` (the first call of the
  process, so it includes importing PyMC, PyTensor, nutpie and ArviZ, which ``import
  jmimpute`` defers), ``imports`` the part of it spent importing them, ``then`` the rest
  (what R's peers are timed on: their packages are loaded first), then the result's
  ``compile_seconds`` and ``sampling_seconds``, where the compiled model came from, and
  the process's whole wall time.
* **replicates**: simulated data sets of one structure imputed one after another in one
  process (m = 5, defaults): brandsma's size (216 clusters of 19 rows, two targets, 20%
  missing at random) and issue 19's design (50 clusters of 20 rows, three targets). The
  first replicate loads or compiles the model; the others reuse it with their own data.
* ``--cold``: the same in empty caches, as on a fresh machine: the set-up's warm-up
  (``python -m jmimpute.warmup``, run by ``make setup``), then brandsma's first
  imputation (a structure the warm-up compiles) and the first and second imputation of a
  structure it does not (three continuous targets).

Run with ``python benchmarks/bench_compile.py [--cold]`` (about 2 minutes warm; ``--cold``
about 5 more on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BRANDSMA = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import jmimpute as jm
data = jm.datasets.load_brandsma()
formula = {formula!r}
start = time.perf_counter()
import pymc, nutpie, arviz_stats
imports = time.perf_counter() - start
imp = jm.impute(data, formula, m={m}, random_seed=1, progressbar=False)
call = time.perf_counter() - start
attrs = imp.tree.attrs
print(json.dumps({{"call": call, "imports": imports, "compile": attrs["compile_seconds"],
                  "sampling": attrs["sampling_seconds"], "from": attrs["compiled_from"]}}))
"""

_REPLICATES = """
import json, time, warnings
warnings.simplefilter("ignore")
import jmimpute as jm
from jmimpute.testing import simulate_two_level
out = []
for seed in range({n}):
    sim = simulate_two_level(n_clusters={clusters}, cluster_size={size}, p={p}, seed=seed)
    start = time.perf_counter()
    imp = jm.impute(sim.data, sim.formula, m=5, random_seed=seed, progressbar=False)
    out.append({{"wall": time.perf_counter() - start, "from": imp.tree.attrs["compiled_from"],
                "compile": imp.tree.attrs["compile_seconds"]}})
print(json.dumps(out))
"""


def _run(script: str, env: dict[str, str] | None = None) -> tuple[object, float]:
    """Run ``script`` in a new process; its last line of JSON and the process's wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def _brandsma(label: str, formula: str, env: dict[str, str] | None = None, m: int = 20) -> None:
    result, wall = _run(_BRANDSMA.format(formula=formula, m=m), env)
    assert isinstance(result, dict)
    print(
        f"{label:<44} call {result['call']:5.1f} s (imports {result['imports']:.1f}, then "
        f"{result['call'] - result['imports']:.1f}: compile {result['compile']:5.1f}, sampling "
        f"{result['sampling']:.1f}; model from {result['from']}), process {wall:5.1f} s"
    )


def _replicates(label: str, clusters: int, size: int, p: int, n: int) -> None:
    script = _REPLICATES.format(n=n, clusters=clusters, size=size, p=p)
    result, _ = _run(script)
    assert isinstance(result, list)
    first, rest = result[0], result[1:]
    mean = sum(r["wall"] for r in rest) / len(rest)
    reused = sum(r["from"] == "process" for r in rest)
    print(
        f"{label:<44} first {first['wall']:5.1f} s (compile {first['compile']:.1f}, model "
        f"from {first['from']}); the other {len(rest)}: mean {mean:.2f} s, max "
        f"{max(r['wall'] for r in rest):.2f} s, {reused} reused the compiled model"
    )


def _cold() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "NUMBA_CACHE_DIR": str(Path(tmp) / "numba"),
            "PYTENSOR_FLAGS": f"base_compiledir={Path(tmp) / 'pytensor'}",
        }
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "jmimpute.warmup"],
            check=True,
            cwd=ROOT,
            env=env,
            capture_output=True,
        )
        print(f"{'cold: set-up warm-up (make setup)':<44} {time.perf_counter() - start:5.1f} s")
        _brandsma("cold: brandsma after the warm-up", "lpo + iqv ~ 1 + (1|sch)", env)
        other = "lpo + iqv + apo ~ 1 + (1|sch)"
        _brandsma("cold: a structure the warm-up lacks, 1st", other, env, m=5)
        _brandsma("cold: the same structure, 2nd process", other, env, m=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also measure with empty caches")
    parser.add_argument("--replicates", type=int, default=20)
    args = parser.parse_args()
    _brandsma("warm: brandsma, m = 20, new process", "lpo + iqv ~ 1 + (1|sch)")
    _replicates("replicates: 216 x 19 rows, 2 targets", 216, 19, 2, args.replicates)
    _replicates("replicates: 50 x 20 rows, 3 targets", 50, 20, 3, args.replicates)
    if args.cold:
        _cold()


if __name__ == "__main__":
    main()
