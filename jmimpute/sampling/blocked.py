"""NUTS on a compiled model, one transition at a time, alternating with other moves.

nutpie samples a compiled model from start to end. A data-augmentation sampler
(``docs/design/categorical-at-scale.md``) alternates each NUTS transition on the
parameters with exact draws of latent values given them, and those draws rewrite the data
the log density reads. This module runs such chains: the log density and gradient are
the compiled model's own Numba callback (the code nutpie would run), called through
ctypes, which releases the GIL, so chains on threads run in parallel wherever the time is
spent in the callback or in the moves' Numba code. Each chain has its own copy of the
model's shared data (:meth:`CompiledTarget.for_chain`), which its moves may rewrite in
place between transitions.

The result has nutpie's layout (``posterior`` with the model's kept variables,
``sample_stats``), so the rest of the pipeline reads it as it reads nutpie's.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from jmimpute.models.protocol import MOVE_STATES
from jmimpute.sampling.adapt import Warmup, initial_inverse_mass, initial_step_size
from jmimpute.sampling.hmc import Nuts, TransitionStats
from jmimpute.sampling.nuts import Checkpoints

_log = logging.getLogger("jmimpute")

_LOGP = ctypes.CFUNCTYPE(
    ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
    ctypes.c_void_p,
)  # fmt: skip
"""nutpie's log density callback: ``(dim, x, gradient out, logp out, user data) -> code``."""
_EXPAND = ctypes.CFUNCTYPE(
    ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p,
    ctypes.c_void_p,
)  # fmt: skip
"""nutpie's expand callback: ``(dim, n expanded, x, values out, user data) -> code``."""


class CompiledTarget:
    """The log density of a compiled model (nutpie's ``CompiledPyMCModel``) as a callable.

    Parameters
    ----------
    compiled : nutpie.compile_pymc.CompiledPyMCModel
        From :func:`jmimpute.sampling.numba_callbacks.compile_numba` or nutpie. Its user
        data (pointers to the shared values) must stay alive with it, which holding
        ``compiled`` ensures.
    """

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.n_dim = int(compiled.n_dim)
        self.n_expanded = int(compiled.n_expanded)
        self._logp = _LOGP(compiled.compiled_logp_func.address)
        self._expand = _EXPAND(compiled.compiled_expand_func.address)
        self._user = compiled.user_data.ctypes.data
        self._out = np.zeros(1)

    def for_chain(self) -> CompiledTarget:
        """A copy with its own shared values, writable in place (:meth:`shared`)."""
        copied = {
            var.name: np.array(self.compiled.shared_data[key], copy=True)
            for var, key in self.compiled.shared_var_keys.items()
        }
        return CompiledTarget(self.compiled.with_data(**copied) if copied else self.compiled)

    def shared(self, name: str) -> np.ndarray:
        """The shared value ``name`` that this target's callback reads, writable in place."""
        for var, key in self.compiled.shared_var_keys.items():
            if var.name == name:
                value = self.compiled.shared_data[key]
                value.flags.writeable = True  # this copy is ours (for_chain)
                return value
        raise KeyError(f"the compiled model has no shared value {name!r}")

    def __call__(self, q: np.ndarray) -> tuple[float, np.ndarray]:
        """The log density and its gradient at ``q`` (``-inf`` where nutpie's code says so)."""
        q = np.ascontiguousarray(q, dtype=np.float64)
        grad = np.empty(self.n_dim)
        out = np.empty(1)
        code = self._logp(self.n_dim, q.ctypes.data, grad.ctypes.data, out.ctypes.data, self._user)
        if code != 0:  # nutpie's codes: a non-finite density or gradient, or an error
            return -np.inf, np.zeros(self.n_dim)
        return float(out[0]), grad

    def expand(self, q: np.ndarray) -> np.ndarray:
        """The kept values at ``q`` (the trace's layout, ``compiled.shape_info``)."""
        q = np.ascontiguousarray(q, dtype=np.float64)
        values = np.empty(self.n_expanded)
        code = self._expand(
            self.n_dim, self.n_expanded, q.ctypes.data, values.ctypes.data, self._user
        )
        if code != 0:
            raise RuntimeError(f"the compiled model's expand callback failed (code {code})")
        return values


