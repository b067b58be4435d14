"""Checkpoints: draws per chain decided while nutpie samples, and the run stopped early."""

import numpy as np
import pymc as pm
import pytest

from jmimpute.sampling.nuts import (
    Checkpoints,
    first_draws,
    judged_in_one_run,
    run_sampler,
)
from jmimpute.spec.model import SamplerSettings


@pytest.fixture(scope="module")
def normal_model():
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0, shape=20)
        pm.HalfNormal("s", 1.0)
    return model


def _settings(**kwargs):
    return SamplerSettings(**{"chains": 3, "tune": 100, "draws": 50, "progressbar": False} | kwargs)


@pytest.mark.parametrize("names", [("x", "s"), None])
def test_one_run_is_watched_and_stopped_at_the_accepted_checkpoint(normal_model, names):
    """The judge sees the first n draws of every chain, complete; the run stops there.

    ``names``: the judge reads ``x`` from nutpie's raw Arrow store, or the whole trace
    through nutpie's public reader. ``most`` is 10^7 draws per chain, which would take
    minutes on this model; a result within 60 s and with 120 draws means the run was cut,
    not finished.
    """
    seen, views = [], []

    def judge(trace):
        x = trace["posterior"]["x"].values
        seen.append((x.shape, bool(np.isfinite(x).all())))
        views.append(x)
        assert trace["posterior"]["s"].shape == x.shape[:2]  # a scalar: (chain, draw)
        return 120 if x.shape[1] < 120 else None

    settings = _settings()
    assert judged_in_one_run(settings)  # Numba, cores not given: a thread per chain
    run = run_sampler(normal_model, settings, 3, until=Checkpoints(50, 10**7, judge, names))
    assert seen == [((3, 50, 20), True), ((3, 120, 20), True)]
    for view in views:  # what the judge saw is what was kept
        np.testing.assert_array_equal(view, run.trace["posterior"]["x"].values[:, : view.shape[1]])
    assert run.checkpoints == (50, 120) and run.runs == 1
    assert run.trace["posterior"].sizes["draw"] == 120
    assert run.trace["sample_stats"].sizes["draw"] == 120
    assert run.sampling_seconds < 60

    # the same draws as a run asked for 120 draws from the start
    fixed = run_sampler(normal_model, _settings(draws=120), 3, compiled=run.compiled)
    whole = run_sampler(
        normal_model,
        _settings(cores=1),
        3,
        compiled=run.compiled,
        until=Checkpoints(50, 200, judge),
    )
    assert whole.checkpoints == (50, 120) and whole.runs == 2  # one thread: a run each
    for other in (fixed, whole):
        np.testing.assert_array_equal(
            run.trace["posterior"]["x"].values, other.trace["posterior"]["x"].values[:, :120]
        )


def test_the_last_checkpoint_is_the_cap(normal_model):
    """A judge that never accepts gets the draws at ``most`` and no further say."""
    calls = []

    def judge(trace):
        calls.append(trace["posterior"].sizes["draw"])
        return 10**6

    run = run_sampler(normal_model, _settings(), 5, until=Checkpoints(40, 90, judge))
    assert calls == [40]
    assert run.checkpoints == (40, 90)
    assert run.trace["posterior"].sizes["draw"] == 90


def test_fewer_threads_than_chains_means_a_run_per_checkpoint():
    assert not judged_in_one_run(_settings(cores=2))  # 3 chains
    assert judged_in_one_run(_settings(cores=3))
    assert not judged_in_one_run(_settings(backend="jax"))  # one thread by default
    assert not judged_in_one_run(_settings(sampler="pymc"))


def test_first_draws_cuts_every_group(normal_model):
    run = run_sampler(normal_model, _settings(), 1)
    cut = first_draws(run.trace, 7)
    assert cut["posterior"].sizes["draw"] == 7 and cut["sample_stats"].sizes["draw"] == 7
    np.testing.assert_array_equal(
        cut["posterior"]["x"].values, run.trace["posterior"]["x"].values[:, :7]
    )
