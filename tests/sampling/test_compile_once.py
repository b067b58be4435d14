"""Compile once: disk-cached callbacks, the design as shared data, reuse across data sets."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings

import numpy as np
import pymc as pm
import pytest

import jmimpute as jm
from jmimpute.diagnostics import ConvergenceWarning
from jmimpute.sampling.numba_callbacks import cacheable, compile_numba
from jmimpute.sampling.reuse import COMPILED

pytestmark = pytest.mark.skipif(not cacheable(), reason="nutpie series not supported")

REUSED = "reusing the compiled model of other data with the same structure"


def _toy(values: np.ndarray) -> pm.Model:
    with pm.Model() as model:
        data = pm.Data("obs", values)
        mu = pm.Normal("mu", 0.0, 2.0, shape=2)
        sd = pm.HalfNormal("sd", 1.0)
        pm.Deterministic("mu_sum", mu.sum())
        pm.Normal("y", mu[0] + mu[1], sd, observed=data)
    return model


def _draws(compiled, seed: int = 3) -> dict[str, np.ndarray]:
    import nutpie

    trace = nutpie.sample(compiled, chains=2, draws=60, tune=60, seed=seed, progress_bar=False)
    post = trace["posterior"]
    return {name: post[name].to_numpy() for name in ("mu", "sd", "mu_sum")}


def test_cached_callbacks_sample_what_nutpie_samples() -> None:
    """The same draws, bit for bit, as nutpie's own compile, before and after new data."""
    import nutpie

    rng = np.random.default_rng(0)
    model = _toy(rng.normal(1.0, 1.0, 30))
    ours, _ = compile_numba(model)
    theirs = nutpie.compile_pymc_model(model, backend="numba")
    for a, b in zip(_draws(ours).values(), _draws(theirs).values(), strict=True):
        np.testing.assert_array_equal(a, b)
    new = rng.normal(-2.0, 0.5, 45)  # another length: shared data keep only their rank
    for a, b in zip(
        _draws(ours.with_data(obs=new)).values(),
        _draws(theirs.with_data(obs=new)).values(),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


_SUBPROCESS = """
import json, logging, numpy as np, pymc as pm
from jmimpute.sampling.numba_callbacks import compile_numba
logging.basicConfig(level=logging.WARNING)
logging.getLogger("jmimpute").setLevel(logging.DEBUG)
with pm.Model() as model:
    data = pm.Data("obs", np.arange(5.0))
    mu = pm.Normal("mu", 0.0, 3.0)
    pm.Normal("y", mu, 1.7, observed=data)
compiled, _ = compile_numba(model)
print(json.dumps([compiled.compiled_logp_func._cache_hits,
                  compiled.compiled_expand_func._cache_hits]))
"""


def test_a_second_process_loads_the_callbacks_from_disk() -> None:
    """Numba's cache of the callbacks is hit in a new process (nutpie's closures never are)."""

    def run() -> tuple[list[int], str]:
        done = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS], capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr

    run()  # writes the caches if this graph was never compiled here
    hits, log = run()
    assert hits == [1, 1]
    assert "the compiled model came from its record" in log


_BRANDSMA = """
import json, warnings
import jmimpute as jm
warnings.simplefilter("ignore")
imp = jm.impute(jm.datasets.load_brandsma(), "lpo + iqv ~ 1 + (1|sch)", m=2, chains=2,
                draws=100, tune=100, random_seed=2, progressbar=False)
print(json.dumps({"from": imp.tree.attrs["compiled_from"],
                  "beta": imp.posterior["beta"].to_numpy().ravel().tolist()}))
"""


def test_a_new_process_loads_a_real_model_from_disk_and_samples_alike() -> None:
    """brandsma (the compiled kernel's Op included) in two new processes: the second takes
    the whole compiled model from disk, and its draws equal the first's."""

    def run() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", _BRANDSMA], capture_output=True, text=True, check=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert second["from"] == "disk"
    assert first["beta"] == second["beta"]


def test_a_record_whose_callbacks_are_gone_falls_back_to_a_compile(monkeypatch) -> None:
    """A record pointing at callbacks no longer in Numba's cache costs a compile, not a crash."""
    from jmimpute.sampling import numba_callbacks

    model = _toy(np.arange(4.0))
    good, _ = compile_numba(model)
    real = numba_callbacks._read_record

    def stale(key: str):
        record = real(key)
        assert record is not None  # written by the compile above
        return record | {"logp_key": "jmimpute-nutpie-logp-gone", "expand_key": "gone"}

    monkeypatch.setattr(numba_callbacks, "_read_record", stale)
    again, source = compile_numba(model)
    assert source == "compiled"
    for a, b in zip(_draws(good).values(), _draws(again).values(), strict=True):
        np.testing.assert_array_equal(a, b)


