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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import xarray as xr

from jmimpute.sampling.adapt import Warmup, initial_step_size
from jmimpute.sampling.hmc import Nuts, State, TransitionStats

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

    The driver keeps the move's state at the retained draws only.
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
    """How each chain runs (the subset of :class:`~jmimpute.spec.model.SamplerSettings`)."""

    tune: int
    draws: int
    target_accept: float
    max_depth: int = 10


@dataclass
class Chain:
    """One chain's draws: kept values per draw, transition stats, the moves' kept states."""

    values: np.ndarray
    stats: list[TransitionStats]
    step_size: float
    kept_states: dict[int, Any] = field(default_factory=dict)


def run_chain(
    target: CompiledTarget,
    start: np.ndarray,
    settings: ChainSettings,
    rng: np.random.Generator,
    move: Move | None = None,
    keep_states: Sequence[int] = (),
) -> Chain:
    """Warm up and sample one chain; ``move`` after every transition (warm-up included).

    ``keep_states`` are the draws (0-based, after warm-up) at which the move's state is
    kept: the values the imputations need at their retained draws, and only there.
    """
    nuts = Nuts(target, np.ones(target.n_dim), 1.0, rng, settings.max_depth)
    z = nuts.start(start)
    if not np.isfinite(z.logp):
        raise RuntimeError("the log density is not finite at the chain's initial point")
    nuts.step_size = initial_step_size(nuts, z)
    warm = Warmup(nuts, settings.tune, settings.target_accept)
    wanted = set(keep_states)
    values = np.empty((settings.draws, target.n_expanded))
    stats, kept = [], {}
    for it in range(settings.tune + settings.draws):
        z, st = nuts.transition(z)
        if move is not None:
            move.draw(z.q, rng)
            z = _refreshed(nuts, z)
        if it < settings.tune:
            warm.after(z.q, st.accept)
            continue
        t = it - settings.tune
        values[t] = target.expand(z.q)
        stats.append(st)
        if move is not None and t in wanted:
            kept[t] = move.state()
    return Chain(values, stats, nuts.step_size, kept)


def _refreshed(nuts: Nuts, z: State) -> State:
    """``z`` with the density and gradient of the target's current data."""
    return nuts.start(z.q)


def run_chains(
    targets: Sequence[CompiledTarget],
    starts: Sequence[np.ndarray],
    settings: ChainSettings,
    seed: np.random.SeedSequence,
    moves: Sequence[Move | None] | None = None,
    keep_states: Sequence[Sequence[int]] | None = None,
    cores: int = 1,
) -> list[Chain]:
    """Run one chain per target on ``cores`` threads, chain ``c`` from ``seed``'s child ``c``."""
    n = len(targets)
    rngs = [np.random.default_rng(s) for s in seed.spawn(n)]
    moves = list(moves) if moves is not None else [None] * n
    keep = list(keep_states) if keep_states is not None else [()] * n

    def one(c: int) -> Chain:
        return run_chain(targets[c], starts[c], settings, rngs[c], moves[c], keep[c])

    if cores <= 1 or n == 1:
        return [one(c) for c in range(n)]
    with ThreadPoolExecutor(max_workers=cores) as pool:
        return list(pool.map(one, range(n)))


def to_trace(chains: Sequence[Chain], compiled: Any) -> xr.DataTree:
    """The chains as nutpie's trace: ``posterior`` (kept variables) and ``sample_stats``."""
    names, slices, shapes = compiled.shape_info
    values = np.stack([c.values for c in chains])  # chain, draw, expanded
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
        return np.array([[get(s) for s in c.stats] for c in chains], dtype=dtype)

    sample_stats = xr.Dataset(
        {
            "n_steps": (("chain", "draw"), stat(lambda s: s.n_steps, np.int64)),
            "tree_depth": (("chain", "draw"), stat(lambda s: s.tree_depth, np.int64)),
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
