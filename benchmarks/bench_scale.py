"""Categorical targets at scale (issue 21): wall time, compile and sampling seconds, peak memory.

Data: ``--rows`` rows in ``--clusters`` clusters, five level-1 targets with random
intercepts (jomo's latent normal model, correlated latents): ``y1``, ``y2``, ``y3``
continuous, ``b`` binary (its latent above 0), ``c`` a 3-category nominal (the largest of
0 and two latents); 15% of each missing completely at random. Each case runs in its own
Python process, so that its peak resident memory is its own: ``categorical`` imputes ``b``
and ``c`` as categories, ``continuous`` the same five columns with ``b`` and ``c``
replaced by one of their latent normals each (the reference the issue compares with, in
the same run), ``augmented`` the categorical data with ``method="augmented"`` (data
augmentation, ``docs/design/categorical-at-scale.md``), and ``default`` the categorical
data without ``method``, as a new user runs it (``jmimpute/models/choice.py`` chooses).
Defaults otherwise (m = 5, as in the issue). ``--cases`` picks some of them; ``--tune``
and ``--target-accept`` replace the models' own NUTS settings, and ``--metric`` the
augmented sampler's metric estimate (:data:`jmimpute.sampling.adapt.METRICS`), to compare
warm-up settings.

Printed per case: the method that ran, wall time, compile and sampling seconds, peak
resident memory, the draws per chain kept (``draws=None`` decides them), NUTS's mean
leapfrog steps per iteration and step size, the resident memory at the end of sampling and
after the imputations (a thread reads ``/proc/self/statm`` every 0.2 s and the phases are
marked by the log), min bulk ESS, max R-hat, and whether the run converged.

Run with ``python benchmarks/bench_scale.py --rows 100000 --clusters 1000``.

``--store`` instead shows where the memory goes: it builds the categorical model, compiles
it as :func:`jmimpute.impute` does, samples a few draws, and prints what nutpie's trace
store holds per draw (every free coordinate and every kept deterministic, warm-up
included), with the totals that ``--rows`` rows and the default 4 chains x (1000 + 1000)
iterations imply. ``--parts`` times each part of one iteration of ``method="augmented"``
(one gradient, the latent move and its pieces) on the categorical data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from jmimpute.models.augmented.generator import normal, seeded

CASES = ("continuous", "categorical", "augmented", "default")
METHODS = {
    "continuous": "collapsed",
    "categorical": "collapsed",
    "augmented": "augmented",
    "default": None,
}
"""Each case's ``method``: ``augmented`` imputes the categorical data by data augmentation,
``default`` gives none (jmimpute chooses; the printed ``method`` says which ran)."""
FORMULA = "y1 + y2 + y3 + b + c ~ 1 + (1|g)"


def scale_data(rows: int, clusters: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The categorical data and its continuous counterpart (same rows and missing cells)."""
    rng = np.random.default_rng(seed)
    g = np.sort(rng.integers(0, clusters, rows))
    k = 6  # y1, y2, y3, b*, c1*, c2*
    corr = 0.3 * np.ones((k, k)) + 0.7 * np.eye(k)
    within = rng.multivariate_normal(np.zeros(k), corr, rows)
    between = rng.multivariate_normal(np.zeros(k), 0.3 * corr, clusters)[g]
    latent = np.array([0.0, 1.0, -1.0, 0.2, 0.1, -0.2]) + within + between
    levels = np.array(["a", "b", "c"])
    nominal = levels[np.argmax(np.column_stack([np.zeros(rows), latent[:, 4:6]]), axis=1)]
    continuous = pd.DataFrame(
        {
            "g": g,
            "y1": latent[:, 0],
            "y2": latent[:, 1],
            "y3": latent[:, 2],
            "b": latent[:, 3],
            "c": latent[:, 4],
        }
    )
    missing = rng.random((rows, 5)) < 0.15
    targets = ["y1", "y2", "y3", "b", "c"]
    continuous[targets] = continuous[targets].mask(missing)
    categorical = continuous.assign(
        b=pd.Series(np.where(latent[:, 3] > 0, "yes", "no"), dtype="category"),
        c=pd.Series(nominal, dtype="category"),
    )
    categorical[["b", "c"]] = categorical[["b", "c"]].mask(missing[:, 3:5])
    return categorical, continuous


