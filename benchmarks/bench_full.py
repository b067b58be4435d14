"""Speed of the full joint model (categorical and level-2 targets) against jomoImpute.

Three cases, m = 20, jmimpute with its defaults (4 chains x 500 warm-up at target_accept
0.65, draws until converged: 1000 per chain first, more if some R-hat > 1.01 or
ESS < 400; nutpie/numba):

* brandsma ``[lpo + iqv ~ 1 + (1|sch), den ~ 1]`` with den (level 2, 4 levels) categorical;
* hsb with 5% MCAR in minority, female, ses and size (``examples/mertools_hsb.py``),
  ``[minority + female + ses + mathach ~ 1 + (1|schid), size ~ 1 + schtype + meanses]``;
* mitml's ``leadership`` (750 rows, 50 groups; R with mitml supplies the data)
  ``[JOBSAT + NEGLEAD + WLOAD ~ 1 + (1|GRPID), COHES ~ 1]`` with WLOAD (binary) categorical,
  mitml's own jomoImpute example.

For each: min bulk ESS of the imputation-model parameters, ESS per second of sampling (all
of it: with nutpie/numba one run, judged at checkpoints and stopped once converged; where
each checkpoint is a new run, all runs), max R-hat, end-to-end wall time; and, when
``Rscript`` with mitml is found, the same for jomoImpute (``peer_jomo_full.R``: ESS of
2000 iterations after 1000 burn-in by coda, wall time with n.burn 5000 and n.iter 100, its
own max potential scale reduction) and the ratios. Goal (issue 3): at least 10x jomo's
min-ESS/s and a lower wall time than jomoImpute's (issue 19: for leadership and hsb too).
jmimpute's wall time starts after PyMC, nutpie and ArviZ are imported, as jomoImpute's
starts after mitml is loaded; the import's seconds are printed first. Run with
``python benchmarks/bench_full.py`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import jmimpute as jm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
from mertools_hsb import IMPUTATION as HSB_FORMULA  # noqa: E402
from mertools_hsb import hsb_with_mcar  # noqa: E402
from rpeers import have_mitml, run_peer_script  # noqa: E402

M = 20


def load_leadership() -> pd.DataFrame:
    """mitml's ``leadership`` data (750 employees in 50 groups), read through R.

    ``WLOAD`` (workload, low/high) is coded 0/1, as jomoImpute and jmimpute both read it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leadership.csv"
        code = (
            "data(leadership, package = 'mitml'); "
            f"write.csv(leadership, {str(path)!r}, row.names = FALSE)"
        )
        subprocess.run(["Rscript", "-e", code], check=True, capture_output=True)
        data = pd.read_csv(path)
    return data.assign(WLOAD=data["WLOAD"].map({"low": 0.0, "high": 1.0}))


CASES = {
    "brandsma+den": (
        jm.datasets.load_brandsma,
        "sch",
        ["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"],
        ["den"],
        ["lpo", "iqv", "den"],
    ),
    "hsb": (
        hsb_with_mcar,
        "schid",
        HSB_FORMULA,
        ["minority", "female"],
        ["minority", "female", "ses", "mathach", "size", "schtype", "meanses"],
    ),
    # mitml's own jomoImpute example (needs R with mitml for the data)
    "leadership": (
        load_leadership,
        "GRPID",
        ["JOBSAT + NEGLEAD + WLOAD ~ 1 + (1|GRPID)", "COHES ~ 1"],
        ["WLOAD"],
        ["JOBSAT", "NEGLEAD", "WLOAD", "COHES"],
    ),
}

STACK = ("pymc", "nutpie", "arviz_stats")
"""What ``jm.impute`` imports on its first call (``import jmimpute`` loads none of them)."""


