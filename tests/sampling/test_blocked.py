"""NUTS on a compiled model, one transition at a time (sampling/blocked.py).

Two checks of the posterior, each with Monte Carlo tolerances (4 s.e. from the draws' own
ESS): a model sampled by this driver against the same compiled model sampled by nutpie,
and data augmentation (a move that redraws missing values given the parameters between
transitions) against the posterior given the observed values only, which it must reach.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from arviz_stats.base import array_stats

from jmimpute.sampling.blocked import (
    ChainSettings,
    CompiledTarget,
    ThinnedStates,
    run_chains,
    to_trace,
)
from jmimpute.sampling.numba_callbacks import compile_numba
from jmimpute.sampling.nuts import Checkpoints

pytestmark = pytest.mark.filterwarnings("ignore:.*BLAS.*")


def _ess(x: np.ndarray) -> float:
    return float(array_stats.ess(x, chain_axis=0, draw_axis=1, method="bulk"))


def _mcse(x: np.ndarray) -> float:
    return float(x.std() / np.sqrt(_ess(x)))


def _normal_model(y: np.ndarray) -> pm.Model:
    with pm.Model() as model:
        data = pm.Data("y", y)
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("obs", mu, sigma, observed=data)
    return model


def _starts(target: CompiledTarget, n: int) -> list[np.ndarray]:
    return [target.compiled.initial_point_func(seed) for seed in range(n)]


def test_matches_nutpie_on_the_same_compiled_model():
    import nutpie

    y = np.random.default_rng(1).normal(1.0, 2.0, size=40)
    compiled, _ = compile_numba(_normal_model(y), ["mu", "sigma"])
    target = CompiledTarget(compiled)
    settings = ChainSettings(tune=500, draws=1000, target_accept=0.8)
    chains, _ = run_chains(
        [target.for_chain() for _ in range(4)],
        _starts(target, 4),
        settings,
        np.random.SeedSequence(3),
        cores=2,
    )
    ours = to_trace(chains, compiled)["posterior"].dataset
    theirs = nutpie.sample(compiled, chains=4, tune=500, draws=1000, seed=3, progress_bar=False)
    theirs = theirs["posterior"].dataset
    for name in ("mu", "sigma"):
        a, b = ours[name].to_numpy(), theirs[name].to_numpy()
        z = (a.mean() - b.mean()) / np.hypot(_mcse(a), _mcse(b))
        assert abs(z) < 4.0, (name, a.mean(), b.mean())
        # sds: the sd of the draws differs by more than 4 of its s.e. (about sd/sqrt(2 ESS))
        se_sd = np.hypot(a.std() / np.sqrt(2 * _ess(a)), b.std() / np.sqrt(2 * _ess(b)))
        assert abs(a.std() - b.std()) < 4.0 * se_sd, (name, a.std(), b.std())
    stats = to_trace(chains, compiled)["sample_stats"].dataset
    assert not bool(stats["diverging"].any())
    assert set(stats.sizes) == {"chain", "draw"} and stats.sizes["draw"] == 1000


class _MissingY:
    """Draws the missing ``y`` given ``mu`` (known sd 1) into the chain's shared data."""

    def __init__(self, target: CompiledTarget, missing: np.ndarray) -> None:
        self.y = target.shared("y")
        self.missing = missing

    def draw(self, q: np.ndarray, rng: np.random.Generator) -> None:
        self.y[self.missing] = q[0] + rng.standard_normal(self.missing.sum())

    def state(self) -> np.ndarray:
        return self.y[self.missing].copy()


