"""Speed of the imputation model against pan and jomo (R's mitml), measured in one run.

For brandsma (lpo + iqv) and hsb (ses + mathach with 5% MCAR) and m = 20 this prints:

* min bulk ESS of the imputation-model parameters per second of sampling (warm-up
  included, compilation excluded) and per second end to end (compilation included);
* end-to-end wall time of an m = 20 imputation;
* the same for panImpute and jomoImpute when ``Rscript`` with mitml is found (their ESS
  from 2000 iterations after 1000 burn-in by coda's effectiveSize, per second of those
  3000 iterations; their wall time with n.burn 5000, n.iter 100; see peer_mitml.R), and
  the ratios;
* the sampling time with every cluster's rows replicated 10 times (same clusters), whose
  ratio to the original the collapsed likelihood should keep near 1 (goal: within 1.5).

Each jmimpute figure is the fastest of 3 runs (seeds 1-3).

Run with ``make bench``. Timings are single runs on a shared machine: compare ratios from
the same run, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
import time
from pathlib import Path

import pandas as pd
from rpeers import have_mitml, run_peer_script

import jmimpute as jm

M = 20


def hsb_with_mcar(seed: int = 20170710) -> pd.DataFrame:
    """hsb with 5% of ses and mathach deleted completely at random."""
    return jm.testing.add_mcar(jm.datasets.load_hsb(), ["ses", "mathach"], 0.05, seed=seed)


CASES = {
    "brandsma": (jm.datasets.load_brandsma, "sch", ("lpo", "iqv")),
    "hsb": (hsb_with_mcar, "schid", ("ses", "mathach")),
}


def replicate_rows(data: pd.DataFrame, times: int) -> pd.DataFrame:
    """Every row repeated ``times`` times: same clusters, ``times`` as many rows each."""
    return data.loc[data.index.repeat(times)].reset_index(drop=True)


def run_ours(data: pd.DataFrame, formula: str, backend: str, repeats: int = 1) -> dict[str, float]:
    """One imputation; with ``repeats`` > 1 the fastest of that many (sampling noise on a
    shared 2-core machine is large next to sub-second sampling times)."""
    runs = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        imp = jm.impute(data, formula, m=M, random_seed=seed, backend=backend, progressbar=False)
        wall = time.perf_counter() - start
        table = imp.convergence()
        attrs = imp.tree.attrs
        runs.append(
            {
                "min_ess": float(table["ess_bulk"].min()),
                "max_rhat": float(table["r_hat"].max()),
                "compile_s": float(attrs["compile_seconds"]),
                "sampling_s": float(attrs["sampling_seconds"]),
                "wall_s": wall,
            }
        )
    return min(runs, key=lambda r: r["sampling_s"])


def run_peers(data: pd.DataFrame, cluster: str, targets: tuple[str, ...]) -> dict[str, dict]:
    if not have_mitml():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        codes = pd.factorize(data[cluster], sort=True)[0] + 1
        data[list(targets)].assign(**{cluster: codes}).to_csv(path, index=False, na_rep="NA")
        return run_peer_script("peer_mitml.R", str(path), cluster, ",".join(targets), str(M))


def main() -> None:
    parser = argparse.ArgumentParser(description="jmimpute speed against pan and jomo")
    parser.add_argument("--backends", default="numba,jax")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--json", type=Path, default=Path("out/bench_impute.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    backends = args.backends.split(",")
    report: dict[str, dict] = {}
    lines = []
    for case, (load, cluster, targets) in CASES.items():
        data = load()
        formula = f"{' + '.join(targets)} ~ 1 + (1|{cluster})"
        entry: dict[str, dict] = {}
        for backend in backends:
            entry[f"jmimpute/{backend}"] = run_ours(data, formula, backend, repeats=3)
        # rows x10, same clusters: the collapsed cost should not grow with the rows
        entry["jmimpute/numba x10 rows"] = run_ours(
            replicate_rows(data, 10), formula, "numba", repeats=3
        )
        if not args.no_peers:
            entry |= run_peers(data, cluster, targets)
        report[case] = entry

        lines.append(f"\n== {case}: {formula}, m = {M}")
        lines.append(
            f"{'sampler':<26}{'min ESS':>9}{'ESS/s samp':>12}{'ESS/s e2e':>11}"
            f"{'compile s':>11}{'sample s':>10}{'wall m=20':>11}"
        )
        for name, r in entry.items():
            if name.startswith("jmimpute"):
                ess_s = r["min_ess"] / r["sampling_s"]
                ess_e2e = r["min_ess"] / (r["compile_s"] + r["sampling_s"])
                lines.append(
                    f"{name:<26}{r['min_ess']:>9.0f}{ess_s:>12.0f}{ess_e2e:>11.0f}"
                    f"{r['compile_s']:>11.1f}{r['sampling_s']:>10.2f}{r['wall_s']:>11.1f}"
                )
            else:
                ess_s = r["min_ess"] / r["ess_seconds"]
                lines.append(
                    f"{name:<26}{r['min_ess']:>9.0f}{ess_s:>12.0f}{ess_s:>11.0f}"
                    f"{0.0:>11.1f}{r['ess_seconds']:>10.2f}{r['wall_m']:>11.1f}"
                )
        if "jmimpute/numba" in entry:
            ratio_rows = (
                entry["jmimpute/numba x10 rows"]["sampling_s"]
                / entry["jmimpute/numba"]["sampling_s"]
            )
            lines.append(f"sampling time with rows x10 / original (goal <= 1.5): {ratio_rows:.2f}")
        for peer, goal in (("panImpute", 2.0), ("jomoImpute", 20.0)):
            if peer not in entry:
                continue
            peer_rate = entry[peer]["min_ess"] / entry[peer]["ess_seconds"]
            for name in (k for k in entry if re.fullmatch(r"jmimpute/\w+", k)):
                r = entry[name]
                ratio = r["min_ess"] / r["sampling_s"] / peer_rate
                ratio_e2e = r["min_ess"] / (r["compile_s"] + r["sampling_s"]) / peer_rate
                lines.append(
                    f"min-ESS/s {name} / {peer}: {ratio:.1f}x sampling, {ratio_e2e:.1f}x with "
                    f"compilation (goal >= {goal:.0f}x); wall m=20 ratio "
                    f"{r['wall_s'] / entry[peer]['wall_m']:.2f}"
                )
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nraw numbers in {args.json}")


if __name__ == "__main__":
    main()