def run_ours(data: pd.DataFrame, formula: list[str], categorical: list[str]) -> dict[str, float]:
    start = time.perf_counter()
    imp = jm.impute(data, formula, categorical=categorical, m=M, random_seed=1, progressbar=False)
    wall = time.perf_counter() - start
    table = imp.convergence()
    attrs = imp.tree.attrs
    stats = imp.tree["sample_stats"].dataset
    steps = float(stats["n_steps"].mean()) if "n_steps" in stats else float("nan")
    return {
        "steps_per_draw": steps,
        "min_ess": float(table["ess_bulk"].min()),
        "max_rhat": float(table["r_hat"].max()),
        "compile_s": float(attrs["compile_seconds"]),
        "sampling_s": float(attrs["sampling_seconds"]),
        "draws_tried": str(attrs["draws_tried"]),
        "sampler_runs": int(attrs["sampler_runs"]),
        "wall_s": wall,
    }


def run_jomo(
    data: pd.DataFrame, cluster: str, formula: list[str], factors: list[str], cols: list[str]
) -> dict[str, float] | None:
    if not have_mitml():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        codes = pd.factorize(data[cluster], sort=True)[0] + 1
        frame = data[cols].assign(**{cluster: codes})
        frame.astype({c: "float64" for c in factors}).to_csv(path, index=False, na_rep="NA")
        results = run_peer_script(
            "peer_jomo_full.R", str(path), cluster, *formula, ",".join(factors), str(M)
        )
    return results.get("jomoImpute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", type=Path, default=Path("out/bench_full.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report: dict[str, dict] = {}
    # jomoImpute's wall time excludes loading mitml (peer_jomo_full.R), so each case's
    # excludes importing the sampling stack, which jm.impute defers to its first call
    start = time.perf_counter()
    for name in STACK:
        importlib.import_module(name)
    imports = time.perf_counter() - start
    report["imports_s"] = {"jmimpute": imports}
    lines = [f"importing {', '.join(STACK)}: {imports:.1f} s, before the first case's wall time"]
    for case in args.cases.split(","):
        load, cluster, formula, factors, cols = CASES[case]
        if case == "leadership" and not have_mitml():
            lines.append("\n== leadership: skipped (its data come with R's mitml)")
            continue
        data = load()
        ours = run_ours(data, formula, factors)
        entry = {"jmimpute": ours}
        jomo = None if args.no_peers else run_jomo(data, cluster, formula, factors, cols)
        if jomo is not None:
            entry["jomoImpute"] = jomo
        report[case] = entry
        lines.append(f"\n== {case}: {formula}, m = {M}")
        rate = ours["min_ess"] / ours["sampling_s"]
        lines.append(
            f"jmimpute    min ESS {ours['min_ess']:.0f}, ESS/s {rate:.1f}"
            f" (sampling {ours['sampling_s']:.1f} s, compile {ours['compile_s']:.1f} s), "
            f"max R-hat {ours['max_rhat']:.3f}, wall m=20 {ours['wall_s']:.1f} s, "
            f"{ours['steps_per_draw']:.0f} leapfrog steps per draw, "
            f"convergence judged at {ours['draws_tried']} draws per chain "
            f"in {ours['sampler_runs']} sampler run(s)"
        )
        if jomo is not None:
            jomo_rate = jomo["min_ess"] / jomo["ess_seconds"]
            lines.append(
                f"jomoImpute  min ESS {jomo['min_ess']:.0f} of 2000, ESS/s {jomo_rate:.2f}, "
                f"own max PSR {jomo['max_psr']:.3f}, wall m=20 (n.burn 5000) {jomo['wall_m']:.0f} s"
            )
            ratio = ours["min_ess"] / ours["sampling_s"] / jomo_rate
            lines.append(
                f"ratios: min-ESS/s {ratio:.1f}x (goal >= 10x); wall time "
                f"{ours['wall_s'] / jomo['wall_m']:.2f} of jomo's (goal < 1)"
            )
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nraw numbers in {args.json}")


if __name__ == "__main__":
    main()