def test_data_augmentation_reaches_the_observed_data_posterior():
    """y_i ~ N(mu, 1), mu ~ N(0, 10), 60% of y missing and redrawn between transitions:
    mu's posterior is the one given the observed values, N(sum y_obs / (n_obs + 0.01),
    1 / (n_obs + 0.01))."""
    rng = np.random.default_rng(7)
    y = rng.normal(2.0, 1.0, size=50)
    missing = rng.random(50) < 0.6
    with pm.Model() as model:
        data = pm.Data("y", np.where(missing, 0.0, y))
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("obs", mu, 1.0, observed=data)
    compiled, _ = compile_numba(model, ["mu"])
    base = CompiledTarget(compiled)
    targets = [base.for_chain() for _ in range(4)]
    moves = [_MissingY(t, missing) for t in targets]
    chains, _ = run_chains(
        targets,
        _starts(base, 4),
        ChainSettings(tune=500, draws=1500, target_accept=0.8, keep=6),
        np.random.SeedSequence(11),
        moves=moves,
        cores=2,
    )
    mu_draws = to_trace(chains, compiled)["posterior"].dataset["mu"].to_numpy()
    precision = (~missing).sum() + 0.01
    mean, sd = y[~missing].sum() / precision, 1.0 / np.sqrt(precision)
    assert abs(mu_draws.mean() - mean) < 4.0 * _mcse(mu_draws)
    se_sd = mu_draws.std() / np.sqrt(2 * _ess(mu_draws))
    assert abs(mu_draws.std() - sd) < 4.0 * se_sd
    # each chain kept at most 6 of the move's states, evenly over its draws, its own ones
    for chain in chains:
        kept = sorted(chain.kept.states)
        stride = chain.kept.stride
        assert len(kept) <= 6 and kept == list(range(0, 1500, stride))[: len(kept)]
        assert kept[-1] + 2 * stride > 1500  # they reach the end of the chain
    assert not np.array_equal(chains[0].kept.states[0], chains[1].kept.states[0])


def test_chains_are_seeded():
    y = np.random.default_rng(2).normal(size=20)
    compiled, _ = compile_numba(_normal_model(y), ["mu", "sigma"])
    target = CompiledTarget(compiled)
    settings = ChainSettings(tune=60, draws=30, target_accept=0.8)

    def run(cores):
        chains, _ = run_chains(
            [target.for_chain() for _ in range(2)],
            _starts(target, 2),
            settings,
            np.random.SeedSequence(5),
            cores=cores,
        )
        return np.stack([np.stack(c.values) for c in chains])

    np.testing.assert_array_equal(run(1), run(2))


def test_shared_copies_are_per_chain():
    compiled, _ = compile_numba(_normal_model(np.zeros(5)), ["mu", "sigma"])
    a, b = CompiledTarget(compiled).for_chain(), CompiledTarget(compiled).for_chain()
    a.shared("y")[:] = 100.0
    assert np.all(b.shared("y") == 0.0)
    q = np.zeros(a.n_dim)
    assert a(q)[0] < b(q)[0]  # a's callback reads a's data
    with pytest.raises(KeyError, match="no shared value 'nope'"):
        a.shared("nope")


def test_thinned_states_span_the_chain_in_bounded_memory():
    class Counter:
        def __init__(self):
            self.t = -1

        def draw(self, q, rng):
            pass

        def state(self):
            return self.t

    kept, move = ThinnedStates(4), Counter()
    for t in range(1000):
        move.t = t
        kept.offer(t, move)
    assert len(kept.states) <= 4
    assert sorted(kept.states) == [0, 256, 512, 768] and kept.stride == 256
    assert all(kept.states[t] == t for t in kept.states)


def test_checkpoints_stop_when_the_judge_accepts(capsys):
    y = np.random.default_rng(4).normal(size=30)
    compiled, _ = compile_numba(_normal_model(y), ["mu", "sigma"])
    target = CompiledTarget(compiled)
    seen = []

    def judge(trace):
        draws = trace["posterior"].sizes["draw"]
        seen.append(draws)
        return None if draws >= 300 else draws + 200

    chains, checked = run_chains(
        [target.for_chain() for _ in range(2)],
        _starts(target, 2),
        ChainSettings(tune=100, draws=0, target_accept=0.8),
        np.random.SeedSequence(2),
        until=Checkpoints(first=100, most=1000, judge=judge),
        progressbar=True,
    )
    assert checked == (100, 300) and seen == [100, 300]
    assert all(len(c.values) == 300 for c in chains)
    # one bar for both chains, its total raised with the checkpoint: 2 x (100 + 300)
    assert "800/800" in capsys.readouterr().err