class Move(Protocol):
    """What alternates with NUTS in a chain: draws of values the log density conditions on.

    The driver keeps the move's state at a few evenly spaced draws (:class:`ThinnedStates`).
    """

    def draw(self, q: np.ndarray, rng: np.random.Generator) -> None:
        """Draw the move's values given the parameters at ``q``.

        Called after every NUTS transition with its end point; it may rewrite the chain's
        target's shared values (the chain then recomputes the density at ``q``).
        """
        ...

    def state(self) -> Any:
        """A copy of the move's current values (kept at a retained draw)."""
        ...


@dataclass(frozen=True)
class ChainSettings:
    """How each chain runs (the subset of :class:`~jmimpute.spec.model.SamplerSettings`).

    ``keep`` is how many of the move's states a chain holds at most
    (:class:`ThinnedStates`).
    """

    tune: int
    draws: int
    target_accept: float
    max_depth: int = 10
    keep: int = 8


class ThinnedStates:
    """A move's states at evenly spaced draws of a chain, at most ``capacity`` of them.

    A state is kept at every ``stride``-th draw; when more than ``capacity`` are held,
    every other one is dropped and the stride doubles. However long the chain runs (the
    draws may be decided while it runs), the kept states then span all its draws evenly,
    and memory does not grow with the draws.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(2, capacity)
        self.stride = 1
        self.states: dict[int, Any] = {}

    def offer(self, draw: int, move: Move) -> None:
        """Keep ``move``'s state if ``draw`` falls on the stride."""
        if draw % self.stride:
            return
        self.states[draw] = move.state()
        if len(self.states) > self.capacity:
            self.stride *= 2
            self.states = {t: v for t, v in self.states.items() if t % self.stride == 0}


@dataclass
class Chain:
    """One chain's draws: kept values per draw, transition stats, the move's kept states."""

    values: list[np.ndarray]
    stats: list[TransitionStats]
    step_size: float
    kept: ThinnedStates


class Stopped(Exception):
    """Raised in a chain when its run is stopped (Ctrl-C, or another chain's error)."""


