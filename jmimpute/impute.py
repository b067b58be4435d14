"""``impute``: data in, joint model sampled with NUTS, m completed data sets out."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from jmimpute import __version__
from jmimpute.backend.conditional import draw_missing, draw_random_effects, missing_groups
from jmimpute.backend.model import (
    PARAMETERS,
    build_collapsed_model,
    build_latent_model,
    missing_cells,
)
from jmimpute.backend.sampling import SamplerRun, run_sampler, unpack_cholesky
from jmimpute.design import Design, build_design
from jmimpute.diagnostics import RHAT_MAX
from jmimpute.result import Imputation
from jmimpute.spec.model import ImputationSpec, build_spec
from jmimpute.spec.priors import Priors
from jmimpute.suffstats import compute_stats
from jmimpute.validate import validate

_log = logging.getLogger("jmimpute")


class ConvergenceWarning(UserWarning):
    """The imputation model's chains have not converged or mix too slowly for ``m``."""


@dataclass(frozen=True)
class _Draws:
    """Standardised parameter draws, shapes (chain, draw, ...)."""

    beta: np.ndarray
    sigma: np.ndarray
    psi: np.ndarray


def impute(
    data: pd.DataFrame,
    formula: str,
    *,
    m: int = 10,
    method: str = "collapsed",
    priors: Priors | None = None,
    chains: int = 4,
    tune: int = 1000,
    draws: int = 1000,
    random_seed: int | None = None,
    sampler: str = "nutpie",
    backend: str = "numba",
    cores: int | None = None,
    target_accept: float = 0.8,
    progressbar: bool = True,
) -> Imputation:
    """Multiply impute incomplete multilevel data with a Bayesian joint model.

    The model (pan's): for the incomplete level-1 targets ``y`` of row ``i`` in cluster
    ``j``, ``y_ij = B' x_ij + U_j' z_ij + e_ij`` with ``vec(U_j) ~ N(0, Psi)`` and
    ``e_ij ~ N(0, Sigma)``; ``x`` and ``z`` are fully observed covariates. NUTS samples
    the posterior; the m imputations are draws of the missing cells at retained draws
    spaced evenly over all chains.

    Parameters
    ----------
    data : pandas.DataFrame
        The incomplete data, one row per level-1 unit. Never modified.
    formula : str
        mitml-style formula: targets left of ``~``, fixed covariates and one random term
        ``(effects | cluster)`` on the right, e.g. ``"lpo + iqv ~ 1 + (1|sch)"`` or
        ``"lpo + iqv ~ 1 + ses + (1 + ses|sch)"``.
    m : int, default 10
        Number of imputations.
    method : {"collapsed", "latent"}, default "collapsed"
        ``"collapsed"`` integrates random effects and missing cells out of the NUTS
        target (cost independent of the number of rows) and draws them exactly
        afterwards; ``"latent"`` samples them with NUTS (the slower reference).
    priors : Priors, optional
        Priors on the standardised scale; see :class:`jmimpute.Priors`.
    chains, tune, draws : int
        NUTS chains, warm-up iterations and retained draws per chain.
    random_seed : int, optional
        The same seed gives identical imputations. If None, one is drawn and recorded in
        ``result.posterior.attrs["random_seed"]``.
    sampler : {"nutpie", "pymc"}, default "nutpie"
        nutpie, or PyMC's own NUTS as a fallback.
    backend : {"numba", "jax"}, default "numba"
        nutpie's backend. Numba compiles in about 15-40 s and then samples about 20 times
        faster than JAX here; JAX compiles in about 2 s (see README, "Backends").
    cores : int, optional
        Chains run in parallel.
    target_accept : float, default 0.8
        NUTS target acceptance rate; raise it (e.g. 0.95) after divergences.
    progressbar : bool, default True
        Show progress bars.

    Returns
    -------
    Imputation

    Examples
    --------
    >>> import jmimpute as jm
    >>> data = jm.datasets.load_brandsma()
    >>> imp = jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=20, random_seed=1)  # doctest: +SKIP
    >>> imp.summary()  # doctest: +SKIP
    >>> imp.complete(1)  # doctest: +SKIP
    """
    spec = build_spec(
        formula,
        m=m,
        method=method,
        priors=priors,
        chains=chains,
        tune=tune,
        draws=draws,
        sampler=sampler,
        backend=backend,
        cores=cores,
        target_accept=target_accept,
        progressbar=progressbar,
    )
    seed = _seed(random_seed)
    frame = validate(data, spec)
    design = build_design(frame, spec.level1)
    _log.info(
        "imputing %s in %d rows and %d clusters (%d missing cells)",
        ", ".join(design.targets),
        design.n,
        design.n_clusters,
        int(np.isnan(design.y).sum()),
    )
    sampler_seed, post_seed = np.random.SeedSequence(seed).spawn(2)
    run_seed = int(sampler_seed.generate_state(1, dtype=np.uint32)[0])
    rng = np.random.default_rng(post_seed)

    if spec.method == "collapsed":
        stats = compute_stats(design.y, design.x, design.z, design.cluster, design.n_clusters)
        model = build_collapsed_model(
            design, stats, spec.priors, compiled_kernel=_kernel_usable(spec)
        )
        run = run_sampler(model, spec.sampler, run_seed, var_names=list(PARAMETERS))
    else:
        model = build_latent_model(design, spec.priors)
        run = run_sampler(model, spec.sampler, run_seed)

    draws_s = _standardised_draws(run, design)
    chain_idx, draw_idx = _retained(spec)
    rows, cols = missing_cells(design)
    if spec.method == "collapsed":
        groups = missing_groups(design)
        values = np.empty((spec.m, rows.size))
        for i in tqdm(
            range(spec.m), desc="imputations", disable=not spec.sampler.progressbar, leave=False
        ):
            c, t = chain_idx[i], draw_idx[i]
            effects = draw_random_effects(
                stats, draws_s.beta[c, t], draws_s.sigma[c, t], draws_s.psi[c, t], rng
            )
            values[i] = draw_missing(
                design, groups, draws_s.beta[c, t], draws_s.sigma[c, t], effects, rng, rows.size
            )
    else:
        y_mis = run.trace["posterior"]["y_missing"].transpose("chain", "draw", ...).to_numpy()
        values = y_mis[chain_idx, draw_idx] if rows.size else np.empty((spec.m, 0))
    imputed = design.y_to_data(values, cols)

    tree = _result_tree(
        spec, design, run, draws_s, imputed, rows, cols, chain_idx, draw_idx, frame.index
    )
    tree.attrs.update({"random_seed": seed})
    result = Imputation(frame.copy(deep=True), spec, tree)
    _check_mixing(result)
    return result


