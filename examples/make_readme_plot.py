"""The convergence guide's figure: observed against imputed densities for brandsma.

Imputes language score (lpo) and verbal IQ (iqv) with random school intercepts (m = 10,
default sampler settings, seed 1) and saves ``docs/img/brandsma_densities.png`` with
:func:`jmimpute.plots.plot_densities` (observed in blue, each imputed set in red, as in
FIMD Fig. 7.6).

Run with ``python examples/make_readme_plot.py`` (about 1-2 minutes).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

import jmimpute as jm

matplotlib.use("Agg")  # a file, no window

_log = logging.getLogger("jmimpute.examples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/brandsma_densities.png"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("pytensor", "numba", "arviz", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    data = jm.datasets.load_brandsma()
    imp = jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=10, random_seed=1, progressbar=False)
    report = imp.convergence_report()
    _log.info("%s", report.verdict())

    fig = jm.plots.plot_densities(imp)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    _log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
