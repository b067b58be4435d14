"""Compile at set-up what later imputations reuse: ``python -m jmimpute.warmup``.

``make setup`` runs this once. On a fresh machine the first imputation otherwise compiles
everything: the collapsed kernel (its Numba code, cached beside the package), the Numba
code of each PyTensor operation of the model (cached by PyTensor, shared by every model
that uses the operation) and the model's own functions and callbacks (cached per model
structure, :mod:`jmimpute.sampling.numba_callbacks`). This compiles the kernel and imputes
the bundled brandsma data with a few common structures (continuous targets; a binary
level-1 and a nominal level-2 target), so that their models, and the operations other
structures share with them, are on disk. ``benchmarks/bench_compile.py --cold`` measures
what it saves.
"""

from __future__ import annotations

import logging
import time
import warnings

_log = logging.getLogger("jmimpute")

STRUCTURES: tuple[tuple[str | list[str], list[str] | None], ...] = (
    ("lpo + iqv ~ 1 + (1|sch)", None),
    (["lpo + iqv + sex ~ 1 + (1|sch)", "den ~ 1"], ["sex", "den"]),
)
"""The formulas (with their categorical targets) imputed on brandsma at set-up."""


def warm_up() -> float:
    """Compile the kernel and the models of :data:`STRUCTURES`; return the seconds taken."""
    start = time.perf_counter()
    import jmimpute as jm
    from jmimpute._kernels.entry import entry_symbol  # compiled (or loaded) on import

    entry_symbol()
    _log.info("compiled the collapsed kernel in %.0f s", time.perf_counter() - start)
    data = jm.datasets.load_brandsma()
    for formula, categorical in STRUCTURES:
        begun = time.perf_counter()
        level = _log.level
        # a few draws: only the compile is wanted, so the convergence verdict is not said
        _log.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", jm.ConvergenceWarning)
                imp = jm.impute(
                    data, formula, categorical=categorical, m=1, chains=1, draws=10,
                    tune=10, random_seed=1, progressbar=False,
                )  # fmt: skip
        finally:
            _log.setLevel(level)
        _log.info(
            "the model of %s: %.0f s (compiled model from: %s)",
            formula,
            time.perf_counter() - begun,
            imp.tree.attrs["compiled_from"],
        )
    return time.perf_counter() - start


def main() -> None:
    """Run :func:`warm_up`, logging each step."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    _log.setLevel(logging.INFO)
    _log.info("warm-up done in %.0f s", warm_up())


if __name__ == "__main__":
    main()