def _seed(random_seed: object) -> int:
    if random_seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer):
        raise TypeError(
            f"`random_seed` must be a non-negative integer or None, got {random_seed!r}"
        )
    if random_seed < 0:
        raise ValueError(f"`random_seed` must be a non-negative integer, got {random_seed}")
    return int(random_seed)


def _kernel_usable(spec: ImputationSpec) -> bool:
    """The compiled likelihood Op runs everywhere except JAX without the FFI target."""
    if spec.sampler.sampler == "nutpie" and spec.sampler.backend == "jax":
        from jmimpute.backend.xla_ffi import ffi_available

        if not ffi_available():
            _log.warning(
                "the XLA FFI target is unavailable; using the slower pure PyTensor likelihood"
            )
            return False
    return True


def _retained(spec: ImputationSpec) -> tuple[np.ndarray, np.ndarray]:
    """Chain and draw of the m retained draws, spaced evenly over all chains."""
    total = spec.sampler.retained
    flat = np.floor((np.arange(spec.m) + 0.5) * total / spec.m).astype(np.int64)
    return flat // spec.sampler.draws, flat % spec.sampler.draws


def _standardised_draws(run: SamplerRun, design: Design) -> _Draws:
    post = run.trace["posterior"]
    beta = post["beta_s"].transpose("chain", "draw", ...).to_numpy()
    lsig = unpack_cholesky(
        post["chol_sigma_s"].transpose("chain", "draw", ...).to_numpy(), design.p
    )
    d = design.r * design.p
    lpsi = unpack_cholesky(post["chol_psi_s"].transpose("chain", "draw", ...).to_numpy(), d)
    return _Draws(
        beta=beta,
        sigma=lsig @ np.swapaxes(lsig, -1, -2),
        psi=lpsi @ np.swapaxes(lpsi, -1, -2),
    )


