"""Chains on threads stop together (sampling/blocked.py): when one fails or is interrupted,
the others stop at their next transition and no thread outlives ``run_chains``.

A chain's failure stands in for Ctrl-C, which reaches only the main thread: both take the
same way out (tests/test_interrupt.py sends a real SIGINT to a whole ``jm.impute``).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pymc as pm
import pytest

from jmimpute.sampling.blocked import ChainRun, ChainSettings, CompiledTarget, Stopped, run_chains
from jmimpute.sampling.numba_callbacks import compile_numba

pytestmark = pytest.mark.filterwarnings("ignore:.*BLAS.*")

LONG = ChainSettings(tune=50, draws=10_000_000, target_accept=0.8)
"""A run that would take hours: the test ends only if the chains are stopped."""


@pytest.fixture(scope="module")
def target() -> CompiledTarget:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("obs", mu, 1.0, observed=np.linspace(-1.0, 1.0, 20))
    compiled, _ = compile_numba(model, ["mu"])
    return CompiledTarget(compiled)


class Failing:
    """A move that counts its draws and, in the failing chain, raises at the ``at``-th.

    The other chains give up at 100 times ``at`` (a watchdog): if stopping were broken the
    test fails there instead of running for hours.
    """

    def __init__(self, error: BaseException | None, at: int = 200) -> None:
        self.error, self.at, self.draws = error, at, 0

    def draw(self, q: np.ndarray, rng: np.random.Generator) -> None:
        self.draws += 1
        if self.error is not None and self.draws == self.at:
            raise self.error
        if self.draws >= 100 * self.at:
            raise AssertionError("this chain was not stopped")

    def state(self) -> np.ndarray:
        return np.zeros(1)


def chain_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("jmimpute-chain")]


@pytest.mark.parametrize("error", [RuntimeError("the move failed"), KeyboardInterrupt()])
def test_one_chain_failing_stops_the_others(target, error):
    moves = [Failing(error), Failing(None), Failing(None)]
    begun = time.perf_counter()
    with pytest.raises(type(error)):
        run_chains(
            [target.for_chain() for _ in moves],
            [target.compiled.initial_point_func(seed) for seed in range(len(moves))],
            LONG,
            np.random.SeedSequence(1),
            moves=moves,
            cores=3,
        )
    assert time.perf_counter() - begun < 30
    assert chain_threads() == []  # ended before the error reached here
    # the other chains stopped soon after (they run about as fast as the failing one)
    assert all(move.draws < 100 * moves[0].at for move in moves[1:]), [m.draws for m in moves]


def test_a_chain_stops_at_its_next_transition_once_told(target):
    stop = threading.Event()
    run = ChainRun(
        target,
        target.compiled.initial_point_func(0),
        LONG,
        np.random.default_rng(0),
        stop=stop,
    )
    run.advance(5)
    stop.set()
    with pytest.raises(Stopped, match=f"stopped after {LONG.tune + 5} iterations"):
        run.advance(10)
