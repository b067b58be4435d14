"""The seeds' FIMD 7.10 cases on brandsma, each from one analysis formula.

For each case: ``jm.impute(brandsma, analysis=...)`` with defaults (m = 10), the
convergence of every parameter (worst R-hat, smallest bulk and tail ESS), the analysis
fitted to each completed set by ML (``reml=False``, as the book) and pooled, printed beside
the book's figures (docs/reference.md, mice ``2l.pmm`` with passive terms), and the
substantive model's own posterior (``imp.model_estimates()``).

* 7.10.6: ``lpo ~ iqv + mean(iqv) + (1 + iqv | sch)`` (random slope of an incomplete
  predictor, contextual effect);
* 7.10.7: ``lpo ~ iqv*ses + mean(iqv)*mean(ses) + ... + (1 + ses + iqv | sch)`` with
  ``lpo`` centred on its grand mean, as the book;
* 7.10.5: ``lpo ~ iqv*sex + mean(iqv)*factor(den) + sex*factor(den) + (1 | sch)`` with
  incomplete ``sex`` (binary, level 1) and ``den`` (nominal, level 2), summed over.

The book's cluster means are observed means of the completed data (``2l.groupmean``);
``--cluster-means observed`` imputes with those, the default uses the latent means.

Run with ``python benchmarks/bench_fimd_substantive.py [--cases 7.10.6,7.10.7]``
(a few minutes on 2 cores, the first compile of each structure included).
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

import jmimpute as jm

CASES = {
    "7.10.5": "lpo ~ 1 + iqv*sex + mean(iqv)*factor(den) + sex*factor(den) + (1 | sch)",
    "7.10.6": "lpo ~ iqv + mean(iqv) + (1 + iqv | sch)",
    "7.10.7": (
        "lpo ~ iqv*ses + mean(iqv)*mean(ses) + iqv:mean(iqv) + iqv:mean(ses) "
        "+ ses:mean(iqv) + ses:mean(ses) + (1 + ses + iqv | sch)"
    ),
}

BOOK = {
    "7.10.5": {
        "(Intercept)": 39.371,
        "iqv": 2.540,
        "sex": 2.503,
        "iqv_mean": 1.497,
        "den[2.0]": 1.795,
        "den[3.0]": -0.613,
        "den[4.0]": 1.935,
        "iqv:sex": -0.139,
        "iqv_mean:C(den)[2.0]": -0.400,
        "iqv_mean:C(den)[3.0]": -0.757,
        "iqv_mean:C(den)[4.0]": -1.841,
        "sex:C(den)[2.0]": -0.653,
        "sex:C(den)[3.0]": 0.787,
        "sex:C(den)[4.0]": -0.370,
    },
    "7.10.6": {"(Intercept)": 41.061, "iqv": 2.495, "iqv_mean": 0.975},
    "7.10.7": {
        "(Intercept)": 0.1802,
        "iqv": 2.2422,
        "ses": 0.1710,
        "iqv_mean": 0.7675,
        "ses_mean": -0.0921,
        "iqv:ses": -0.01721,
        "iqv_mean:ses_mean": -0.1167,
        "iqv:iqv_mean": -0.0632,
        "iqv:ses_mean": 0.00453,
        "ses:iqv_mean": 0.01711,
        "ses:ses_mean": 0.0000898,
    },
}
"""The book's pooled fixed effects (docs/reference.md, FIMD 7.10.5-7.10.7), by the labels
``jm.analyze`` gives them."""


def run(case: str, cluster_means: str) -> None:
    """Impute, check convergence, pool, print beside the book."""
    data = jm.datasets.load_brandsma()
    if case == "7.10.7":
        data = data.assign(lpo=data["lpo"] - data["lpo"].mean())
    formula = CASES[case]
    print(f"\n== FIMD {case}: {formula}")
    start = time.perf_counter()
    try:
        imp = jm.impute(
            data,
            analysis=formula,
            categorical=["sex", "den"],
            cluster_means=cluster_means,
            m=10,
            random_seed=1,
            progressbar=False,
        )
    except ValueError as err:
        print(f"refused: {err}")
        return
    wall = time.perf_counter() - start
    table = imp.convergence()
    print(
        f"wall {wall:.1f} s (compile {imp.tree.attrs['compile_seconds']:.1f} s, sampling "
        f"{imp.tree.attrs['sampling_seconds']:.1f} s, {imp.spec.sampler.draws} draws/chain); "
        f"max R-hat {table['r_hat'].max():.4f}, min bulk ESS {table['ess_bulk'].min():.0f}, "
        f"min tail ESS {table['ess_tail'].min():.0f} over {len(table)} parameters"
    )
    print("least converged:", ", ".join(table["ess_bulk"].nsmallest(3).index))
    fits = jm.analyze(imp, reml=False, progressbar=False)
    pooled = fits.pool().table[["estimate", "std_error"]]
    book = pd.Series(BOOK.get(case, {}), name="book", dtype=float)
    with pd.option_context("display.width", 160):
        print(pooled.join(book, how="left").round(4).to_string())
        print("variance components (pooled by averaging):")
        print(fits.varcorr().round(4).to_string())
        print("the substantive model's own posterior:")
        print(imp.model_estimates().round(4).to_string())


def main() -> None:
    """Run the cases asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="7.10.5,7.10.6,7.10.7")
    parser.add_argument("--cluster-means", default="latent", choices=["latent", "observed"])
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)
    for case in args.cases.split(","):
        run(case, args.cluster_means)


if __name__ == "__main__":
    main()