class Memory(threading.Thread):
    """Resident memory of this process, read every ``every`` seconds, with marked phases."""

    def __init__(self, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.samples: list[tuple[float, float]] = []
        self.marks: dict[str, float] = {}
        self._done = threading.Event()

    def rss_gb(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page / 1e9

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.perf_counter(), self.rss_gb()))
            time.sleep(self.every)

    def mark(self, name: str) -> None:
        self.marks[name] = self.rss_gb()

    def stop(self) -> float:
        self._done.set()
        self.join()
        return max(v for _, v in self.samples)


class _Phases(logging.Handler):
    """Marks the memory when jmimpute's log says a phase ended."""

    def __init__(self, memory: Memory) -> None:
        super().__init__()
        self.memory = memory

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().lower()
        if "compil" in text and "compile" not in self.memory.marks:
            self.memory.mark("compile")
        if "sampl" in text:
            self.memory.mark("sampling")


def one(
    case: str, rows: int, clusters: int, seed: int, nuts: dict[str, float] | None = None
) -> dict[str, object]:
    """Impute one case in this process and measure it (``nuts``: tune, target_accept)."""
    import jmimpute as jm

    categorical, continuous = scale_data(rows, clusters, seed)
    data = continuous if case == "continuous" else categorical
    declared = [] if case == "continuous" else ["b", "c"]
    memory = Memory()
    memory.start()
    handler = _Phases(memory)
    logging.getLogger("jmimpute").addHandler(handler)
    logging.getLogger("jmimpute").setLevel(logging.INFO)
    memory.mark("data")
    start = time.perf_counter()
    imp = jm.impute(
        data, FORMULA, categorical=declared, m=5, random_seed=seed, progressbar=False,
        method=METHODS[case], **(nuts or {}),
    )  # fmt: skip
    wall = time.perf_counter() - start
    memory.mark("result")
    completed = imp.complete("all")
    memory.mark("completed")
    peak = memory.stop()
    table = imp.convergence()
    attrs = imp.tree.attrs
    stats = imp.tree["sample_stats"].dataset
    del completed
    return {
        "case": case,
        "method": imp.spec.method,
        "rows": rows,
        "clusters": clusters,
        "wall_s": wall,
        "compile_s": float(attrs["compile_seconds"]),
        "sampling_s": float(attrs["sampling_seconds"]),
        "peak_gb": peak,
        "peak_rusage_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "marks_gb": memory.marks,
        "tune": int(imp.spec.sampler.tune),
        "target_accept": float(imp.spec.sampler.target_accept),
        "draws": int(stats.sizes["draw"]),
        "leapfrog_steps": float(stats["n_steps"].mean()),
        "step_size": float(stats["step_size"].mean()),
        "min_ess": float(table["ess_bulk"].min()),
        "max_rhat": float(table["r_hat"].max()),
        "converged": bool(imp.convergence_report().ok),
    }


