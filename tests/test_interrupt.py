"""Ctrl-C during ``jm.impute`` stops it promptly, with a clear message and no result.

nutpie and PyMC answer Ctrl-C by returning the draws made so far; jmimpute must not take
them for a whole run, and must not leave sampler threads running. The end-to-end tests
run ``jm.impute`` in a child process, send it SIGINT once sampling has begun (its log
says so) and time its exit.
"""

import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import xarray as xr

import jmimpute as jm
from jmimpute.sampling.nuts import _whole

CHILD = textwrap.dedent(
    """
    import logging, os, signal, sys, threading, time
    # as at a terminal: a test run started in the background (`cmd &` from a script, as
    # CI may do) hands its children SIGINT ignored, and Python then keeps it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import jmimpute as jm

    class Started(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("sampling "):
                print("SAMPLING", flush=True)

    log = logging.getLogger("jmimpute")
    log.addHandler(Started())
    log.setLevel(logging.INFO)
    data = jm.datasets.load_brandsma()[["lpo", "sex", "sch"]]
    method, tune, draws = sys.argv[1], 100, 500_000
    formula = "lpo ~ 1 + (1|sch)"
    if method == "augmented":
        data = data.assign(sex=data["sex"].astype("category"))
        formula, draws = "lpo + sex ~ 1 + (1|sch)", 100_000
    elif method == "monitored":  # draws=None: nutpie's run watched from the main thread
        method, tune, draws = "collapsed", 500_000, None
    try:
        jm.impute(data, formula, method=method, chains=2, tune=tune, draws=draws, m=2,
                  random_seed=1, progressbar=False)
    except KeyboardInterrupt:
        def left():
            python = [t.name for t in threading.enumerate() if t.name.startswith("jmimpute")]
            tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else []
            native = []
            for task in tasks:
                try:
                    native.append(open(f"/proc/self/task/{task}/comm").read().strip())
                except OSError:  # ended meanwhile
                    pass
            return python + [name for name in native if name.startswith("nutpie")]

        # jmimpute's chain threads have ended before the KeyboardInterrupt gets here;
        # nutpie's end a moment after it cancels them (they finish their current draw)
        deadline = time.monotonic() + 2
        while left() and time.monotonic() < deadline:
            time.sleep(0.01)
        print("LEFT", left(), flush=True)
        raise
    print("FINISHED", flush=True)
    """
)
STARTUP_SECONDS = 300
"""Import, build and compile before sampling starts: seconds on a warm Numba cache, over a
minute for the augmented model's compile on a cold one."""
EXIT_SECONDS = 10
"""Ctrl-C to exit: the chains stop at their next transition (milliseconds here); the rest
is the interpreter's shutdown on a loaded machine."""


def lines_of(stream) -> queue.Queue:
    """The lines of ``stream``, read on a thread so that waiting for one can time out."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def interrupted_impute(method: str, tmp_path) -> tuple[int, float, list[str], str]:
    """Exit code, seconds from SIGINT to exit, stdout lines and stderr of the child."""
    with (
        open(tmp_path / "stderr", "w+") as stderr,
        subprocess.Popen(
            [sys.executable, "-c", CHILD, method],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as child,
    ):
        try:
            lines, out = lines_of(child.stdout), []
            deadline = time.monotonic() + STARTUP_SECONDS
            while "SAMPLING" not in out:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
                assert line is not None, "the child ended before sampling"
                out.append(line)
            time.sleep(1.0)  # into the chains' transitions (nutpie: its threads' wait)
            assert child.poll() is None, "sampling ended before the interrupt"
            child.send_signal(signal.SIGINT)
            sent = time.monotonic()
            code = child.wait(timeout=60)
            seconds = time.monotonic() - sent
            while (line := lines.get(timeout=10)) is not None:
                out.append(line)
        finally:
            if child.poll() is None:
                child.kill()
        stderr.seek(0)
        return code, seconds, out, stderr.read()


@pytest.mark.parametrize(
    "method",
    [
        "collapsed",  # nutpie, waited on in Rust
        "augmented",  # jmimpute's chains on Python threads (sampling/blocked.py)
        pytest.param("monitored", marks=pytest.mark.slow),  # the same stop as "collapsed"
    ],
)
def test_ctrl_c_during_sampling_stops_with_a_clear_message(method, tmp_path):
    code, seconds, out, stderr = interrupted_impute(method, tmp_path)
    assert code != 0 and "FINISHED" not in out, (code, out, stderr[-2000:])
    assert seconds < EXIT_SECONDS, f"{seconds:.1f} s from Ctrl-C to exit"
    assert "KeyboardInterrupt: interrupted: jm.impute stopped after" in stderr, stderr[-2000:]
    assert "no result was made" in stderr
    assert "LEFT []" in out, out  # no chain thread of jmimpute or nutpie still running


def test_the_interrupt_says_nothing_was_kept(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("PyMC stopped after 12 of 1000 draws per chain (interrupted)")

    monkeypatch.setattr("jmimpute.pipeline.sample", interrupted)
    with pytest.raises(KeyboardInterrupt) as raised:
        jm.impute(jm.datasets.load_brandsma(), "lpo ~ 1 + (1|sch)", progressbar=False)
    message = str(raised.value)
    assert message.startswith("interrupted: jm.impute stopped after")
    assert "(PyMC stopped after 12 of 1000 draws per chain (interrupted))" in message
    assert "no result was made" in message and "Call jm.impute again" in message


def trace_of(draws: int) -> xr.DataTree:
    posterior = xr.Dataset({"mu": (("chain", "draw"), np.zeros((2, draws)))})
    return xr.DataTree.from_dict({"posterior": posterior})


def test_a_partial_trace_is_not_taken_for_a_whole_one():
    """PyMC and nutpie return what they have when interrupted: fewer draws than asked."""
    assert _whole(trace_of(50), 50, "PyMC").equals(trace_of(50))
    with pytest.raises(KeyboardInterrupt, match="PyMC stopped after 20 of 50 draws per chain"):
        _whole(trace_of(20), 50, "PyMC")
    with pytest.raises(KeyboardInterrupt, match="after 0 of 50"):
        _whole(xr.DataTree(), 50, "PyMC")
