"""Where ``method`` should default to ``"augmented"``: both samplers on the same data.

``jmimpute/models/choice.py`` chooses the data-augmentation sampler where the collapsed
model's store of latent values would pass ``AUGMENTED_ABOVE_GB``. This prints, for each
case and both methods, that store's estimate, the sampling seconds, the draws per chain
kept (``draws=None``), min bulk and tail ESS over the imputation-model parameters and the
parameter that has it, min ESS per second of sampling, and the ratio augmented/collapsed.

Cases (defaults otherwise, m = 5, seed 1):

* ``hsb``: ``examples/mertools_hsb.py`` (7,185 rows in 160 schools, two binary targets and
  a continuous level-2 target);
* ``scale-<rows>``: ``benchmarks/bench_scale.py``'s data (three continuous targets, a
  binary and a 3-category nominal, 15% MCAR each) with ``rows`` rows in ``rows / 100``
  clusters, e.g. ``scale-2000`` or ``scale-20000``.

Run with ``python benchmarks/bench_choice.py --cases hsb,scale-2000,scale-20000`` (20
minutes on 2 cores, most of it ``scale-20000``'s collapsed run; the default leaves that
case out).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))

from bench_scale import FORMULA as SCALE_FORMULA  # noqa: E402
from bench_scale import scale_data  # noqa: E402
from mertools_hsb import IMPUTATION as HSB_FORMULA  # noqa: E402
from mertools_hsb import hsb_with_mcar  # noqa: E402

METHODS = ("collapsed", "augmented")


def case(name: str) -> tuple[Callable[[], pd.DataFrame], str | list[str], list[str]]:
    """The data, formula and categorical targets of case ``name``."""
    if name == "hsb":
        return hsb_with_mcar, HSB_FORMULA, ["minority", "female"]
    if name.startswith("scale-"):
        rows = int(name.removeprefix("scale-"))
        return (lambda: scale_data(rows, max(rows // 100, 2))[0]), SCALE_FORMULA, ["b", "c"]
    raise SystemExit(f"unknown case {name!r}: hsb or scale-<rows>")


def run(name: str, method: str) -> dict[str, object]:
    """Impute case ``name`` with ``method`` and measure it."""
    import jmimpute as jm
    from jmimpute.models import model_for
    from jmimpute.models.collapsed.model import stored_gigabytes
    from jmimpute.spec.model import build_spec
    from jmimpute.spec.validate import validate

    load, formula, categorical = case(name)
    data = load()
    spec = build_spec(formula, categorical=categorical, m=5)
    frame, level1, level2 = validate(data, spec)
    design = model_for(spec.method).design(frame, spec, level1, level2)
    imp = jm.impute(
        data, formula, categorical=categorical, m=5, method=method, random_seed=1,
        progressbar=False,
    )  # fmt: skip
    table = imp.convergence()
    worst = table[["ess_bulk", "ess_tail"]].min(axis=1)
    seconds = float(imp.tree.attrs["sampling_seconds"])
    return {
        "case": name,
        "method": method,
        "store_gb": stored_gigabytes(design, spec),
        "sampling_s": seconds,
        "draws": int(imp.tree["sample_stats"].dataset.sizes["draw"]),
        "min_ess": float(worst.min()),
        "slowest": str(worst.idxmin()),
        "ess_per_s": float(worst.min()) / seconds,
        "converged": bool(imp.convergence_report().ok),
    }


def main() -> None:
    """Run every case with both methods and print the table with the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="hsb,scale-2000")
    args = parser.parse_args()
    rows = [run(name, method) for name in args.cases.split(",") for method in METHODS]
    table = pd.DataFrame(rows).set_index(["case", "method"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(2).to_string())
        ratio = table["ess_per_s"].xs("augmented", level="method") / table["ess_per_s"].xs(
            "collapsed", level="method"
        )
        print("\nmin ESS per second, augmented / collapsed:")
        print(ratio.round(2).to_string())


if __name__ == "__main__":
    main()
