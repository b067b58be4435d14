"""Seeded end-to-end runs whose outputs are kept as golden files (tests/golden/*.npz).

Made before the seam refactor (issue 18) by ``python tests/golden/make_golden.py``; the test
``tests/test_golden.py`` runs the same cases and asserts identical outputs. Each case is a
short run (fixed draws, m = 3) covering one model path (``slow`` ones run with
``--runslow``; the default run keeps brandsma with den and the sweep, and the nominal, ordinal
and binary targets of ``joint``): the collapsed model with continuous
targets (sampled until converged, so the checkpoint path), level-2 nominal, hsb's binary
and level-2 targets, nominal and ordinal targets, random slopes, cluster-specific
covariances (JAX), the explicit-latent model, and a delta-adjustment sweep.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

SHORT = {"chains": 2, "tune": 100, "draws": 100, "m": 3, "progressbar": False}


@dataclass(frozen=True)
class Case:
    name: str
    data: Callable[[], pd.DataFrame]
    formula: Any
    options: dict
    slow: bool = False


def _brandsma() -> pd.DataFrame:
    import jmimpute as jm

    return jm.datasets.load_brandsma()


def _hsb() -> pd.DataFrame:
    import jmimpute as jm
    from jmimpute.testing import add_mcar

    data = jm.datasets.load_hsb()
    return add_mcar(
        data, ["minority", "female", "ses", "size"], 0.05, cluster="schid", level2=["size"],
        seed=20170710,
    )  # fmt: skip


def _joint() -> pd.DataFrame:
    from jmimpute.testing import simulate_joint

    return simulate_joint(n_clusters=40, cluster_size=10, missing_rate=0.15, seed=3).data


def _slopes() -> pd.DataFrame:
    from jmimpute.testing import simulate_two_level

    return simulate_two_level(n_clusters=30, cluster_size=10, p=2, seed=5, random_slope=True).data


BRANDSMA = "lpo + iqv ~ 1 + (1|sch)"
BRANDSMA_DEN = ["lpo + iqv ~ 1 + (1|sch)", "den ~ 1"]
HSB = ["minority + female + ses + mathach ~ 1 + (1|schid)", "size ~ 1 + schtype + meanses"]

CASES = [
    Case(
        "brandsma_auto", _brandsma, BRANDSMA, {"chains": 2, "m": 3, "progressbar": False}, slow=True
    ),
    Case("brandsma_den", _brandsma, BRANDSMA_DEN, SHORT | {"categorical": ["den"]}),
    Case(
        "hsb",
        _hsb,
        HSB,
        SHORT | {"tune": 60, "draws": 60, "categorical": ["minority", "female"]},
        slow=True,
    ),
    Case("joint", _joint, ["n + y + b + o ~ 1 + x + (1|cluster)", "w + c ~ 1 + v"], SHORT),
    Case("slopes", _slopes, "y1 + y2 ~ 1 + x + (1 + x|cluster)", SHORT, slow=True),
    Case("cluster_cov", _brandsma, BRANDSMA, SHORT | {"cluster_covariance": "random"}, slow=True),
    Case(
        "latent",
        _joint,
        ["n + y + b + o ~ 1 + x + (1|cluster)", "w + c ~ 1 + v"],
        SHORT | {"method": "latent"},
        slow=True,
    ),
]
SEED = 20261127
SWEEP = {"lpo": [-2.0, 0.0, 2.0], "den": [0.5]}
SWEEP_ANALYSIS = "lpo ~ iqv + (1|sch)"


def run(case: Case):
    import jmimpute as jm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        return jm.impute(case.data(), case.formula, random_seed=SEED, **case.options)


def _tree(imp):
    """The result's whole DataTree (``imp.tree`` after the seam refactor)."""
    return imp.tree if hasattr(imp, "tree") else imp.posterior


def frame_hash(frame: pd.DataFrame) -> str:
    """Values, dtypes, index and column order of a completed data set, hashed."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


GROUPS = ("posterior", "standardised_posterior", "sample_stats", "imputations")
# nutpie's sample stats that are not functions of the seed
_TIMING = ("time", "duration")


def snapshot(imp) -> dict[str, np.ndarray]:
    """Every array of the result that must not change, keyed ``group/name``."""
    tree = _tree(imp)
    out: dict[str, np.ndarray] = {}
    for group in GROUPS:
        ds = tree[group].to_dataset()
        for name in [*ds.data_vars, *ds.coords]:
            if any(t in str(name) for t in _TIMING):
                continue
            values = ds[name].to_numpy()
            if values.dtype == object:
                values = values.astype(str)
            out[f"{group}/{name}"] = values
    out["draws_kept"] = np.asarray(imp.spec.sampler.draws)
    out["completed"] = np.asarray([frame_hash(f) for f in imp.complete("all")])
    return out


def sweep_snapshot(imp) -> dict[str, np.ndarray]:
    """The delta sweep's table and the shifted imputations."""
    import jmimpute as jm
    from jmimpute.sensitivity_analysis import shifted

    sens = jm.sensitivity(imp, SWEEP, SWEEP_ANALYSIS, reml=False)
    out = {
        f"sweep/{c}": sens.table[c].to_numpy().astype(float if c != "term" else str)
        for c in ("estimate", "std_error", "ci_lower", "ci_upper", "df", "fmi", "term")
    }
    moved = shifted(imp, "den", 0.5)
    out["shifted/imputed"] = moved.imputed.to_numpy()
    out["shifted/imputed_level2"] = moved.imputed_level2.to_numpy()
    return out


def cpu_key() -> str:
    """The host CPU as LLVM names it (the target Numba compiles the kernel for)."""
    import llvmlite.binding as llvm

    return str(llvm.get_host_cpu_name())
