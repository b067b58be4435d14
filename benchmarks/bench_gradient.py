"""Cost of one gradient of the collapsed model with sampled latents (hsb).

hsb with 5% MCAR (``examples/mertools_hsb.py``) has two binary level-1 targets, so NUTS
samples 13,696 latents of observed categories, and their rows (7165) enter the compiled
likelihood kernel at every gradient. This prints, per evaluation of the log-density and its
gradient (best of 20 repeats of 50 calls, one core):

* the whole model's compiled function (PyTensor's Numba mode, what nutpie runs), at the
  initial point and with the raw latents spread as standard normals (closer to the points
  NUTS visits);
* the same with the binary latents mapped in the PyTensor graph instead of in the kernel;
* the kernel alone, with and without its latent rows.

Timings on this project's 2-core machines vary by about 20% between runs; the ratios are
steadier. Run with ``python benchmarks/bench_gradient.py`` (about 3 minutes, mostly
compiling).
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytensor
from pytensor.graph.traversal import apply_ancestors

from jmimpute._kernels import kernel, ops
from jmimpute._kernels.convention import COLLAPSED
from jmimpute.design.standardised import build_design
from jmimpute.models.collapsed.build import build_collapsed_model
from jmimpute.spec.model import build_spec
from jmimpute.spec.validate import validate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
from mertools_hsb import IMPUTATION, hsb_with_mcar  # noqa: E402


def best_of(fn: Callable[[], Any], repeats: int = 20, calls: int = 50) -> float:
    """Best mean seconds per call over ``repeats`` batches of ``calls``."""
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return float(best)


def model_gradient(
    design: Any, spec: Any, raw_binary: bool, spread: float = 0.0
) -> tuple[Callable[[], Any], list[np.ndarray]]:
    """The compiled log-density and gradient of the hsb model, and the kernel's inputs.

    At the initial point, with ``spread`` > 0 standard normal draws times ``spread`` added to
    the raw latents (the initial point's are all 0, so branches on their sign are
    predictable there, as they are not at the points NUTS visits).
    """
    pm_model = build_collapsed_model(design, spec.priors, raw_binary=raw_binary).model
    point = pm_model.initial_point()
    rng = np.random.default_rng(0)
    values = [
        point[v.name] + spread * rng.standard_normal(point[v.name].shape)
        if v.name.startswith("raw_")
        else point[v.name]
        for v in pm_model.value_vars
    ]
    logp = pm_model.logp()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        fn = pytensor.function(
            pm_model.value_vars, [logp, *pytensor.grad(logp, pm_model.value_vars)], mode="NUMBA"
        )
    fn.trust_input = True
    # the kernel's inputs at this point, from the Op node of the graph
    node = next(n for n in apply_ancestors([logp]) if isinstance(n.op, ops.CollapsedLoglik))
    inputs = pytensor.function(
        pm_model.value_vars, list(node.inputs), mode="FAST_COMPILE", on_unused_input="ignore"
    )(*values)
    return (lambda: fn(*values)), inputs


def kernel_call(inputs: list[np.ndarray], latents: bool) -> Callable[[], Any]:
    named = {
        s.name: float(np.asarray(x).reshape(())) if s.is_scalar else np.ascontiguousarray(x, float)
        for s, x in zip(COLLAPSED.inputs, inputs, strict=True)
    }
    if not latents:
        p, q, r = (named[n].shape[0] for n in ("lat_y0", "lat_x", "lat_z"))
        # no rows: empty arrays, one row bound, every pattern with no segments
        named |= {
            "lat_y0": np.zeros((p, 0)), "lat_x": np.zeros((q, 0)), "lat_z": np.zeros((r, 0)),
            "seg_cluster": np.zeros(0), "seg_bounds": np.zeros(1),
            "pat_segs": np.zeros(named["pat_segs"].shape), "lat_map": np.zeros((3, 0)),
            "zin": np.zeros(0),
        }  # fmt: skip
    args = list(named.values())
    grads = [np.zeros_like(args[i]) for i in ops.DIFFERENTIABLE]
    return lambda: kernel.collapsed_value_and_grad(*args, *grads)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    data = hsb_with_mcar()
    spec = build_spec(IMPUTATION, categorical=["minority", "female"])
    frame, level1, level2 = validate(data, spec)
    design = build_design(frame, spec.level1, level1, spec.level2, level2)
    n_lat = int(design.level1.latent.sum())
    fused, inputs = model_gradient(design, spec, raw_binary=True)
    spread, _ = model_gradient(design, spec, raw_binary=True, spread=1.0)
    graph, _ = model_gradient(design, spec, raw_binary=False)
    rows = {
        "model, binary map in the kernel": best_of(fused),
        "  the same, raw latents ~ N(0, 1)": best_of(spread),
        "model, binary map in the PyTensor graph": best_of(graph),
        "kernel with the latent rows": best_of(kernel_call(inputs, True)),
        "kernel without latent rows": best_of(kernel_call(inputs, False)),
    }
    print(f"hsb: {design.n} rows, {n_lat} sampled latents; ms per log-density + gradient")
    for name, seconds in rows.items():
        print(f"  {name:<42} {seconds * 1e3:6.3f}")
    ratio = (
        rows["model, binary map in the PyTensor graph"] / rows["model, binary map in the kernel"]
    )
    print(f"  map in the kernel: {ratio:.2f}x faster per gradient")


if __name__ == "__main__":
    main()
