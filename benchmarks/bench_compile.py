"""How long nutpie/Numba takes to compile jmimpute's models, and why.

nutpie compiles a PyMC model into two C callbacks that Numba cannot cache; LLVM optimises
and compiles everything they link every time, so the compile is a fixed cost of every
``jm.impute`` call (the PyTensor graph functions below them are cached on disk). For each
case this prints, from a fresh process:

* ``compile_s``: the result's ``compile_seconds`` (graph rewrites, loading the cached
  graph functions, then the two callbacks);
* ``ir_lines``: lines of LLVM IR in the two callbacks' modules, the work LLVM redoes on
  every compile (deterministic, unlike the seconds).

``--toy`` adds a model with five shared scalars against one shared vector of five: nutpie
generates code per shared value, which is why the prior hyperparameters are one vector
(``jmimpute.models.joint.parameters.prior_data``).

Run with ``python benchmarks/bench_compile.py`` (about 3 minutes on 2 cores; the first run
after a change to the model's code compiles the graph functions too, so run it twice).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = {
    "brandsma": ("lpo + iqv ~ 1 + (1|sch)", None),
    "brandsma+den": (["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"], ["den"]),
    "hsb": (None, ["minority", "female"]),
}

_CASE_SCRIPT = """
import json, sys, time
sys.path.insert(0, {examples!r})
import jmimpute as jm
name = {name!r}
if name == "hsb":
    from mertools_hsb import IMPUTATION, hsb_with_mcar
    data, formula, categorical = hsb_with_mcar(), IMPUTATION, ["minority", "female"]
else:
    data = jm.datasets.load_brandsma()
    formula, categorical = {formula!r}, {categorical!r}
imp = jm.impute(data, formula, categorical=categorical, m=1, draws=20, tune=20,
                random_seed=1, progressbar=False)
compiled = imp._built.compiled
lines = sum(
    f._library.get_llvm_str().count("\\n")
    for f in (compiled.compiled_logp_func, compiled.compiled_expand_func)
)
print(json.dumps({{"compile_s": imp.tree.attrs["compile_seconds"], "ir_lines": lines}}))
"""

_TOY_SCRIPT = """
import json, time
import numpy as np, pymc as pm, nutpie

def build(shared):
    with pm.Model() as model:
        x = pm.Normal("x", shape=3)
        if shared == "vector":
            scale = pm.Data("h", np.ones(5)).sum()
        elif shared == "scalars":
            scale = sum(pm.Data(f"h{{i}}", 1.0) for i in range(5))
        else:
            scale = 5.0
        s = pm.HalfNormal("s", scale)
        pm.Normal("y", x.sum(), s, observed=np.arange(5.0))
    return model

nutpie.compile_pymc_model(build("none"), backend="numba")  # Numba's own start-up
out = {{}}
for label, shared in (("five_scalars", "scalars"), ("one_vector", "vector")):
    start = time.perf_counter()
    nutpie.compile_pymc_model(build(shared), backend="numba")
    out[label] = time.perf_counter() - start
print(json.dumps(out))
"""


def _run(script: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--toy", action="store_true", help="also time the shared-values toy")
    args = parser.parse_args()
    for name in args.cases.split(","):
        formula, categorical = CASES[name]
        script = _CASE_SCRIPT.format(
            examples=str(HERE.parent / "examples"),
            name=name,
            formula=formula,
            categorical=categorical,
        )
        result = _run(script)
        print(f"{name:14s} compile {result['compile_s']:6.1f} s   IR {result['ir_lines']:7d} lines")
    if args.toy:
        toy = _run(_TOY_SCRIPT.format())
        print(
            f"toy model     five shared scalars {toy['five_scalars']:.1f} s, "
            f"one shared vector of five {toy['one_vector']:.1f} s"
        )


if __name__ == "__main__":
    main()
