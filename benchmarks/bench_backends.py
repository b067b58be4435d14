"""Compile and sampling time of the cluster-specific covariance model under Numba and JAX.

The model of ``cluster_covariance="random"`` is a PyTensor graph (no compiled kernel); this
measures why JAX is its default backend. Simulated data, 60 clusters of 25 rows, two
targets (``jm.testing.simulate_two_level(cluster_df=8)``); 2 chains, 300 warm-up and 300
draws, m = 5, once per backend. Prints compile seconds, sampling seconds and their ratio.
Run with ``python benchmarks/bench_backends.py`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import logging
import warnings

import jmimpute as jm
from jmimpute.testing import simulate_two_level


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    sim = simulate_two_level(n_clusters=60, cluster_size=25, p=2, seed=5, cluster_df=8.0)
    times = {}
    for backend in ("jax", "numba"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jm.ConvergenceWarning)
            imp = jm.impute(
                sim.data, sim.formula, cluster_covariance="random", backend=backend, m=5,
                chains=2, tune=300, draws=300, random_seed=1, progressbar=False,
            )  # fmt: skip
        attrs = imp.tree.attrs
        compile_s, sampling_s = float(attrs["compile_seconds"]), float(attrs["sampling_seconds"])
        times[backend] = (compile_s, sampling_s)
        print(f"{backend:6s} compile {compile_s:6.1f} s, sampling {sampling_s:5.1f} s")
    (cj, sj), (cn, sn) = times["jax"], times["numba"]
    total = (cn + sn) / (cj + sj)
    print(f"Numba/JAX: compile {cn / cj:.0f}x, sampling {sn / sj:.2f}x, total {total:.1f}x")


if __name__ == "__main__":
    main()