def _result_tree(
    spec: ImputationSpec,
    design: Design,
    run: SamplerRun,
    draws_s: _Draws,
    imputed: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    chain_idx: np.ndarray,
    draw_idx: np.ndarray,
    index: pd.Index,
) -> xr.DataTree:
    n_chain, n_draw = draws_s.beta.shape[:2]
    sample = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    coords = sample | {
        "covariate": list(design.x_names),
        "variable": list(design.targets),
        "variable_2": list(design.targets),
        "effect": list(design.effect_names),
        "effect_2": list(design.effect_names),
    }

    def params(beta: np.ndarray, sigma: np.ndarray, psi: np.ndarray) -> xr.Dataset:
        return xr.Dataset(
            {
                "beta": (("chain", "draw", "covariate", "variable"), beta),
                "sigma": (("chain", "draw", "variable", "variable_2"), sigma),
                "psi": (("chain", "draw", "effect", "effect_2"), psi),
            },
            coords=coords,
        )

    posterior = params(
        design.beta_to_data(draws_s.beta),
        design.sigma_to_data(draws_s.sigma),
        design.psi_to_data(draws_s.psi),
    )
    standardised = params(draws_s.beta, draws_s.sigma, draws_s.psi)
    standardised.attrs.update(
        {
            "y_center": design.y_center.tolist(),
            "y_scale": design.y_scale.tolist(),
        }
    )
    imputations = xr.Dataset(
        {"imputed": (("imputation", "cell"), imputed)},
        coords={
            "imputation": np.arange(1, spec.m + 1),
            "chain": ("imputation", chain_idx),
            "draw": ("imputation", draw_idx),
            "row": ("cell", rows),
            "row_label": ("cell", np.asarray(index)[rows]),
            "column": ("cell", np.asarray(design.targets, dtype=object)[cols].astype(str)),
        },
    )
    stats = run.trace["sample_stats"].dataset if "sample_stats" in run.trace else xr.Dataset()
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "standardised_posterior": standardised,
            "sample_stats": stats,
            "imputations": imputations,
        }
    )
    tree.attrs.update(
        {
            "jmimpute_version": __version__,
            "formula": spec.level1.text,
            "method": spec.method,
            "sampler": spec.sampler.sampler,
            "backend": spec.sampler.backend,
            "compile_seconds": run.compile_seconds,
            "sampling_seconds": run.sampling_seconds,
        }
    )
    return tree


def _check_mixing(result: Imputation) -> None:
    """Warn when the chains have not converged or mix too slowly for m separated draws."""
    table = result.convergence()
    worst_rhat = table["r_hat"].idxmax()
    if table["r_hat"].max() > RHAT_MAX:
        msg = (
            f"R-hat of {worst_rhat} is {table['r_hat'].max():.3f} > {RHAT_MAX}: the chains of the "
            "imputation model have not converged. Raise `tune` (and `draws`) and rerun; see "
            "imp.summary()."
        )
        _log.warning(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    ess = table["ess_bulk"].min()
    worst_ess = table["ess_bulk"].idxmin()
    m = result.m
    if not ess >= m:
        total = result.spec.sampler.retained
        needed = int(np.ceil(result.spec.sampler.draws * m / max(ess, 1.0)))
        msg = (
            f"The smallest bulk ESS of the imputation-model parameters is {ess:.0f} ({worst_ess}), "
            f"below m={m}: the m imputations are {total // m} iterations apart but the chains "
            f"need about {total / max(ess, 1.0):.0f} iterations per independent draw, so the "
            f"imputations are not well separated. Raise `draws` to at least {needed} (or lower m)."
        )
        _log.warning(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
