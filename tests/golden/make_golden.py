"""Write the golden outputs of tests/golden/cases.py (run once, before a refactor).

    python tests/golden/make_golden.py            # every case
    python tests/golden/make_golden.py hsb joint  # some

``python tests/golden/make_golden.py v1`` also wrote ``v1_result.nc``, a small result in
jmimpute's file format 1, for the loader of old files (it needs the code of that format: run
it on a checkout of commit 306df11). The files record the CPU they were made on: sampled
outputs are compared bitwise only on the same kind of CPU (Numba compiles for the host's
vector width).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.golden.cases import (
    CASES,
    cpu_key,
    frame_hash,
    run,
    snapshot,
    sweep_snapshot,
)

HERE = Path(__file__).parent


def main(names: list[str]) -> None:
    for case in CASES:
        if names and case.name not in names:
            continue
        imp = run(case)
        arrays = snapshot(imp)
        if case.name == "brandsma_den":
            arrays |= sweep_snapshot(imp)
        arrays["cpu"] = np.asarray(cpu_key())
        np.savez_compressed(HERE / f"{case.name}.npz", **arrays)
        print(f"{case.name}: {len(arrays)} arrays")
    if "v1" in names:  # only on request: it needs the jmimpute of file format 1
        write_v1()


def write_v1() -> None:
    """A small result in file format 1 (groups as before issue 18) for the old-file loader."""
    import warnings

    import jmimpute as jm
    from jmimpute.testing import simulate_joint

    data = simulate_joint(n_clusters=12, cluster_size=5, missing_rate=0.2, seed=4).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        imp = jm.impute(
            data, ["n + y + b + o ~ 1 + x + (1|cluster)", "w + c ~ 1 + v"], chains=2, tune=50,
            draws=20, m=2, random_seed=1, progressbar=False,
        )  # fmt: skip
    imp = imp.with_columns(ym=jm.cluster_mean("y"))
    imp.to_netcdf(HERE / "v1_result.nc")
    np.savez_compressed(
        HERE / "v1_result.npz",
        **{f"set{k}": np.asarray(frame_hash(f)) for k, f in enumerate(imp.complete("all"))},
    )


if __name__ == "__main__":
    main(sys.argv[1:])