class ChainRun:
    """One chain, warmed up on its first :meth:`advance` and sampled on as asked.

    After every NUTS transition (warm-up included) ``move`` draws its values given the
    transition's end point; its states are kept at thinned draws (:class:`ThinnedStates`).
    Before every transition the chain looks at ``stop``, and raises :class:`Stopped` once
    it is set: a chain on a worker thread cannot be interrupted otherwise, and would run
    to its end after Ctrl-C has reached the main thread.
    """

    def __init__(
        self,
        target: CompiledTarget,
        start: np.ndarray,
        settings: ChainSettings,
        rng: np.random.Generator,
        move: Move | None = None,
        progress: Callable[[int], object] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.target, self.settings, self.move = target, settings, move
        self.progress = progress
        self.stop = stop
        self.iterations = 0  # transitions made, warm-up included
        self.nuts = Nuts(target, np.ones(target.n_dim), 1.0, rng, settings.max_depth)
        self.z = self.nuts.start(start)
        self.grad = self.z.grad
        if not np.isfinite(self.z.logp):
            raise RuntimeError("the log density is not finite at the chain's initial point")
        self.warmed = False
        self.chain = Chain([], [], 1.0, ThinnedStates(settings.keep))

    def _step(self) -> TransitionStats:
        if self.stop is not None and self.stop.is_set():
            raise Stopped(f"stopped after {self.iterations} iterations")
        self.z, stats = self.nuts.transition(self.z)
        self.grad = self.z.grad  # the transition's own target, before the move changes it
        self.iterations += 1
        if self.move is not None:
            self.move.draw(self.z.q, self.nuts.rng)
            self.z = self.nuts.start(self.z.q)  # the density read the move's new values
        if self.progress is not None:
            self.progress(1)
        return stats

    def advance(self, draws: int) -> Chain:
        """Sample until the chain has ``draws`` draws (warming up first)."""
        if not self.warmed:
            warm = Warmup(self.nuts, self.settings.tune, self.settings.target_accept)
            if warm.metric == "gradients":
                self.nuts.inv_mass = initial_inverse_mass(self.z.grad)
            self.nuts.step_size = initial_step_size(self.nuts, self.z)
            warm.dual.restart(self.nuts.step_size)
            for _ in range(self.settings.tune):
                stats = self._step()
                warm.after(self.z.q, stats.accept, self.grad)
            self.warmed = True
            self.chain.step_size = self.nuts.step_size
        chain = self.chain
        while len(chain.values) < draws:
            chain.stats.append(self._step())
            chain.values.append(self.target.expand(self.z.q))
            if self.move is not None:
                chain.kept.offer(len(chain.values) - 1, self.move)
        return chain


def run_chain(
    target: CompiledTarget,
    start: np.ndarray,
    settings: ChainSettings,
    rng: np.random.Generator,
    move: Move | None = None,
) -> Chain:
    """Warm up and sample one chain of ``settings.draws`` draws."""
    return ChainRun(target, start, settings, rng, move).advance(settings.draws)


def run_chains(
    targets: Sequence[CompiledTarget],
    starts: Sequence[np.ndarray],
    settings: ChainSettings,
    seed: np.random.SeedSequence,
    moves: Sequence[Move | None] | None = None,
    cores: int = 1,
    until: Checkpoints | None = None,
    progressbar: bool = False,
) -> tuple[list[Chain], tuple[int, ...]]:
    """One chain per target on ``cores`` threads, chain ``c`` from ``seed``'s child ``c``.

    Without ``until``, ``settings.draws`` draws per chain. With it (``draws=None``), the
    chains stop at the first checkpoint its judge accepts, as nutpie's monitored runs do
    (:func:`jmimpute.sampling.nuts.run_sampler`); the judge reads the kept variables.
    ``progressbar`` shows the iterations of all chains in one bar.

    Returns
    -------
    chains : list of Chain
    checkpoints : tuple of int
        The draws per chain at which convergence was judged (empty without ``until``).
    """
    n = len(targets)
    rngs = [np.random.default_rng(s) for s in seed.spawn(n)]
    moves = list(moves) if moves is not None else [None] * n
    first = settings.draws if until is None else until.first
    bar = tqdm(total=n * (settings.tune + first), desc="sampling", disable=not progressbar)
    stop = threading.Event()
    runs = [
        ChainRun(targets[c], starts[c], settings, rngs[c], moves[c], bar.update, stop)
        for c in range(n)
    ]
    try:
        return _run(runs, targets, settings, cores, until, bar, stop)
    except BaseException:
        _log.debug(
            "chains stopped after %s iterations (of %d warm-up and %d draws)",
            [run.iterations for run in runs],
            settings.tune,
            first,
        )
        raise
    finally:
        bar.close()


def _run(
    runs: list[ChainRun],
    targets: Sequence[CompiledTarget],
    settings: ChainSettings,
    cores: int,
    until: Checkpoints | None,
    bar: Any,
    stop: threading.Event,
) -> tuple[list[Chain], tuple[int, ...]]:
    n = len(runs)

    def advance(draws: int) -> list[Chain]:
        if cores <= 1 or n == 1:
            return [run.advance(draws) for run in runs]
        return _on_threads(runs, draws, cores, stop)

    if until is None:
        return advance(settings.draws), ()
    target, checked = until.first, []
    while True:
        chains = advance(target)
        checked.append(target)
        more = until.judge(to_trace(chains, targets[0].compiled)) if target < until.most else None
        if more is None:
            return chains, tuple(checked)
        bar.total += n * (min(more, until.most) - target)
        target = min(more, until.most)


def _on_threads(runs: list[ChainRun], draws: int, cores: int, stop: threading.Event) -> list[Chain]:
    """Advance every chain to ``draws`` draws on ``cores`` threads.

    If the main thread is interrupted (Ctrl-C) or a chain fails, ``stop`` is set, every
    chain stops at its next transition, and the threads have ended before the exception
    propagates: no chain keeps a core busy, or the interpreter from exiting, after the run
    has failed, nor runs on to its end for draws that will be thrown away.
    """
    pool = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="jmimpute-chain")
    futures: list[Future[Chain]] = []
    try:
        futures += [pool.submit(run.advance, draws) for run in runs]
        wait(futures, return_when=FIRST_EXCEPTION)  # Ctrl-C interrupts the wait
        for future in futures:
            if future.done() and (error := future.exception()) is not None:
                raise error
        return [future.result() for future in futures]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def to_trace(chains: Sequence[Chain], compiled: Any) -> xr.DataTree:
    """The chains as nutpie's trace: ``posterior`` (kept variables) and ``sample_stats``."""
    names, slices, shapes = compiled.shape_info
    draws_ = min(len(c.values) for c in chains)
    values = np.stack([np.stack(c.values[:draws_]) for c in chains])  # chain, draw, expanded
    chains_n, draws = values.shape[:2]
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *(f"{name}_dim_{i}" for i in range(len(shape)))),
                values[:, :, sl].reshape(chains_n, draws, *shape),
            )
            for name, sl, shape in zip(names, slices, shapes, strict=True)
        },
        coords={"chain": np.arange(chains_n), "draw": np.arange(draws)},
    )

    def stat(get: Any, dtype: Any) -> np.ndarray:
        return np.array([[get(s) for s in c.stats[:draws]] for c in chains], dtype=dtype)

    sample_stats = xr.Dataset(
        {
            "n_steps": (("chain", "draw"), stat(lambda s: s.n_steps, np.int64)),
            "tree_depth": (("chain", "draw"), stat(lambda s: s.tree_depth, np.int64)),
            "maxdepth_reached": (("chain", "draw"), stat(lambda s: s.at_max_depth, bool)),
            "diverging": (("chain", "draw"), stat(lambda s: s.diverging, bool)),
            "mean_tree_accept": (("chain", "draw"), stat(lambda s: s.accept, float)),
            "energy": (("chain", "draw"), stat(lambda s: s.energy, float)),
            "step_size": (
                ("chain", "draw"),
                np.repeat(np.array([[c.step_size] for c in chains]), draws, axis=1),
            ),
        },
        coords={"chain": np.arange(chains_n), "draw": np.arange(draws)},
    )
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats})


