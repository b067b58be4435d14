"""Cluster-specific level-1 covariances on brandsma, against jomoImpute's ``random.L1 = "full"``.

``lpo + iqv ~ 1 + (1|sch)`` with ``cluster_covariance="random"`` (jmimpute's defaults, m = 20,
nutpie/JAX) and, when ``Rscript`` with mitml and lme4 is found, jomoImpute with
``random.L1 = "full"`` (jomo's ``meth = "random"``; n.burn 5000, n.iter 100 as the
reference runs), in the same run. Both sets of completed data are analysed with
``lpo ~ iqv + (1|sch)`` and pooled by Rubin's rules (mitml::testEstimates for jomo).

Prints: jmimpute's wall time, compile and sampling time, min bulk ESS, ESS/s, max R-hat and
the spread ``tau``; jomo's wall time and own max PSR; the ratios; and each pooled estimate
of both with their difference in pooled standard errors (the agreement check: within 1).
Run with ``python benchmarks/bench_cluster_cov.py`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from rpeers import have_mitml, run_peer_script  # benchmarks/, the script's own directory

import jmimpute as jm

FORMULA = "lpo + iqv ~ 1 + (1|sch)"
ANALYSIS = "lpo ~ iqv + (1|sch)"
M = 20


def run_ours() -> dict:
    data = jm.datasets.load_brandsma()[["sch", "lpo", "iqv"]]
    start = time.perf_counter()
    imp = jm.impute(
        data, FORMULA, cluster_covariance="random", m=M, random_seed=1, progressbar=False
    )
    wall = time.perf_counter() - start
    table = imp.convergence()
    attrs = imp.tree.attrs
    tau = imp.posterior["sigma_spread"].to_numpy().ravel()
    pooled = jm.analyze(imp, ANALYSIS, progressbar=False).pool().table
    return {
        "wall_s": wall,
        "compile_s": float(attrs["compile_seconds"]),
        "sampling_s": float(attrs["sampling_seconds"]),
        "draws_tried": str(attrs["draws_tried"]),
        "sampler_runs": int(attrs["sampler_runs"]),
        "min_ess": float(table["ess_bulk"].min()),
        "max_rhat": float(table["r_hat"].max()),
        "tau": [float(tau.mean()), *map(float, np.quantile(tau, [0.025, 0.975]))],
        "pooled": {
            str(term).strip("()"): {
                "estimate": float(row["estimate"]),
                "se": float(row["std_error"]),
            }
            for term, row in pooled.iterrows()
        },
    }


def run_jomo() -> dict | None:
    if not have_mitml("lme4"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "brandsma.csv"
        data = jm.datasets.load_brandsma()[["sch", "lpo", "iqv"]]
        data.to_csv(path, index=False, na_rep="NA")
        out = run_peer_script("peer_jomo_random.R", str(path), "sch", FORMULA, ANALYSIS, str(M))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--json", type=Path, default=Path("out/bench_cluster_cov.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ours = run_ours()
    jomo = None if args.no_peers else run_jomo()
    rate = ours["min_ess"] / ours["sampling_s"]
    lines = [
        f"== brandsma {FORMULA}, cluster_covariance='random', m = {M}",
        f"jmimpute    wall {ours['wall_s']:.0f} s (compile {ours['compile_s']:.0f} s, sampling "
        f"{ours['sampling_s']:.0f} s, judged at {ours['draws_tried']} draws per chain in "
        f"{ours['sampler_runs']} run(s)), min bulk ESS "
        f"{ours['min_ess']:.0f}, ESS/s {rate:.1f}, max R-hat {ours['max_rhat']:.3f}, "
        f"tau {ours['tau'][0]:.3f} [{ours['tau'][1]:.3f}, {ours['tau'][2]:.3f}]",
    ]
    if jomo is not None:
        lines.append(
            f"jomoImpute  wall {jomo['wall']['seconds']:.0f} s (n.burn 5000), own max PSR "
            f"{jomo['psr']['max']:.3f}; wall ratio {ours['wall_s'] / jomo['wall']['seconds']:.2f}"
        )
    lines.append(f"pooled {ANALYSIS}:")
    for term, ests in ours["pooled"].items():
        line = f"  {term:12s} jmimpute {ests['estimate']:.3f} ({ests['se']:.3f})"
        peer = None if jomo is None else jomo.get(term)
        if peer is not None:
            diff = (ests["estimate"] - peer["estimate"]) / ests["se"]
            line += f"  jomo {peer['estimate']:.3f} ({peer['se']:.3f})  difference {diff:+.2f} s.e."
        lines.append(line)
    print("\n".join(lines))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"jmimpute": ours, "jomoImpute": jomo}, indent=2))
    print(f"\nraw numbers in {args.json}")


if __name__ == "__main__":
    main()
