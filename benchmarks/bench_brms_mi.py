"""One posterior from two samplers: jmimpute's substantive model against brms ``mi()``.

Issue 20, must-show 3. One S1-like data set (``jmimpute.simulate``'s S1, 100 clusters of
10, ``y = 0.5 x + u0 + u1 x + e``), with ``y`` complete, 25% of ``x`` missing completely
at random and no auxiliary, is fitted by

* jmimpute: ``jm.impute(data, analysis="y ~ x + (1 + x | g)")`` (the substantive model,
  its random effects integrated out; 4 chains of 1000 warm-up and 1000 draws, 2 cores);
* brms 2.18 (Stan's NUTS, ``benchmarks/peer_brms_mi.R``):
  ``bf(y ~ mi(x) + (1 + mi(x) | g)) + bf(x | mi() ~ 1 + (1 | g)) + set_rescor(FALSE)``,
  the same chains, warm-up and draws,

the same model under the same priors, so the posterior means should agree within Monte
Carlo error. Printed per parameter: each posterior mean with its Monte Carlo s.e.
(posterior sd / sqrt(bulk ESS); ArviZ's ESS for jmimpute, ``posterior::ess_bulk`` for
brms), the difference over their combined s.e. (z) and whether ``|z| <= 4``. The
parameters: the fixed intercept and slope, the random intercept's and slope's variances
and their covariance, the residual variance, and the covariate model's intercept,
random-intercept variance and residual variance (brms's sds and correlation turned into
variances and a covariance per draw, so that posterior means of the same quantities are
compared).

Matched priors. ``y`` and ``x`` are standardised by their observed mean and sd (ddof 1, as
jmimpute standardises its targets) before both fits, so jmimpute's default priors
(:class:`jmimpute.Priors`, stated on the standardised scale) are priors on the data given
to brms too:

* outcome: intercept ``Normal(0, 2.5)`` (jmimpute's intercept is that of centred columns,
  and ``x``'s centre is its observed mean, 0 here: brms's ``Intercept`` with ``mi(x)``
  uncentred is the same); residual sd ``HalfNormal(1)``; random-effect sds
  ``HalfNormal(1)``, ``LKJ(1)`` correlation;
* covariate model ``x ~ 1 + (1 | g)``: intercept ``Normal(0, 2.5)``, random-intercept sd
  and residual sd ``HalfNormal(1)``;
* the slope: jmimpute scales each design column by its sd computed with the missing ``x``
  filled by the observed mean, ``s = sqrt((n_obs - 1) / n)``, about 0.87 with 25%
  missing, so its priors ``Normal(0, 2.5)`` on the fixed slope and ``HalfNormal(1)`` on the
  random slope's sd are, on ``x``'s scale, ``Normal(0, 2.5 / s)`` and ``HalfNormal(1 / s)``.
  brms is given those (``s`` is passed to the R script), so the priors match exactly; with
  ``2.5`` and ``1`` instead the difference would be negligible against 4 MC s.e. (1,000
  rows and 100 clusters dominate these weak priors).

Skipped, with a warning, where ``Rscript`` or brms is not installed.

Run with ``python benchmarks/bench_brms_mi.py [--seed 1]`` (about 2 minutes on 2 cores:
brms compiles for about 45 s and samples 4 chains two at a time for about a minute;
jmimpute takes 5 s, 25 s more where this structure was never compiled on the machine).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

import jmimpute as jm
from jmimpute.simulate import simulate_design

try:
    from rpeers import run_peer_script
except ImportError:  # run from the repository root
    from benchmarks.rpeers import run_peer_script

_log = logging.getLogger("bench")

PARAMETERS = {
    "intercept": "fixed intercept",
    "slope": "fixed slope of x",
    "tau_intercept": "var(random intercept)",
    "tau_slope": "var(random slope)",
    "tau_cov": "cov(intercept, slope)",
    "sigma2": "residual variance",
    "x_intercept": "x model: intercept",
    "psi_x": "x model: var(random intercept)",
    "sigma2_x": "x model: residual variance",
}
"""The compared parameters, by the names both sides use, with their labels."""


def have_brms() -> bool:
    """Whether ``Rscript`` with brms and posterior (and a working rstan) is installed."""
    if shutil.which("Rscript") is None:
        logging.warning("Rscript not found; skipping the brms comparison")
        return False
    code = "suppressMessages({library(brms); library(posterior); library(rstan)})"
    check = subprocess.run(["Rscript", "-e", code], capture_output=True, check=False)
    if check.returncode != 0:
        logging.warning("Rscript found but not brms, posterior and rstan; skipping")
        return False
    return True


def simulate(seed: int, clusters: int, size: int, rate: float) -> pd.DataFrame:
    """S1's complete data, ``x`` missing completely at random, ``y`` and ``x`` standardised.

    ``simulate_design`` makes ``y`` and ``x`` missing at random on an auxiliary; here only
    its complete data are used, ``x`` loses ``rate`` of its values at random and ``y`` stays
    complete, with no auxiliary.
    """
    data = simulate_design("S1", seed, clusters=clusters, size=size).complete[["g", "y", "x"]]
    data = data.copy()
    rng = np.random.default_rng([seed, 20])
    data.loc[rng.random(len(data)) < rate, "x"] = np.nan
    for name in ("y", "x"):
        data[name] = (data[name] - data[name].mean()) / data[name].std()
    return data


def slope_scale(x: pd.Series) -> float:
    """The sd jmimpute scales the ``x`` column by: missing values filled by the mean, ddof 0."""
    filled = x.fillna(x.mean()).to_numpy()
    return float(np.std(filled - filled.mean()))


def jmimpute_draws(imp: jm.Imputation, x: pd.Series) -> xr.Dataset:
    """The compared parameters' draws (chain, draw) from jmimpute's posterior."""
    post = imp.posterior.dataset
    beta, tau = post["beta"], post["tau"]
    one = {"effect": "(Intercept)", "effect_": "(Intercept)"}
    coef = post["coef_x_s"].isel(x_cov=0).sel(x_var="x")  # standardised: map to x's scale
    draws = {
        "intercept": beta.sel(term="(Intercept)"),
        "slope": beta.sel(term="x"),
        "tau_intercept": tau.sel(one),
        "tau_slope": tau.sel(effect="x", effect_="x"),
        "tau_cov": tau.sel(effect="(Intercept)", effect_="x"),
        "sigma2": post["sigma2"],
        "x_intercept": x.mean() + x.std() * coef,
        "psi_x": post["psi_x"].sel(psi_var="x", psi_var_="x"),
        "sigma2_x": post["sigma_x"].sel(x_var="x", x_var_="x"),
    }
    return xr.Dataset(
        {k: v.drop_vars(list(v.coords.keys() - {"chain", "draw"})) for k, v in draws.items()}
    )


def summarise(draws: xr.Dataset) -> pd.DataFrame:
    """Posterior mean, sd, bulk ESS and R-hat of each variable."""
    ess, rhat = az.ess(draws, method="bulk"), az.rhat(draws)
    rows = {
        name: {
            "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)),
            "ess": float(ess[name]),
            "rhat": float(rhat[name]),
        }
        for name, v in draws.data_vars.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Means with MC s.e. side by side, the difference over the combined s.e., ``|z| <= 4``."""
    out = {}
    for name, label in PARAMETERS.items():
        a, b = ours.loc[name], theirs.loc[name]
        se_a, se_b = a["sd"] / np.sqrt(a["ess"]), b["sd"] / np.sqrt(b["ess"])
        z = (a["mean"] - b["mean"]) / np.hypot(se_a, se_b)
        out[label] = {
            "jmimpute (MC s.e.)": f"{a['mean']:.4f} ({se_a:.4f})",
            "brms (MC s.e.)": f"{b['mean']:.4f} ({se_b:.4f})",
            "z": f"{z:+.2f}",
            "|z| <= 4": "yes" if abs(z) <= 4 else "NO",
            "post. sd": f"{a['sd']:.4f} / {b['sd']:.4f}",
            "bulk ESS": f"{a['ess']:.0f} / {b['ess']:.0f}",
        }
    return pd.DataFrame.from_dict(out, orient="index")