def sample_blocked(
    built: Any,
    settings: Any,
    seed: int,
    shared: dict[str, np.ndarray],
    until: Checkpoints | None,
    m: int,
) -> Any:
    """Run a model whose NUTS transitions alternate with its moves (:attr:`BuiltModel.move`).

    The parameter model is compiled as for nutpie (and kept on ``built`` for re-runs); each
    chain gets its own copy and its move; every chain keeps its move's state at no more
    than ``max(8, 2 ceil(m / chains))`` draws, enough for its share of the m imputations.

    Returns
    -------
    SamplerRun
        The trace in nutpie's layout, with the kept states as the group
        :data:`jmimpute.models.protocol.MOVE_STATES`.
    """
    import pymc as pm

    from jmimpute.sampling.numba_callbacks import compile_numba, with_initial_points_of
    from jmimpute.sampling.nuts import SamplerRun

    start = time.perf_counter()
    pm.set_data(shared, model=built.model)
    if built.compiled is None:
        compiled, source = compile_numba(built.model, built.keep)
        built.compiled = compiled
    else:
        compiled, source = with_initial_points_of(built.model, built.compiled), "process"
    known = {var.name for var in compiled.shared_var_keys}
    compiled = compiled.with_data(**{k: v for k, v in shared.items() if k in known})
    compile_seconds = time.perf_counter() - start
    _log.info("compiled the parameter model in %.1f s (%s)", compile_seconds, source)
    base = CompiledTarget(compiled)
    targets = [base.for_chain() for _ in range(settings.chains)]
    moves = [built.move(t) for t in targets]
    starts = [compiled.initial_point_func(seed + c) for c in range(settings.chains)]
    per_chain = -(-m // settings.chains)  # imputations per chain, rounded up
    chain_settings = ChainSettings(
        settings.tune, settings.draws, settings.target_accept, keep=max(8, 2 * per_chain)
    )
    cores = settings.cores or max(1, min(settings.chains, os.cpu_count() or 1))
    _log.info(
        "sampling %d chains of %d warm-up iterations and %s draws on %d threads",
        settings.chains,
        settings.tune,
        settings.draws if until is None else f"{until.first} or more",
        min(cores, settings.chains),
    )
    begun = time.perf_counter()
    chains, checked = run_chains(
        targets, starts, chain_settings, np.random.SeedSequence(seed), moves, cores, until,
        progressbar=settings.progressbar,
    )  # fmt: skip
    sampling_seconds = time.perf_counter() - begun
    trace = to_trace(chains, compiled)
    trace[MOVE_STATES] = xr.DataTree(kept_states(chains))
    return SamplerRun(
        trace, compile_seconds, sampling_seconds, compiled, checked, compiled_from=source
    )


def kept_states(chains: Sequence[Chain]) -> xr.Dataset:
    """Every chain's kept move states, one row per (chain, draw) (states are flat arrays)."""
    rows, chain_of, draw_of = [], [], []
    for c, chain in enumerate(chains):
        for t in sorted(chain.kept.states):
            if t < len(chain.values):
                rows.append(np.ravel(chain.kept.states[t]))
                chain_of.append(c)
                draw_of.append(t)
    return xr.Dataset(
        {"state": (("kept", "state_dim"), np.stack(rows))},
        coords={
            "chain": ("kept", np.array(chain_of, dtype=np.int64)),
            "draw": ("kept", np.array(draw_of, dtype=np.int64)),
        },
    )
