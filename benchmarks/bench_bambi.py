"""Bayesian analysis of m = 10 imputed brandsma sets: compile once against once per set.

bambi builds each set's PyMC model with the data as constants; jmimpute compiles the first
set's model once and swaps the data for the others. This prints the wall time of both
ways (compilation and sampling separately) and the ratio. Run with `make bench`.
"""

from __future__ import annotations

import logging
import time

import jmimpute as jm

FORMULA = "lpo ~ iqv + (1|sch)"


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    imp = jm.impute(
        jm.datasets.load_brandsma(),
        "lpo + iqv ~ 1 + (1|sch)",
        m=10,
        random_seed=1,
        progressbar=False,
    )
    rows = []
    for compile_once in (True, False):
        start = time.perf_counter()
        fits = jm.analyze(
            imp,
            FORMULA,
            backend="bambi",
            compile_once=compile_once,
            random_seed=1,
            progressbar=False,
        )
        wall = time.perf_counter() - start
        t = fits.timing
        rows.append((compile_once, t.compiled_models, t.compile_seconds, t.sampling_seconds, wall))
    print(f"bambi `{FORMULA}` on m = 10 imputed brandsma sets (2 chains x 1000 draws each)")
    print(f"{'mode':<22}{'compiled':>9}{'compile s':>11}{'sample s':>10}{'wall s':>9}")
    for once, n, comp, samp, wall in rows:
        label = "compile once" if once else "compile per set"
        print(f"{label:<22}{n:>9}{comp:>11.1f}{samp:>10.1f}{wall:>9.1f}")
    print(f"wall-time ratio, per set / once: {rows[1][4] / rows[0][4]:.1f}x")


if __name__ == "__main__":
    main()
