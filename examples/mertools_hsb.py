"""The merTools imputation vignette on hsb, with a multilevel joint imputation model.

hsb (High School and Beyond, 7185 students in 160 schools) is complete; as in the vignette,
5% of minority, female, ses and size are deleted completely at random (size per school, as it
is a school variable). The imputation model is jomo's joint model as run in
docs/reference.md::

    minority + female + ses + mathach ~ 1 + (1|schid)      (minority, female binary)
    size ~ 1 + schtype + meanses                            (level 2)

and the analysis model `mathach ~ minority + female + ses + meanses + (1 + ses|schid)` is
fitted to each completed set (REML) and pooled with Rubin's rules. The table prints the
pooled estimates next to the complete-data fit, in pooled standard errors.

Run with `python examples/mertools_hsb.py` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd

import jmimpute as jm

# Complete-data REML fit of the analysis model (REFERENCE.md, lme4 run here).
COMPLETE = {
    "(Intercept)": (14.047, 0.175),
    "minority": (-2.802, 0.204),
    "female": (-1.208, 0.160),
    "ses": (1.924, 0.118),
    "meanses": (3.048, 0.360),
}
ANALYSIS = "mathach ~ minority + female + ses + meanses + (1 + ses|schid)"
IMPUTATION = ["minority + female + ses + mathach ~ 1 + (1|schid)", "size ~ 1 + schtype + meanses"]


def hsb_with_mcar(seed: int = 20170710) -> pd.DataFrame:
    """hsb with 5% MCAR in minority, female, ses (rows) and size (schools)."""
    return jm.testing.add_mcar(
        jm.datasets.load_hsb(),
        ["minority", "female", "ses", "size"],
        0.05,
        cluster="schid",
        level2=["size"],
        seed=seed,
    )


def run(m: int = 20, seed: int = 1, **sampler: object) -> tuple[jm.Imputation, pd.DataFrame]:
    """Impute, analyse, pool; return the result and the comparison table."""
    data = hsb_with_mcar()
    imp = jm.impute(
        data, IMPUTATION, categorical=["minority", "female"], m=m, random_seed=seed, **sampler
    )
    pooled = jm.analyze(imp, ANALYSIS, backend="statsmodels").pool()
    table = pooled.table.loc[list(COMPLETE), ["estimate", "std_error", "fmi"]].copy()
    table["complete"] = [COMPLETE[k][0] for k in table.index]
    table["complete_se"] = [COMPLETE[k][1] for k in table.index]
    table["diff_in_se"] = (table["estimate"] - table["complete"]) / table["std_error"]
    return imp, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--tune", type=int, default=None, help="warm-up per chain (default: the model's, 500)"
    )
    parser.add_argument(
        "--draws", type=int, default=None, help="draws per chain (default: until converged)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    start = time.perf_counter()
    imp, table = run(m=args.m, seed=args.seed, tune=args.tune, draws=args.draws)
    print(imp.summary())
    print()
    print(imp.rhat().to_string())
    print()
    print(f"Pooled {ANALYSIS} over m = {imp.m} (Rubin's rules) vs complete data:")
    print(table.round(3).to_string())
    attrs = imp.tree.attrs
    print(
        f"\nsampling {attrs['sampling_seconds']:.1f} s, total {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
