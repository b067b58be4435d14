"""Before and after a refactor of the substantive model: its log density at fixed points.

Builds the substantive model of the simulation designs S1, S3, S3c, S5 and S6 (seed 3) and
evaluates the log density and its gradient at three points around the initial point (a
seeded perturbation); ``save`` writes them, ``compare`` prints each design's largest
relative difference from a saved file. Equal value-variable names are required: a change
that renames or reorders the sampler's coordinates is not a pure refactor.

Run ``python benchmarks/substantive_logp_points.py save before.pkl`` at the old commit and
``... compare before.pkl`` at the new one (about a minute each, the compiles included;
``--designs S1,S3,S3c`` where the old commit lacks a design).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import pickle
import warnings
from pathlib import Path

import numpy as np

from jmimpute.models import model_for
from jmimpute.models.protocol import BuiltModel
from jmimpute.pipeline import _substantive, build_spec, impute
from jmimpute.simulate import simulate_design
from jmimpute.spec.validate import validate

DESIGNS = ("S1", "S3", "S3c", "S5", "S6")
log = logging.getLogger("bench")


def built(name: str) -> BuiltModel:
    """The substantive model of design ``name``, built as ``jm.impute`` builds it."""
    sim = simulate_design(name, 3)
    params = inspect.signature(impute).parameters
    options = {k: p.default for k, p in params.items() if p.kind is p.KEYWORD_ONLY}
    for k in ("analysis", "auxiliary", "cluster_means", "random_seed", "progressbar"):
        options.pop(k, None)
    formulas, options = _substantive(
        sim.data, None, sim.analysis, list(sim.auxiliary), "latent", options
    )
    spec = build_spec(formulas, **options, progressbar=False)
    frame, level1, level2 = validate(sim.data, spec)
    model = model_for(spec.method)
    design = model.design(frame, spec, level1, level2)
    model.check(design, spec)
    return model.build(design, spec)


def points(name: str) -> tuple[list[str], list[tuple[float, np.ndarray]]]:
    """The value variables and (log density, gradient) at three seeded points."""
    model = built(name).model
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    start = model.initial_point()
    rng = np.random.default_rng(0)
    out = []
    for _ in range(3):
        at = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in start.items()}
        out.append((float(logp(at)), np.asarray(dlogp(at))))
    return list(start), out


def main() -> None:
    """Save or compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["save", "compare"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--designs", default=",".join(DESIGNS))
    args = parser.parse_args()
    designs = args.designs.split(",")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.simplefilter("ignore")
    now = {name: points(name) for name in designs}
    if args.mode == "save":
        args.path.write_bytes(pickle.dumps(now))
        log.info("saved %s", ", ".join(designs))
        return
    before = pickle.loads(args.path.read_bytes())
    for name in designs:
        if name not in before:
            print(f"{name}: not in {args.path}")
            continue
        if before[name][0] != now[name][0]:
            print(f"{name}: value variables differ: {before[name][0]} -> {now[name][0]}")
            continue
        pairs = list(zip(before[name][1], now[name][1], strict=True))
        rel_logp = max(abs(a - b) / abs(a) for (a, _), (b, _) in pairs)
        rel_grad = max(
            float(np.max(np.abs(da - db)) / np.max(np.abs(da))) for (_, da), (_, db) in pairs
        )
        print(f"{name}: log density rel. diff {rel_logp:.2e}, gradient {rel_grad:.2e}")


if __name__ == "__main__":
    main()