def store(rows: int, clusters: int, seed: int) -> None:
    """Print what nutpie's store keeps per draw of the categorical model (see ``--store``)."""
    import nutpie
    import pyarrow as pa

    from jmimpute.models import model_for
    from jmimpute.sampling.numba_callbacks import compile_numba
    from jmimpute.spec.model import build_spec
    from jmimpute.spec.validate import validate

    categorical, _ = scale_data(rows, clusters, seed)
    spec = build_spec(FORMULA, categorical=["b", "c"], progressbar=False)
    frame, level1, level2 = validate(categorical, spec)
    model = model_for(spec.method)
    built = model.build(model.design(frame, spec, level1, level2), spec)
    compiled, _ = compile_numba(built.model, built.keep)
    tune, draws = 20, 10
    raw = nutpie.sample(
        compiled,
        chains=1,
        tune=tune,
        draws=draws,
        seed=seed,
        save_warmup=False,
        progress_bar=False,
        return_raw_trace=True,
    )
    batch = pa.record_batch(raw.get_arrow_trace()[0][0])
    stored = batch.num_rows
    names, slices, _ = compiled.shape_info
    sizes = {n: s.stop - s.start for n, s in zip(names, slices, strict=True)}
    free = set(names[: len(built.model.free_RVs)])
    frame_out = pd.DataFrame(
        {
            "values per draw": [sizes[n] for n in batch.schema.names],
            "free coordinate": [n in free for n in batch.schema.names],
            "kept": [n in built.keep for n in batch.schema.names],
        },
        index=batch.schema.names,
    )
    per_draw = batch.nbytes / stored
    iterations = 4 * (1000 + 1000)
    print(frame_out.to_string())
    print(
        f"{rows} rows: {compiled.n_dim} NUTS coordinates; the store kept {stored} rows per "
        f"chain for tune={tune}, draws={draws} (the warm-up is stored); "
        f"{per_draw / 1e3:.1f} kB per draw; 4 chains x 2000 iterations: "
        f"{per_draw * iterations / 1e9:.2f} GB in the store, and the conversion to the "
        f"result copies the 4000 kept draws of every variable: {per_draw * 4000 / 1e9:.2f} GB"
    )


@njit  # not cached: Numba's cache would miss an edit of generator.py
def _normals(n: int) -> float:
    """``n`` draws of the sweep's normal generator, which the truncated draws use."""
    state = seeded(n)
    total = 0.0
    for _ in range(n):
        total += normal(state)
    return total


@njit(cache=True)
def _numba_normals(n: int) -> float:
    """``n`` draws of Numba's own normal generator (what the sweep used before)."""
    total = 0.0
    for _ in range(n):
        total += np.random.standard_normal()  # noqa: NPY002 (Numba's generator)
    return total


def parts(rows: int, clusters: int, seed: int, repeats: int = 30) -> None:
    """Print the milliseconds of each part of one augmented iteration (see ``--parts``)."""
    from jmimpute.models import model_for
    from jmimpute.models.augmented.build import build_augmented_model
    from jmimpute.models.augmented.effects import draw_effects
    from jmimpute.models.augmented.move import LatentMove, conditional_regressions
    from jmimpute.models.augmented.sweep import add_latent_products, add_rows, draw_latents
    from jmimpute.models.joint.conditional import _pattern_precisions, cluster_priors
    from jmimpute.sampling.blocked import CompiledTarget
    from jmimpute.sampling.numba_callbacks import compile_numba
    from jmimpute.spec.model import build_spec
    from jmimpute.spec.validate import validate

    categorical, _ = scale_data(rows, clusters, seed)
    spec = build_spec(FORMULA, categorical=["b", "c"], method="augmented", progressbar=False)
    frame, level1, level2 = validate(categorical, spec)
    model = model_for(spec.method)
    design = model.design(frame, spec, level1, level2)
    built, lat = build_augmented_model(design, spec.priors)
    compiled, _ = compile_numba(built.model, built.keep)
    target = CompiledTarget(compiled).for_chain()
    move = LatentMove(design, lat, target)
    q = compiled.initial_point_func(seed)
    rng = np.random.default_rng(seed)
    move.draw(q, rng)
    theta = move._theta(q)
    sigma, beta = theta["sigma_s"], theta["beta_s"]
    lam, h = cluster_priors(design, theta["psi_s"], None, *move.l2)
    prec = _pattern_precisions(sigma, lat.stats.masks)
    coef, sd = conditional_regressions(sigma, lat.stats.masks, move.dims)
    n_lat = lat.table.shape[0]
    effect_normals = rng.standard_normal((design.n_clusters, design.d))

    def sweep() -> None:
        move._reset()
        draw_latents(
            move.y, design.x, design.z, lat.stats.pattern, design.cluster, beta, move.effects,
            coef, sd, lat.rows, lat.row_cells, lat.table, seed, move.dims,
            move.syy, move.syx, move.syz_t,
        )  # fmt: skip

    latent_rows = (move.y, design.x, design.z, lat.stats.pattern, design.cluster, lat.rows)
    statistics = (move.syy, move.syx, move.syz_t)
    timed = {
        "log density and gradient (one of NUTS's)": lambda: target(q),
        "the whole latent move": lambda: move.draw(q, rng),
        "  latent sweep and statistics": sweep,
        "    of which the latents' products added to the statistics": lambda: add_latent_products(
            *latent_rows, lat.row_cells, lat.table, move.dims, *statistics
        ),
        "    (every product of those rows, as before the split)": lambda: add_rows(
            *latent_rows, *statistics
        ),
        "    one normal per latent (the sweep's generator)": lambda: _normals(n_lat),
        "    the same from Numba's np.random": lambda: _numba_normals(n_lat),
        "  random effects": lambda: draw_effects(
            lam, h, move.zz_t, move.syz_t, move.sxz_t, prec, beta, effect_normals, move.effects
        ),
        "  conditional regressions": lambda: conditional_regressions(
            sigma, lat.stats.masks, move.dims
        ),
        "  pattern precisions": lambda: _pattern_precisions(sigma, lat.stats.masks),
    }
    print(f"{rows} rows, {clusters} clusters, {n_lat} latents, {lat.stats.masks.shape[0]} patterns")
    # the fastest of the repeats: on shared cores the mean measures the other processes
    for name, call in timed.items():
        call()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - start)
        print(f"{name}: {1000 * min(seconds):.2f} ms (fastest of {repeats})")


