"""hsb's cost of convergence under NUTS settings: target acceptance rate and warm-up length.

Every hsb draw takes 31 leapfrog steps whatever the step size, so a larger step size (a
lower target acceptance rate) buys a longer trajectory at the same cost, and a shorter
warm-up cuts the part of the sampling time that gives no draws. This runs hsb with 5% MCAR
(``examples/mertools_hsb.py``, jomo's model) through :func:`jmimpute.impute` with its
defaults (4 chains, draws decided by the checkpoints: R-hat <= 1.01 and bulk and tail
ESS >= 400, first judged at 1000 draws per chain) except the settings compared, the same
seeds for each, and prints per run: the draws per chain kept, the smallest bulk ESS of the
imputation-model parameters, the worst R-hat, divergent transitions, the sampling seconds
(warm-up included), min bulk ESS per second, leapfrog steps per draw and the final step
size; then the medians per setting.

Settings are ``tune:target_accept`` pairs. ESS estimates of one run vary by about 15% here,
hence several seeds. Run with ``python benchmarks/bench_tune.py`` (3 seeds x 3 settings x
about 1.5 minutes on 2 cores); ``--seeds 1 --settings 1000:0.8,1000:0.65`` for fewer.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

import jmimpute as jm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
from mertools_hsb import IMPUTATION, hsb_with_mcar  # noqa: E402


def run(data, seed: int, tune: int, target_accept: float) -> dict[str, float]:
    imp = jm.impute(
        data, IMPUTATION, categorical=["minority", "female"], m=5, tune=tune,
        target_accept=target_accept, random_seed=seed, progressbar=False,
    )  # fmt: skip
    table = imp.convergence()
    seconds = float(imp.tree.attrs["sampling_seconds"])
    stats = imp.tree["sample_stats"].dataset
    return {
        "draws": float(stats.sizes["draw"]),
        "min_bulk": float(table["ess_bulk"].min()),
        "max_rhat": float(table["r_hat"].max()),
        "divergent": float(stats["diverging"].sum()),
        "sampling_s": seconds,
        "ess_per_s": float(table["ess_bulk"].min()) / seconds,
        "steps": float(stats["n_steps"].mean()),
        "step_size": float(stats["step_size"].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--settings", default="1000:0.8,1000:0.65,500:0.65")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = hsb_with_mcar()
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = [(int(t), float(a)) for t, a in (s.split(":") for s in args.settings.split(","))]
    print("hsb, 4 chains, draws until converged; per seed and (warm-up, target_accept)")
    print(f"{'seed':>4} {'tune':>5} {'accept':>6} {'draws':>5} {'min ESS':>7} {'R-hat':>6} "
          f"{'diverg':>6} {'sampling':>8} {'ESS/s':>6} {'steps':>5} {'step':>6}")  # fmt: skip
    results: dict[tuple[int, float], list[dict[str, float]]] = {s: [] for s in settings}
    for seed in seeds:
        for tune, accept in settings:
            r = run(data, seed, tune, accept)
            results[(tune, accept)].append(r)
            print(f"{seed:>4} {tune:>5} {accept:>6.2f} {r['draws']:5.0f} {r['min_bulk']:7.0f} "
                  f"{r['max_rhat']:6.3f} {r['divergent']:6.0f} {r['sampling_s']:7.1f}s "
                  f"{r['ess_per_s']:6.2f} {r['steps']:5.1f} {r['step_size']:6.3f}",
                  flush=True)  # fmt: skip
    print("medians over seeds")
    for (tune, accept), rows in results.items():
        med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        print(f"  tune {tune}, target_accept {accept}: draws {med['draws']:.0f}, min ESS "
              f"{med['min_bulk']:.0f}, sampling {med['sampling_s']:.1f} s, ESS/s "
              f"{med['ess_per_s']:.2f}, divergent {med['divergent']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
