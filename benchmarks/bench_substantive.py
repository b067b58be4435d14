"""Known truth for the substantive model: bias and coverage over simulated replicates.

For each design of docs/design/substantive-model.md (``jmimpute.simulate``: S1 random
slope of an incomplete predictor; S2 cross-level interaction with an incomplete level-2
variable; S3 interaction of an incomplete binary and an incomplete continuous predictor,
and a square; S3c the same with a complete binary; S4 contextual effect with clusters of
5 and the latent mean; S5 an incomplete ordinal level-1 and nominal level-2 predictor;
S6 a binary outcome, probit, pooled with lme4's glmer), ``--reps`` replicates, each
imputed with

* ``substantive``: ``jm.impute(data, analysis=..., auxiliary=["z"])`` with defaults; its
  own posterior (``imp.model_estimates()``: posterior mean, 95% equal-tailed interval)
  and, with ``--pooled``, the analysis fitted to the m sets and pooled (``jm.analyze``,
  REML, Rubin's rules; variance components averaged over the sets);
* ``complete data`` (with ``--pooled``): the analysis of the data before deletion, the
  reference for what the analysis itself gives (REML variance components included);
* ``joint`` (with ``--pooled``): today's joint model of the same variables
  (``y + x + z ~ 1 + (1|g)``, ``w ~ 1`` at level 2), analysed and pooled the same way;
  the bias this issue removes shows here.

Printed per design and method: each estimand's truth, mean estimate, relative bias
(absolute where the truth is 0), 95% coverage and the replicates' mean wall time. Monte
Carlo error of a coverage from R replicates: sqrt(0.95 * 0.05 / R), 2.2 points at R = 100.
S4's pooled row fits observed cluster means to completed data, which is biased for the
between slope with clusters of 5 even without missing data (Ludtke et al. 2008): the
substantive model's own posterior is the estimate to judge there.

``--peers`` (with ``--pooled --fitter lme4``; S1-S4) adds jomo's ``jomo.lmer`` with the
analysis formula (S4: the joint model ``jomo``, since ``jomo.lmer`` cannot write a cluster
mean) and mice's ``2l.lmer`` with FIMD's passive terms (``peer_substantive.R``; miceadds'
``2l.pmm`` of FIMD is not installed here).

``--fitter lme4`` fits and pools with lme4 and mitml in R (docs/peers.md): statsmodels'
MixedLM fails on some sets with random slopes, and averaged variance components then carry
those failures.

Run with ``python benchmarks/bench_substantive.py --reps 100 [--pooled] [--designs S1,S2]``
(about 3 s per replicate and design without ``--pooled`` on 2 cores, 15 s with it).
"""

from __future__ import annotations

import argparse
import logging
import re
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

import jmimpute as jm
from jmimpute.analysis.formula import parse_analysis_formula
from jmimpute.analysis.frequentist import coded_response
from jmimpute.simulate import DESIGNS, SimulatedDesign, simulate_design

try:
    from rpeers import run_peer_script
except ImportError:  # run from the repository root
    from benchmarks.rpeers import run_peer_script


def _model_rows(imp: jm.Imputation, truth: dict[str, float]) -> dict[str, tuple[float, bool]]:
    """Posterior mean and whether the 95% interval covers the truth, per estimand."""
    table = imp.model_estimates()
    out = {}
    for name, value in truth.items():
        key = _posterior_name(name)
        row = table.loc[key]
        out[name] = (float(row["mean"]), bool(row["2.5%"] <= value <= row["97.5%"]))
    return out


def _posterior_name(name: str) -> str:
    if name.startswith("var("):
        inner = name[4:-1]
        return f"tau[{inner}, {inner}]"
    if name.startswith("cov("):
        a, b = name[4:-1].split(",")
        return f"tau[{b}, {a}]"
    return f"beta[{name}]"


