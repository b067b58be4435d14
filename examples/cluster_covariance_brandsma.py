"""brandsma with cluster-specific level-1 covariances (jomo's ``meth = "random"``).

Imputes ``lpo + iqv ~ 1 + (1|sch)`` with ``cluster_covariance="random"``, reports how much the
schools' level-1 covariances differ (``tau``) and the convergence, and pools
``lpo ~ iqv + (1|sch)`` beside the common-covariance model.

Run: ``python examples/cluster_covariance_brandsma.py [--m 20]``
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

import jmimpute as jm

_log = logging.getLogger("examples.cluster_covariance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data = jm.datasets.load_brandsma()[["sch", "lpo", "iqv"]]
    formula, analysis = "lpo + iqv ~ 1 + (1|sch)", "lpo ~ iqv + (1|sch)"
    results = {}
    for kind in ("common", "random"):
        start = time.perf_counter()
        imp = jm.impute(
            data, formula, cluster_covariance=kind, m=args.m, random_seed=args.seed,
            progressbar=False,
        )  # fmt: skip
        attrs = imp.tree.attrs
        table = imp.convergence()
        _log.info(
            "%s: %.0f s (compile %.1f s, draws %s), max R-hat %.3f, min bulk ESS %.0f",
            kind, time.perf_counter() - start, attrs["compile_seconds"], attrs["draws_tried"],
            table["r_hat"].max(), table["ess_bulk"].min(),
        )  # fmt: skip
        results[kind] = jm.analyze(imp, analysis, progressbar=False).pool()
        if kind == "random":
            tau = imp.posterior["sigma_spread"].to_numpy().ravel()
            lo, hi = np.quantile(tau, [0.025, 0.975])
            _log.info("tau (spread of the schools' Sigma_j): %.3f [%.3f, %.3f]", tau.mean(), lo, hi)
    for kind, pooled in results.items():
        _log.info("pooled %s with %s covariance:\n%s", analysis, kind, pooled.table.to_string())


if __name__ == "__main__":
    main()
