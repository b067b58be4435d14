"""Run NUTS on a PyMC model: nutpie (Numba or JAX backend) or PyMC's own sampler."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from jmimpute.sampling.reuse import COMPILED
from jmimpute.spec.model import SamplerSettings

_log = logging.getLogger("jmimpute")

_POLL_SECONDS = 0.02
"""How often a monitored run looks at its chains' progress: a fraction of brandsma's
half-second of sampling, and a negligible load (one look reads a tuple)."""


@dataclass(frozen=True)
class SamplerRun:
    """Raw output of one sampler run.

    Attributes
    ----------
    trace : xarray.DataTree
        The sampler's own result (groups ``posterior`` and ``sample_stats``).
    compile_seconds, sampling_seconds : float
        Wall time spent compiling the model (or finding a compiled one to reuse) and
        sampling it.
    compiled : object or None
        nutpie's compiled model, for re-runs with other shared data (None for PyMC).
    compiled_from : str
        Where the compiled model came from: ``"compiled"`` (in this run; PyTensor's and
        Numba's disk caches may have served parts), ``"disk"`` (loaded whole from the
        disk cache, :mod:`jmimpute.sampling.numba_callbacks`), ``"process"`` (an earlier
        run of this process, of this model or of one with the same graph), or ``""``
        (PyMC's sampler, which compiles inside its run).
    checkpoints : tuple of int
        With :class:`Checkpoints`: the draws per chain at which convergence was judged,
        the last being those kept (empty for a fixed number of draws).
    runs : int
        Sampler runs behind ``trace``: more than one only where checkpoints could not be
        judged within one run (see :func:`run_sampler`); ``sampling_seconds`` counts all.
    """

    trace: xr.DataTree
    compile_seconds: float
    sampling_seconds: float
    compiled: object | None = None
    checkpoints: tuple[int, ...] = ()
    runs: int = 1
    compiled_from: str = ""


@dataclass(frozen=True)
class Checkpoints:
    """Sample until a judge is satisfied: draws per chain are decided during the run.

    Attributes
    ----------
    first : int
        Draws per chain at the first judgement.
    most : int
        Draws per chain at most; the judgement there is final.
    judge : callable
        Called with the trace cut to the first ``n`` draws of every chain; returns the
        draws per chain of the next judgement (> ``n``), or None to stop and keep these.
        It sees only the first ``n`` draws, which a seeded chain produces the same way
        however long it runs, so the result does not depend on timing.
    names : tuple of str, optional
        The posterior variables the judge reads; None gives it the whole trace (slower to
        read during a run when the trace holds many values per draw, e.g. latents).
    """

    first: int
    most: int
    judge: Callable[[xr.DataTree], int | None]
    names: tuple[str, ...] | None = None


def _cores(settings: SamplerSettings, *, monitored: bool = False) -> int:
    if settings.cores is not None:
        return settings.cores
    if monitored and settings.sampler == "nutpie" and settings.backend == "numba":
        # checkpoints need every chain running: nutpie starts a chain only when one of
        # `cores` threads is free, so with fewer the first chains would run to the end
        # before the others begin. More threads than cores cost little: the OS shares them.
        return settings.chains
    if settings.sampler == "nutpie" and settings.backend == "jax":
        # nutpie calls the JAX function from Python in every chain thread; with more
        # than one thread they contend for the GIL and run slower than one
        # (benchmarks/README.md has the run that showed it).
        return 1
    return max(1, min(settings.chains, os.cpu_count() or 1))


def judged_in_one_run(settings: SamplerSettings) -> bool:
    """Whether :class:`Checkpoints` are judged within one run: nutpie, a thread per chain."""
    return settings.sampler == "nutpie" and _cores(settings, monitored=True) >= settings.chains


def _compile_nutpie(
    model: pm.Model, backend: str, var_names: list[str] | None
) -> tuple[object, str]:
    """The model compiled for nutpie, and where it came from (see :class:`SamplerRun`)."""
    import nutpie

    from jmimpute.sampling.numba_callbacks import cacheable, compile_numba

    with warnings.catch_warnings():
        # PyTensor warns about BLAS for its C backend, which nutpie does not use.
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        if backend == "numba" and cacheable():
            return compile_numba(model, var_names)
        compiled = nutpie.compile_pymc_model(
            model, backend=backend, gradient_backend="pytensor", var_names=var_names
        )
        return compiled, "compiled"


def run_sampler(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    *,
    var_names: list[str] | None = None,
    compiled: object | None = None,
    shared: dict[str, np.ndarray] | None = None,
    until: Checkpoints | None = None,
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
    until : Checkpoints, optional
        Decide the draws per chain during sampling (``settings.draws`` is then ignored).
        With nutpie and every chain on its own thread, one run is started with
        ``until.most`` draws and stopped at the first checkpoint the judge accepts. Else
        (PyMC, or fewer threads than chains) each checkpoint is a new run with as many
        draws, seeded alike, so its first draws repeat the last run's.

    Returns
    -------
    SamplerRun
    """
    if shared:
        # the model's own values too: a fresh compile and the initial points read them
        pm.set_data(shared, model=model)
    cores = _cores(settings, monitored=until is not None)
    if settings.sampler != "nutpie":
        return _rerun_until(
            lambda draws: _run_pymc(model, settings, draws, cores, seed, var_names),
            settings.draws,
            until,
        )
    start = time.perf_counter()
    compiled_from = "process"
    if compiled is not None:
        _log.info("reusing the compiled model")
        compiled = _with_shared(compiled, settings.backend, shared)
    elif (found := _compiled_elsewhere(model, settings.backend, var_names)) is not None:
        compiled = found
    else:
        compiled, compiled_from = _compile_nutpie(model, settings.backend, var_names)
        _log.info(
            "compiled the model with nutpie/%s in %.1f s%s",
            settings.backend,
            time.perf_counter() - start,
            " (from the disk cache)" if compiled_from == "disk" else "",
        )
        if settings.backend == "numba":
            COMPILED.add(model, settings.backend, var_names, compiled)
    compile_seconds = time.perf_counter() - start
    if until is not None and judged_in_one_run(settings):
        begun = time.perf_counter()
        trace, checked = _monitor(compiled, settings, cores, seed, until)
        return SamplerRun(
            trace,
            compile_seconds,
            time.perf_counter() - begun,
            compiled,
            checked,
            compiled_from=compiled_from,
        )
    run = _rerun_until(
        lambda draws: _run_nutpie(compiled, settings, draws, cores, seed),
        settings.draws,
        until,
    )
    return SamplerRun(
        run.trace,
        compile_seconds,
        run.sampling_seconds,
        compiled,
        run.checkpoints,
        run.runs,
        compiled_from,
    )


def _with_shared(compiled: Any, backend: str, shared: dict[str, np.ndarray] | None) -> Any:
    """``compiled`` with the new values of the shared data it uses.

    Only the values its graph uses (a pruned graph may use none); JAX freezes them at
    compile time, so a caller reuses a JAX model only when they have not changed.
    """
    known = {var.name for var in getattr(compiled, "shared_var_keys", {})}
    used = {k: v for k, v in (shared or {}).items() if k in known}
    if used and backend == "numba":
        compiled = compiled.with_data(**used)
    return compiled


def _compiled_elsewhere(model: pm.Model, backend: str, var_names: list[str] | None) -> Any:
    """The compiled model of an earlier run of this process on the same graph, or None.

    Numba's only: nutpie's JAX models freeze their shared data.
    """
    if backend != "numba":
        return None
    compiled = COMPILED.find(model, backend, var_names)
    if compiled is not None:
        _log.info("reusing the compiled model of other data with the same structure")
    return compiled


def _run_nutpie(
    compiled: object,
    settings: SamplerSettings,
    draws: int,
    cores: int,
    seed: int,
    *,
    blocking: bool = True,
    **kwargs: Any,
) -> Any:
    """The trace of ``draws`` draws per chain from nutpie, or (``blocking=False``) its sampler.

    nutpie's own blocking ``sample`` answers Ctrl-C by returning the draws made so far, as
    if the run were complete; here Ctrl-C stops the chains and propagates, so that no
    partial run is taken for a whole one.
    """
    import nutpie

    _log.info(
        "sampling %d chains of %d warm-up iterations and %d draws with nutpie on %d threads",
        settings.chains,
        settings.tune,
        draws,
        cores,
    )
    sampler = nutpie.sample(
        compiled,
        chains=settings.chains,
        tune=settings.tune,
        draws=draws,
        cores=cores,
        seed=seed,
        target_accept=settings.target_accept,
        progress_bar=settings.progressbar,
        save_warmup=False,
        blocking=False,
        **kwargs,
    )
    if not blocking:
        return sampler
    try:
        trace = sampler.wait()  # Ctrl-C interrupts the wait
    except BaseException:
        sampler.cancel()  # stops nutpie's threads and discards the draws
        raise
    return _whole(trace, draws, "nutpie")


def _whole(trace: xr.DataTree, draws: int, sampler: str) -> xr.DataTree:
    """``trace`` if every chain has ``draws`` draws; else the run was interrupted.

    PyMC (and nutpie's blocking ``sample``) return the draws made so far when Ctrl-C
    stops them; such a trace must not pass for a whole run.
    """
    made = trace["posterior"].sizes.get("draw", 0) if "posterior" in trace.children else 0
    if made < draws:
        raise KeyboardInterrupt(
            f"{sampler} stopped after {made} of {draws} draws per chain (interrupted)"
        )
    return trace


def _run_pymc(
    model: pm.Model,
    settings: SamplerSettings,
    draws: int,
    cores: int,
    seed: int,
    var_names: list[str] | None,
) -> xr.DataTree:
    _log.info(
        "sampling %d chains of %d warm-up iterations and %d draws with PyMC",
        settings.chains,
        settings.tune,
        draws,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLAS.*")
        # PyMC compiles inside pm.sample; its time is counted as sampling.
        trace = pm.sample(
            draws=draws,
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
    return _whole(trace, draws, "PyMC")


def _rerun_until(
    sample: Callable[[int], xr.DataTree], draws: int, until: Checkpoints | None
) -> SamplerRun:
    """One run of ``draws``, or (with ``until``) a new run for every checkpoint."""
    start = time.perf_counter()
    if until is None:
        trace = sample(draws)
        return SamplerRun(trace, 0.0, time.perf_counter() - start)
    target, checked = until.first, []
    while True:
        trace = sample(target)
        checked.append(target)
        more = until.judge(trace) if target < until.most else None
        if more is None:
            return SamplerRun(
                trace, 0.0, time.perf_counter() - start, None, tuple(checked), len(checked)
            )
        target = min(more, until.most)


def _monitor(
    compiled: object, settings: SamplerSettings, cores: int, seed: int, until: Checkpoints
) -> tuple[xr.DataTree, tuple[int, ...]]:
    """One nutpie run of ``until.most`` draws, judged at checkpoints and stopped early."""
    watched = _Watched(settings.chains, settings.tune)
    watched.sampler = _run_nutpie(
        compiled,
        settings,
        until.most,
        cores,
        seed,
        blocking=False,
        progress_callback=watched.progress,
        progress_rate=100,
    )
    target, checked = until.first, []
    try:
        while target < until.most:
            view = watched.view(target, until.names)  # pauses the sampler
            checked.append(target)
            more = until.judge(view)
            if more is None:
                _log.info("stopping the sampler after %d draws per chain", target)
                return watched.stop(target), tuple(checked)
            watched.sampler.resume()
            target = min(more, until.most)
        checked.append(until.most)
        return watched.stop(until.most), tuple(checked)
    finally:
        if watched.final is None and not watched.finished():
            watched.sampler.cancel()


class _Watched:
    """A nutpie sampler running in the background, read as its chains progress."""

    def __init__(self, chains: int, tune: int) -> None:
        self.chains, self.tune = chains, tune
        self.sampler: Any = None  # nutpie's background sampler, set once started
        self.done: tuple[int, ...] = ()  # iterations made per chain (warm-up included)
        self.final: xr.DataTree | None = None  # the whole trace, once the run has ended
        self.stored = 0  # draws per chain seen in the store by the last read

    def progress(self, chains: list) -> None:
        """Record progress: nutpie calls this on its own thread (one atomic assignment)."""
        self.done = tuple(int(chain.finished_draws) for chain in chains)

    def finished(self) -> bool:
        try:
            return bool(self.sampler.is_finished)
        except TimeoutError:  # nutpie's answer while the sampler runs
            return False

    def _end(self) -> xr.DataTree | None:
        """The whole trace if the run has ended (all draws made, or a chain failed)."""
        if self.final is None and self.finished():
            self.final = self.sampler.wait()  # raises a chain's error; results taken once
        return self.final

    def view(self, draws: int, names: tuple[str, ...] | None) -> xr.DataTree:
        """The first ``draws`` draws of every chain (of ``names`` only), once all are made.

        Returns with the sampler paused (unless it has ended): reading the store takes
        seconds on large traces, and the chains would compete with it for the cores
        and, if the judge stops the run here, make draws that are thrown away.
        """
        while True:
            if (final := self._end()) is not None:
                return first_draws(final, draws)
            done = self.done
            if len(done) == self.chains and min(done) >= self.tune + draws:
                self.sampler.pause()
                start = time.perf_counter()
                trace = self._read(draws, names)
                _log.debug("read %d draws per chain in %.2f s", draws, time.perf_counter() - start)
                if trace is not None:
                    self.stored = max(self.stored, draws)
                    return trace
                self.sampler.resume()  # the store lags the progress report
            time.sleep(_POLL_SECONDS)

    def stop(self, draws: int) -> xr.DataTree:
        """Stop the run once every chain has ``draws`` draws; the trace cut to them."""
        if draws > self.stored:  # not yet seen in the store: wait for them
            self.view(draws, ())
        if (final := self._end()) is None:
            _log.debug("iterations per chain when stopped: %s", self.done)
            final = self.final = self.sampler.abort()
        return first_draws(final, draws)

    def _read(self, draws: int, names: tuple[str, ...] | None) -> xr.DataTree | None:
        raw = getattr(self.sampler, "_sampler", None)
        if names is None or raw is None or not hasattr(raw, "inspect"):
            # nutpie's public reader converts every variable and the warm-up: slow when
            # the trace holds thousands of latents per draw
            trace = self.sampler.inspect()
            made = np.isfinite(trace["sample_stats"]["step_size"].values).sum(axis=1)
            return first_draws(trace, draws) if made.min() >= draws else None
        return _arrow_posterior(raw.inspect(), names, draws)


def _arrow_posterior(results: Any, names: tuple[str, ...], draws: int) -> xr.DataTree | None:
    """The first ``draws`` draws of ``names`` from nutpie's raw (Arrow) results.

    None if some chain has fewer (the store may lag nutpie's progress report).
    """
    import pyarrow as pa

    draw_batches, stat_batches = results.get_arrow_trace()
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    shapes: dict[str, tuple[int, ...]] = {}
    for draw_batch, stat_batch in zip(draw_batches, stat_batches, strict=True):
        batch, stats = pa.record_batch(draw_batch), pa.record_batch(stat_batch)
        tuning = int(stats.column("tuning").to_numpy(zero_copy_only=False).sum())
        if batch.num_rows - tuning < draws:
            return None
        for name in names:
            meta = batch.schema.field(name).metadata or {}
            shape = meta.get(b"shape", b"").decode()
            shapes[name] = tuple(int(n) for n in shape.split(",")) if shape else ()
            column = batch.column(name).slice(tuning, draws)
            if hasattr(column, "flatten"):  # a list per draw (scalars may be plain values)
                column = column.flatten()
            values[name].append(column.to_numpy().reshape((draws, *shapes[name])))
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *(f"{name}_dim_{i}" for i in range(len(shapes[name])))),
                np.stack(chains),
            )
            for name, chains in values.items()
        }
    )
    return xr.DataTree.from_dict({"posterior": posterior})


def first_draws(trace: xr.DataTree, draws: int) -> xr.DataTree:
    """``trace`` with only the first ``draws`` draws of every chain, in every group."""
    return trace.map_over_datasets(
        lambda ds: ds.isel(draw=slice(0, draws)) if "draw" in ds.dims else ds
    )


def unpack_cholesky(values: np.ndarray, n: int) -> np.ndarray:
    """Lower Cholesky factors from packed draws ``(..., n (n + 1) / 2)`` (or ``(..., 1)``)."""
    lead = values.shape[:-1]
    out = np.zeros((*lead, n, n))
    rows, cols = np.tril_indices(n)
    out[..., rows, cols] = values
    return out