def _with_cluster_terms(formula: str, sets: list[pd.DataFrame]) -> tuple[str, list[pd.DataFrame]]:
    """The formula naming derived columns for ``mean(x)``/``cwc(x)``, and the sets with them
    (observed cluster means of each set, as ``jm.analyze`` computes them)."""
    from jmimpute.analysis.derive import apply_derived
    from jmimpute.analysis.formula import cluster_terms

    text, found = cluster_terms(formula, set(sets[0].columns))
    derived = {
        name: (jm.cluster_centre if centre else jm.cluster_mean)(variable, by="g")
        for name, (variable, centre) in found.items()
    }
    return text, [apply_derived(data.copy(), derived, "g") for data in sets]


def _lme4_rows(
    sets: list[pd.DataFrame], formula: str, truth: dict[str, float]
) -> dict[str, tuple[float, bool]]:
    """The analysis fitted by lme4 (REML) to each set and pooled by mitml (Rubin's rules for
    fixed effects, variance components averaged): the R analyst's path, and stable where
    statsmodels' MixedLM fits of random slopes are not."""
    text, sets = _with_cluster_terms(formula, sets)
    parsed = parse_analysis_formula(text)
    frames = [
        coded_response(parsed, data).assign(**{".imp": k}) for k, data in enumerate(sets, start=1)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        pd.concat(frames).to_csv(path, index=False)
        res = run_peer_script("peer_lmer_pool.R", str(path), text.replace("**", "^"))
    out = {}
    for name, value in truth.items():
        if name.startswith(("var(", "cov(")):
            a, _, b = name[4:-1].partition(",")
            a, b = (s.replace("(Intercept)", "Intercept") for s in (a, b or a))
            key = f"extra:{a}~~{b}|g"
            if key not in res:
                key = f"extra:{b}~~{a}|g"
            out[name] = (res[key]["estimate"], False)
            continue
        key = name.replace("mean(x)", "x_mean").replace("cwc(x)", "x_cwc").replace("**", "^")
        key = re.sub(r"(\w+)\[(\w+)\]", r"\1\2", key)  # R names a factor's level bYES
        row = res[f"fixed:{key}"]
        out[name] = (row["estimate"], bool(row["low"] <= value <= row["high"]))
    return out


def _pooled_rows(
    imp: jm.Imputation, formula: str, truth: dict[str, float], fitter: str = "statsmodels"
) -> dict[str, tuple[float, bool]]:
    if fitter == "lme4":
        return _lme4_rows(imp.complete("all"), formula, truth)
    fits = jm.analyze(imp, formula, progressbar=False)
    pooled = fits.pool().table
    varcorr = fits.varcorr()
    out = {}
    for name, value in truth.items():
        if name.startswith(("var(", "cov(")):
            key = _varcorr_name(name, varcorr.index)
            out[name] = (float(varcorr[key]), False)
            continue
        key = name.replace("mean(x)", "x_mean").replace("cwc(x)", "x_cwc")
        row = pooled.loc[re.sub(r"(\w+)\[(\w+)\]", r"\1[T.\2]", key)]
        out[name] = (float(row["estimate"]), bool(row["ci_lower"] <= value <= row["ci_upper"]))
    return out


def _complete_rows(sim: SimulatedDesign, fitter: str) -> dict[str, tuple[float, bool]]:
    """The analysis of the complete data (observed cluster means): the reference."""
    if fitter == "lme4":  # two identical sets: no between-imputation variance
        return _lme4_rows([sim.complete, sim.complete], sim.analysis, sim.truth)
    from jmimpute.analysis.frequentist import fit_statsmodels

    formula, (data,) = _with_cluster_terms(sim.analysis, [sim.complete])
    fit = fit_statsmodels(parse_analysis_formula(formula), data)
    out = {}
    for name, value in sim.truth.items():
        if name.startswith(("var(", "cov(")):
            out[name] = (float(fit.varcomp[_varcorr_name(name, fit.varcomp.index)]), False)
            continue
        key = name.replace("mean(x)", "x_mean").replace("cwc(x)", "x_cwc")
        se = float(np.sqrt(fit.cov.loc[key, key]))
        est = float(fit.params[key])
        out[name] = (est, bool(abs(est - value) <= 1.96 * se))
    return out


def _varcorr_name(name: str, index: pd.Index) -> str:
    inner = name[4:-1]
    if name.startswith("var("):
        wanted = [f"tau[{inner}]"]
    else:
        a, b = inner.split(",")
        wanted = [f"tau[{a}, {b}]", f"tau[{b}, {a}]"]
    for w in wanted:
        if w in index:
            return w
    raise KeyError(f"{name} not among the variance components {list(index)}")


def _joint(sim: SimulatedDesign, seed: int, m: int) -> jm.Imputation:
    """Today's joint model: every incomplete level-1 variable and the auxiliary a target
    (a categorical one through its latent normal), complete ones covariates, ``w`` at
    level 2."""
    data = sim.data
    level2 = [c for c in data.columns if c == "w"]
    incomplete = [c for c in data.columns if data[c].isna().any() and c not in level2]
    targets = [c for c in ("y", "x", *sim.auxiliary, *incomplete) if c in data]
    targets = list(dict.fromkeys(targets))
    covs = [c for c in data.columns if c not in (*targets, "g", *level2)]
    categorical = [c for c in targets if isinstance(data[c].dtype, pd.CategoricalDtype)]
    rhs = " + ".join(["1", *covs])
    formula: str | list[str] = f"{' + '.join(targets)} ~ {rhs} + (1|g)"
    if level2:
        formula = [str(formula), "w ~ 1"]
    return jm.impute(
        data, formula, categorical=categorical, m=m, random_seed=seed, progressbar=False
    )


PEER_DESIGNS = ("S1", "S2", "S3", "S3c", "S4")
"""The designs ``peer_substantive.R`` has recipes for."""


def _peers(
    sim: SimulatedDesign, design: str, m: int
) -> dict[str, tuple[dict[str, tuple[float, bool]], float]]:
    """jomo and mice 2l.lmer on a data set, pooled with lme4 (peer_substantive.R)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        data, sets = Path(tmp) / "data.csv", Path(tmp) / "sets.csv"
        sim.data.to_csv(data, index=False)
        seconds = run_peer_script("peer_substantive.R", design, str(data), str(m), str(sets))
        long = pd.read_csv(sets)
    for method, part in long.groupby(".method", sort=False):
        frames = [f.drop(columns=[".imp", ".method"]) for _, f in part.groupby(".imp")]
        secs = seconds["seconds"]["mice" if str(method).startswith("mice") else "jomo"]
        out[f"{method} (pooled)"] = (_lme4_rows(frames, sim.analysis, sim.truth), secs)
    return out


def run(
    design: str,
    reps: int,
    m: int,
    pooled: bool,
    csv: str | None = None,
    fitter: str = "statsmodels",
    peers: bool = False,
    first_seed: int = 1000,
) -> list[dict]:
    """Every replicate's estimates, one record per (method, estimand).

    With ``csv``, the records so far are appended to that file after each replicate, so
    that a long run can be summarised before it ends (``--summarise``).
    """
    records: list[dict] = []
    for rep in range(reps):
        sim = simulate_design(design, first_seed + rep)
        start = time.perf_counter()
        imp = jm.impute(
            sim.data,
            analysis=sim.analysis,
            auxiliary=list(sim.auxiliary),
            m=m,
            random_seed=rep,
            progressbar=False,
        )
        seconds = time.perf_counter() - start
        results = {"substantive (posterior)": (_model_rows(imp, sim.truth), seconds)}
        if pooled:
            results["complete data"] = (_complete_rows(sim, fitter), 0.0)
            results["substantive (pooled)"] = (
                _pooled_rows(imp, sim.analysis, sim.truth, fitter),
                seconds,
            )
            start = time.perf_counter()
            joint = _joint(sim, rep, m)
            results["joint (pooled)"] = (
                _pooled_rows(joint, sim.analysis, sim.truth, fitter),
                time.perf_counter() - start,
            )
        if peers:
            results |= _peers(sim, design, m)
        for method, (rows, secs) in results.items():
            for name, (estimate, covered) in rows.items():
                records.append(
                    {
                        "design": design,
                        "method": method,
                        "estimand": name,
                        "truth": sim.truth[name],
                        "estimate": estimate,
                        "covered": covered,
                        "seconds": secs,
                        "converged": imp.convergence_report().ok,
                    }
                )
        if csv:
            new = pd.DataFrame(records[-len(results) * len(sim.truth) :])
            new.to_csv(csv, mode="a", header=not Path(csv).exists(), index=False)
        logging.getLogger("bench").info("%s replicate %d of %d", design, rep + 1, reps)
    return records


def summarise(records: list[dict]) -> pd.DataFrame:
    """Mean estimate, relative bias and coverage per design, method and estimand."""
    frame = pd.DataFrame(records)
    rows = []
    for (design, method, name), part in frame.groupby(["design", "method", "estimand"], sort=False):
        truth = float(part["truth"].iloc[0])
        mean = float(part["estimate"].mean())
        se = float(part["estimate"].std(ddof=1) / np.sqrt(len(part)))
        variance = name.startswith(("var(", "cov(")) and method != "substantive (posterior)"
        rows.append(
            {
                "design": design,
                "method": method,
                "estimand": name,
                "truth": truth,
                "mean": mean,
                "mc_se": se,
                "rel_bias_%": 100 * (mean - truth) / truth if truth else np.nan,
                "abs_bias": mean - truth,
                "coverage_%": np.nan if variance else 100 * float(part["covered"].mean()),
                "reps": len(part),
                "seconds": float(part["seconds"].mean()),
                "converged_%": 100 * float(part["converged"].mean()),
            }
        )
    table = pd.DataFrame(rows)
    table["meets"] = table.apply(_meets, axis=1)
    return table


def _meets(row: pd.Series) -> str:
    """The issue's bar: |relative bias| under 5% (fixed effects; 10% for a variance
    component), 95% coverage within 92-98%; a zero truth is judged by coverage alone."""
    variance = str(row["estimand"]).startswith(("var(", "cov("))
    bias = row["rel_bias_%"]
    ok_bias = bool(np.isnan(bias) or abs(bias) < (10.0 if variance else 5.0))
    cover = row["coverage_%"]
    ok_cover = bool(np.isnan(cover) or 92.0 <= cover <= 98.0)
    return "yes" if ok_bias and ok_cover else "no"


def main() -> None:
    """Run the designs asked for and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", default=",".join(DESIGNS))
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--m", type=int, default=10)
    parser.add_argument("--pooled", action="store_true")
    parser.add_argument(
        "--fitter",
        default="statsmodels",
        choices=["statsmodels", "lme4"],
        help="how --pooled fits the analysis to each set (lme4: R with lme4 and mitml)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also jomo and mice 2l.lmer (R; designs S1-S4), pooled with lme4",
    )
    parser.add_argument(
        "--first-seed",
        type=int,
        default=1000,
        help="replicate k simulates with seed first_seed + k (other seeds: new replicates)",
    )
    parser.add_argument("--csv", default=None, help="append every replicate's records to it")
    parser.add_argument("--summarise", default=None, help="only summarise this CSV of records")
    args = parser.parse_args()
    if args.pooled and "S6" in args.designs.split(",") and args.fitter != "lme4":
        parser.error("S6 (a binary outcome) is pooled with --fitter lme4 (a probit glmer)")
    if args.peers:
        unknown = set(args.designs.split(",")) - set(PEER_DESIGNS)
        if unknown or not args.pooled or args.fitter != "lme4":
            parser.error(
                f"--peers needs --pooled --fitter lme4 and designs among {PEER_DESIGNS}"
                f" (not {sorted(unknown)})"
            )
    if args.summarise:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            table = summarise(pd.read_csv(args.summarise).to_dict("records"))
            print(table.round(3).to_string(index=False))
        return
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    logging.getLogger("jmimpute").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")
    records: list[dict] = []
    by_design: dict[str, list[dict]] = defaultdict(list)
    for design in args.designs.split(","):
        by_design[design] = run(
            design,
            args.reps,
            args.m,
            args.pooled,
            args.csv,
            args.fitter,
            args.peers,
            args.first_seed,
        )
        records.extend(by_design[design])
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(summarise(by_design[design]).round(3).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