def main() -> None:
    """Simulate, fit with both, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--missing", type=float, default=0.25, help="share of x missing (MCAR)")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--m", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    _log.setLevel(logging.INFO)
    warnings.simplefilter("ignore", FutureWarning)
    if not have_brms():
        return

    data = simulate(args.seed, args.clusters, args.size, args.missing)
    scale = slope_scale(data["x"])
    _log.info(
        "S1-like data, seed %d: %d rows, %d clusters, %d of x missing; x column scale %.4f",
        args.seed,
        len(data),
        data["g"].nunique(),
        int(data["x"].isna().sum()),
        scale,
    )
    start = time.perf_counter()
    imp = jm.impute(
        data,
        analysis="y ~ x + (1 + x | g)",
        m=args.m,
        chains=args.chains,
        cores=min(args.chains, 2),
        tune=args.warmup,
        draws=args.draws,
        random_seed=args.seed,
        progressbar=False,
    )
    jm_wall = time.perf_counter() - start
    ours = summarise(jmimpute_draws(imp, data["x"]))
    conv = imp.convergence()
    _log.info(
        "jmimpute: wall %.1f s (compile %.1f s, sampling %.1f s); max R-hat %.4f over %d "
        "parameters",
        jm_wall,
        imp.tree.attrs["compile_seconds"],
        imp.tree.attrs["sampling_seconds"],
        conv["r_hat"].max(),
        len(conv),
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        data.to_csv(path, index=False)
        _log.info("brms: compiling and sampling (a few minutes)")
        start = time.perf_counter()
        peer = run_peer_script(
            "peer_brms_mi.R",
            str(path),
            f"{scale:.10g}",
            str(args.chains),
            str(args.warmup),
            str(args.draws),
            str(args.seed),
        )
        brms_wall = time.perf_counter() - start
    theirs = pd.DataFrame.from_dict({k: peer[k] for k in PARAMETERS}, orient="index")
    _log.info(
        "brms: wall %.1f s (compile %.1f s, sampling %.1f s); max R-hat %.4f, %d divergent",
        brms_wall,
        peer["seconds"]["compile"],
        peer["seconds"]["sampling"],
        peer["diagnostics"]["max_rhat"],
        int(peer["diagnostics"]["divergent"]),
    )

    table = compare(ours, theirs)
    with pd.option_context("display.width", 160):
        print(table.to_string())
    off = table.index[table["|z| <= 4"] != "yes"].tolist()
    if off:
        _log.warning("beyond 4 MC s.e.: %s", ", ".join(off))
    else:
        _log.info("all %d posterior means agree within 4 MC s.e.", len(table))


if __name__ == "__main__":
    main()
