"""Speed of the substantive model on S1 (random slope of an incomplete predictor).

One S1 data set (100 clusters of 10, ``jmimpute.simulate``), in one run:

* jmimpute ``method="substantive"`` (random effects integrated) and
  ``"substantive_sampled"`` (sampled): compile and sampling seconds, smallest bulk ESS over
  every parameter, ESS per second of sampling and of compile plus sampling, and the end-to-
  end wall time of ``jm.impute(..., m=20)`` with defaults, cold (the first of its
  structure in the process) and warm (another data set of the same design);
* ``jomo.lmer`` (jomo's substantive-model sampler, where R and jomo are installed): the
  smallest ESS (coda) of its chain's parameters per second, and ``jomo.lmer`` with
  ``nimp = 20`` and its default ``nburn``/``nbetween`` end to end;
* the cost of one log density and gradient of the integrated model at 1x and 10x the rows
  (PyTensor's compiled functions), to show it grows linearly.

brms (Stan's NUTS with ``mi()``) is not installed here (docs/peers.md says how).

Run with ``python benchmarks/bench_substantive_speed.py [--jomo-iter 5000]`` (about 3 minutes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import jmimpute as jm
from jmimpute.simulate import simulate_design

try:
    from rpeers import have_mitml, run_peer_script
except ImportError:  # run from the repository root
    from benchmarks.rpeers import have_mitml, run_peer_script


def _jm(sim, method: str, seed: int) -> tuple[jm.Imputation, float]:
    start = time.perf_counter()
    imp = jm.impute(
        sim.data, analysis=sim.analysis, auxiliary=list(sim.auxiliary), method=method, m=20,
        random_seed=seed, progressbar=False,
    )  # fmt: skip
    return imp, time.perf_counter() - start


def _gradient_seconds(sim, repeat: int = 200) -> float:
    """Seconds per log density and gradient of the integrated model at its initial point."""
    from jmimpute.models import model_for
    from jmimpute.pipeline import _substantive
    from jmimpute.spec.model import build_spec
    from jmimpute.spec.validate import validate

    options = {"categorical": None, "method": "collapsed"}
    formulas, options = _substantive(sim.data, None, sim.analysis, ["z"], "latent", options)
    spec = build_spec(formulas, **options)
    frame, level1, level2 = validate(sim.data, spec)
    model = model_for("substantive")
    built = model.build(model.design(frame, spec, level1, level2), spec)
    logp = built.model.compile_logp()
    dlogp = built.model.compile_dlogp()
    point = built.model.initial_point()
    logp(point), dlogp(point)
    start = time.perf_counter()
    for _ in range(repeat):
        logp(point)
        dlogp(point)
    return (time.perf_counter() - start) / repeat


def main() -> None:
    """Print the table of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jomo-iter", type=int, default=5000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    sim = simulate_design("S1", 1)
    other = simulate_design("S1", 2)
    rows = {}
    for method in ("substantive", "substantive_sampled"):
        imp, cold = _jm(sim, method, 1)
        _, warm = _jm(other, method, 2)
        ess = float(imp.convergence()["ess_bulk"].min())
        comp = float(imp.tree.attrs["compile_seconds"])
        samp = float(imp.tree.attrs["sampling_seconds"])
        rows[f"jmimpute {method}"] = (ess, samp, ess / samp, ess / (comp + samp), cold, warm)
        print(
            f"jmimpute {method}: compile {comp:.1f} s, sampling {samp:.1f} s "
            f"({imp.spec.sampler.draws} draws/chain), min bulk ESS {ess:.0f}, ESS/s sampling "
            f"{ess / samp:.0f}, ESS/s compile+sampling {ess / (comp + samp):.0f}; m=20 end to "
            f"end cold {cold:.1f} s, warm {warm:.1f} s",
            flush=True,
        )
    if have_mitml("jomo"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s1.csv"
            sim.data.to_csv(path, index=False)
            res = run_peer_script(
                "peer_jomo_lmer.R", str(path), "y ~ x + (1 + x | g)", str(args.jomo_iter), "20"
            )
        chain, imp_s = res["chain"], res["impute"]["seconds"]
        per_s = chain["min_ess"] / chain["seconds"]
        print(
            f"jomo.lmer: {int(chain['iterations'])} iterations in {chain['seconds']:.1f} s, min "
            f"ESS {chain['min_ess']:.0f} (second half), ESS/s {per_s:.1f}; m=20 end to end "
            f"{imp_s:.1f} s (nburn 1000, nbetween 1000)"
        )
        for name, (_, _, ess_s, ess_all, cold, warm) in rows.items():
            print(
                f"  {name} / jomo.lmer: ESS/s sampling {ess_s / per_s:.1f}x, compile+sampling "
                f"{ess_all / per_s:.1f}x; end to end cold {imp_s / cold:.1f}x, warm "
                f"{imp_s / warm:.1f}x faster"
            )
    else:
        print("jomo.lmer: R with jomo and coda not found (docs/peers.md); skipped")
    one = _gradient_seconds(sim)
    ten = _gradient_seconds(simulate_design("S1", 1, clusters=1000, size=10))
    print(
        f"log density + gradient: {1e6 * one:.0f} us at 1,000 rows, {1e6 * ten:.0f} us at "
        f"10,000 rows ({ten / one:.1f}x for 10x the rows)"
    )


if __name__ == "__main__":
    main()