def _halves(seed: int):
    data = jm.datasets.load_brandsma()
    schools = data["sch"].unique()
    rng = np.random.default_rng(seed)
    first = rng.choice(schools, size=schools.size // 2, replace=False)
    return data[data["sch"].isin(first)], data[~data["sch"].isin(first)]


def _impute(data, formula: str = "lpo + iqv ~ 1 + (1|sch)", priors=None):
    # short runs: convergence is not what these tests are about
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return jm.impute(
            data, formula, m=2, draws=150, tune=150, chains=2, random_seed=4,
            progressbar=False, priors=priors,
        )  # fmt: skip


def test_other_data_of_the_same_structure_reuse_the_compiled_model(caplog) -> None:
    """Other schools, rows and patterns: no compile, and a fresh compile's draws.

    Then a refit with other priors: the initial points read the priors of the model they
    come from, so a compiled model given to another model must take that model's.
    """
    first, second = _halves(1)
    tight = jm.Priors(psi_sd=0.05)
    COMPILED.clear()
    _impute(first)
    with caplog.at_level(logging.INFO, logger="jmimpute"):
        taken = _impute(second)
    assert REUSED in caplog.text
    assert taken.tree.attrs["compiled_from"] == "process"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reused = taken.refit(priors=tight)
    COMPILED.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="jmimpute"):
        fresh = _impute(second, priors=tight)
    assert REUSED not in caplog.text
    np.testing.assert_array_equal(
        reused.posterior["beta"].to_numpy(), fresh.posterior["beta"].to_numpy()
    )
    for a, b in zip(reused.complete("all"), fresh.complete("all"), strict=True):
        assert a.equals(b)


def test_a_graph_that_differs_in_a_constant_is_not_taken() -> None:
    """Same names, shapes and shared data, another constant: the kept model is not given;
    the same graph again is."""
    values = np.arange(4.0)
    COMPILED.clear()
    first = _toy(values)
    compiled, _ = compile_numba(first)
    COMPILED.add(first, "numba", None, compiled)
    with pm.Model() as other:  # _toy with the prior's sd 3 instead of 2
        data = pm.Data("obs", values)
        mu = pm.Normal("mu", 0.0, 3.0, shape=2)
        sd = pm.HalfNormal("sd", 1.0)
        pm.Deterministic("mu_sum", mu.sum())
        pm.Normal("y", mu[0] + mu[1], sd, observed=data)
    assert COMPILED.find(other, "numba", None) is None
    assert COMPILED.find(_toy(values + 1.0), "numba", None) is not None
    COMPILED.clear()


def test_another_structure_is_compiled(caplog) -> None:
    """One target fewer is another graph: the kept model is not taken for it."""
    first, second = _halves(2)
    COMPILED.clear()
    _impute(first)
    with caplog.at_level(logging.INFO, logger="jmimpute"):
        _impute(second, "lpo ~ 1 + (1|sch)")
    assert REUSED not in caplog.text


def test_callbacks_of_other_user_data_layouts_are_not_shared() -> None:
    """The same log density and trace, with one more shared value in the user data: its
    fields move, so the logp callback (which holds their offsets) must be another one,
    and both must sample right. Only the layout differs (same dimension and trace size)."""
    import nutpie

    from jmimpute.sampling import numba_callbacks

    def model(shared_scale: bool) -> pm.Model:
        with pm.Model() as built:
            data = pm.Data("obs", np.linspace(-1.0, 2.0, 7))
            mu = pm.Normal("mu", 0.0, 2.0)
            pm.Normal("y", mu, 1.0, observed=data)
            values = np.array([2.0, 3.0])
            # read by the trace's values only: the logp function is the same in both
            scale = pm.Data("scale", values) if shared_scale else values
            pm.Deterministic("scaled", mu * scale)
        return built

    keys = []
    for shared_scale in (False, True):
        built = model(shared_scale)
        compiled, _ = compile_numba(built)
        found = numba_callbacks._fingerprint(built, None)
        assert found is not None
        record = numba_callbacks._read_record(found[0])
        assert record is not None
        keys.append(record["logp_key"])
        theirs = nutpie.compile_pymc_model(built, backend="numba")
        for a, b in zip(_draws_of(compiled), _draws_of(theirs), strict=True):
            np.testing.assert_array_equal(a, b)
    assert keys[0] != keys[1]


def _draws_of(compiled) -> list[np.ndarray]:
    import nutpie

    trace = nutpie.sample(compiled, chains=2, draws=40, tune=40, seed=5, progress_bar=False)
    return [trace["posterior"][name].to_numpy() for name in trace["posterior"].data_vars]
