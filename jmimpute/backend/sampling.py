"""Run NUTS on a PyMC model: nutpie (Numba or JAX backend) or PyMC's own sampler."""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from jmimpute.spec.model import SamplerSettings

_log = logging.getLogger("jmimpute")


@dataclass(frozen=True)
class SamplerRun:
    """Raw output of one sampler run.

    Attributes
    ----------
    trace : xarray.DataTree
        The sampler's own result (groups ``posterior`` and ``sample_stats``).
    compile_seconds, sampling_seconds : float
        Wall time spent compiling the model and sampling it (0 compile seconds when a
        compiled model was reused).
    compiled : object or None
        nutpie's compiled model, for re-runs with other shared data (None for PyMC).
    """

    trace: xr.DataTree
    compile_seconds: float
    sampling_seconds: float
    compiled: object | None = None


def _cores(settings: SamplerSettings) -> int:
    if settings.cores is not None:
        return settings.cores
    if settings.sampler == "nutpie" and settings.backend == "jax":
        # nutpie calls the JAX function from Python in every chain thread; with more
        # than one thread they contend for the GIL and run slower than one (measured:
        # 4 chains on brandsma, 7.6 s with 1 core against 10.4 s with 2).
        return 1
    return max(1, min(settings.chains, os.cpu_count() or 1))


def _compile_nutpie(model: pm.Model, backend: str, var_names: list[str] | None) -> object:
    import nutpie

    with warnings.catch_warnings():
        # PyTensor warns about BLAS for its C backend, which nutpie does not use.
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        return nutpie.compile_pymc_model(
            model, backend=backend, gradient_backend="pytensor", var_names=var_names
        )


def run_sampler(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    *,
    var_names: list[str] | None = None,
    compiled: object | None = None,
    shared: dict[str, float] | None = None,
) -> SamplerRun:
    """Sample ``model`` with NUTS.

    Parameters
    ----------
    model : pymc.Model
    settings : SamplerSettings
    seed : int
        Non-negative integer seed; the same seed gives the same draws.
    var_names : list of str, optional
        Variables to keep (default: all free variables).
    compiled : object, optional
        nutpie's compiled form of ``model`` from an earlier run, reused instead of
        compiling again.
    shared : dict, optional
        New values of shared data of ``model`` (by name) for this run.

    Returns
    -------
    SamplerRun
    """
    cores = _cores(settings)
    if shared:
        # the model's own values too: a fresh compile and the initial points read them
        pm.set_data(shared, model=model)
    if settings.sampler == "nutpie":
        import nutpie

        start = time.perf_counter()
        reused = compiled is not None
        if compiled is None:
            compiled = _compile_nutpie(model, settings.backend, var_names)
            _log.info(
                "compiled the model with nutpie/%s in %.1f s",
                settings.backend,
                time.perf_counter() - start,
            )
        else:
            _log.info("reusing the compiled model")
            # only the shared values the compiled graph uses (unused priors are pruned);
            # JAX freezes them at compile time, so a caller reuses a JAX model only when
            # they have not changed
            known = {var.name for var in getattr(compiled, "shared_var_keys", {})}
            used = {k: v for k, v in (shared or {}).items() if k in known}
            if used and settings.backend == "numba":
                compiled = compiled.with_data(**used)  # type: ignore[attr-defined]
        compiled_at = time.perf_counter()
        trace = nutpie.sample(
            compiled,
            chains=settings.chains,
            tune=settings.tune,
            draws=settings.draws,
            cores=cores,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=settings.progressbar,
            save_warmup=False,
        )
        done = time.perf_counter()
        compile_seconds = 0.0 if reused else compiled_at - start
        return SamplerRun(trace, compile_seconds, done - compiled_at, compiled)

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        trace = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            random_seed=seed,
            progressbar=settings.progressbar,
            target_accept=settings.target_accept,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
            var_names=var_names,
            model=model,
        )
    done = time.perf_counter()
    # PyMC compiles inside pm.sample; its time is counted as sampling here.
    return SamplerRun(trace, 0.0, done - start)


def unpack_cholesky(values: np.ndarray, n: int) -> np.ndarray:
    """Lower Cholesky factors from packed draws ``(..., n (n + 1) / 2)`` (or ``(..., 1)``)."""
    lead = values.shape[:-1]
    out = np.zeros((*lead, n, n))
    rows, cols = np.tril_indices(n)
    out[..., rows, cols] = values
    return out
