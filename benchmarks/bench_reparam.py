"""Mixing on hsb in the collapsed model's plain and reparametrised coordinates.

The collapsed model samples binary latents as a shift per cluster plus deviations, and the
level-2 coefficients against the random effects' regression
(:mod:`jmimpute.models.joint.reparam`); ``build_collapsed_model(..., reparametrised=False)``
keeps the plain coordinates (the same posterior). This runs hsb with 5% MCAR
(``examples/mertools_hsb.py``, jomo's model) in both, with the same fixed draws and seeds
(4 chains, 1000 warm-up and target_accept 0.8, the defaults when the coordinates were
compared, which ``bench_tune.py`` compares with today's; nutpie/numba), and prints per run
the smallest bulk and tail ESS of the imputation-model parameters, the worst R-hat, the
sampling seconds (warm-up included), min bulk ESS per second, leapfrog steps per draw and
the slowest parameter; then the median ratios of reparametrised to plain over the seeds.

ESS estimates of one run vary by about 15% here, hence several seeds. Run with
``python benchmarks/bench_reparam.py`` (3 seeds x 2 x about 3 minutes on 2 cores);
``--seeds 1,2 --draws 1000`` for fewer.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from pathlib import Path
from unittest import mock

import numpy as np

import jmimpute as jm
from jmimpute.models.collapsed import build as build_module
from jmimpute.models.collapsed.build import build_collapsed_model

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
from mertools_hsb import IMPUTATION, hsb_with_mcar  # noqa: E402


def run(data, seed: int, draws: int, reparametrised: bool) -> dict[str, float | str]:
    build = functools.partial(build_collapsed_model, reparametrised=reparametrised)
    with mock.patch.object(build_module, "build_collapsed_model", build):
        imp = jm.impute(
            data, IMPUTATION, categorical=["minority", "female"], m=5, tune=1000,
            target_accept=0.8, draws=draws, random_seed=seed, progressbar=False,
        )  # fmt: skip
    table = imp.convergence()
    seconds = float(imp.tree.attrs["sampling_seconds"])
    stats = imp.tree["sample_stats"].dataset
    return {
        "min_bulk": float(table["ess_bulk"].min()),
        "min_tail": float(table["ess_tail"].min()),
        "max_rhat": float(table["r_hat"].max()),
        "sampling_s": seconds,
        "ess_per_s": float(table["ess_bulk"].min()) / seconds,
        "steps": float(stats["n_steps"].mean()),
        "slowest": str(table["ess_bulk"].idxmin()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = hsb_with_mcar()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"hsb, 4 chains x (1000 warm-up + {args.draws} draws), per seed and coordinates")
    print(f"{'seed':>4} {'coordinates':<14} {'min bulk':>8} {'min tail':>8} {'R-hat':>6} "
          f"{'sampling':>8} {'ESS/s':>6} {'steps':>5}  slowest")  # fmt: skip
    ratios: dict[str, list[float]] = {"min_bulk": [], "sampling_s": [], "ess_per_s": []}
    for seed in seeds:
        rows = {}
        for label, flag in (("plain", False), ("reparametrised", True)):
            r = rows[label] = run(data, seed, args.draws, flag)
            print(f"{seed:>4} {label:<14} {r['min_bulk']:8.0f} {r['min_tail']:8.0f} "
                  f"{r['max_rhat']:6.3f} {r['sampling_s']:7.1f}s {r['ess_per_s']:6.2f} "
                  f"{r['steps']:5.1f}  {r['slowest']}", flush=True)  # fmt: skip
        for key, values in ratios.items():
            values.append(float(rows["reparametrised"][key]) / float(rows["plain"][key]))
    print("median ratio, reparametrised / plain: " + ", ".join(
        f"{key} {np.median(values):.2f}" for key, values in ratios.items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()