def main() -> None:
    """Run each case in a fresh process and print the table with the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", action="store_true", help="where the memory goes")
    parser.add_argument(
        "--parts", action="store_true", help="milliseconds of each part of an augmented iteration"
    )
    parser.add_argument("--tune", type=int, default=None, help="warm-up (default: the model's)")
    parser.add_argument(
        "--target-accept", type=float, default=None, help="NUTS target (default: the model's)"
    )
    parser.add_argument(
        "--metric",
        default=None,
        help="the augmented sampler's warm-up metric, 'gradients' or 'draws' (default: "
        "jmimpute.sampling.adapt.METRIC)",
    )
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    if args.store:
        store(args.rows, args.clusters, args.seed)
        return
    if args.parts:
        parts(args.rows, args.clusters, args.seed)
        return
    nuts = {"tune": args.tune, "target_accept": args.target_accept}
    nuts = {k: v for k, v in nuts.items() if v is not None}
    if args.one:
        if args.metric is not None:
            from jmimpute.sampling import adapt

            adapt.METRIC = args.metric
        print(json.dumps(one(args.one, args.rows, args.clusters, args.seed, nuts)))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("bench")
    results = []
    for case in args.cases.split(","):
        command = [sys.executable, __file__, "--one", case, "--rows", str(args.rows)]
        command += ["--clusters", str(args.clusters), "--seed", str(args.seed)]
        command += [f"--{k.replace('_', '-')}={v}" for k, v in nuts.items()]
        command += [] if args.metric is None else ["--metric", args.metric]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{case} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        log.info("%s done", case)
    frame = pd.DataFrame(results).set_index("case")
    shown = ["method", "wall_s", "compile_s", "sampling_s", "peak_gb", "tune", "target_accept"]
    shown += ["draws", "leapfrog_steps"]
    shown += ["step_size"]
    shown += ["min_ess", "max_rhat", "converged"]
    with pd.option_context("display.width", 200):
        print(frame[shown].round(3).to_string())
        for case, marks in frame["marks_gb"].items():
            print(f"{case}: resident GB at " + ", ".join(f"{k} {v:.2f}" for k, v in marks.items()))
    if "continuous" in frame.index:
        con = frame.loc["continuous"]
        for case in ("categorical", "augmented", "default"):
            if case in frame.index:
                row = frame.loc[case]
                print(
                    f"{case} / continuous: wall {row['wall_s'] / con['wall_s']:.1f}x, "
                    f"peak memory {row['peak_gb'] / con['peak_gb']:.1f}x"
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(frame.reset_index().to_json(orient="records", indent=1))


if __name__ == "__main__":
    main()
