"""Shared test options: `slow` runs only with --runslow, `notebooks` only with --notebooks."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="run sampling-heavy tests"
    )
    parser.addoption(
        "--notebooks",
        action="store_true",
        default=False,
        help="execute the example notebooks in examples/",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {
        "slow": (
            config.getoption("--runslow"),
            "sampling-heavy: run with --runslow (make test-slow)",
        ),
        "notebooks": (
            config.getoption("--notebooks"),
            "executes notebooks: run with --notebooks (make test-notebooks)",
        ),
    }
    for marker, (enabled, reason) in skips.items():
        if enabled:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def brandsma_imputation():
    """brandsma `lpo + iqv ~ 1 + (1|sch)` imputed once per test session (defaults, m = 20)."""
    import jmimpute as jm

    data = jm.datasets.load_brandsma()
    return jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=20, random_seed=1, progressbar=False)


@pytest.fixture(scope="session")
def joint_sim():
    """The full joint model's simulation (categorical, ordinal and level-2 targets)."""
    from jmimpute.testing import simulate_joint

    return simulate_joint(n_clusters=80, cluster_size=15, missing_rate=0.15, seed=3)


@pytest.fixture(scope="session")
def joint_short(joint_sim):
    """A short run of the full joint model (no convergence needed): (data before, result)."""
    import warnings

    import jmimpute as jm

    before = joint_sim.data.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jm.ConvergenceWarning)
        imp = jm.impute(
            joint_sim.data, joint_sim.formula, m=4, chains=2, tune=150, draws=100,
            random_seed=11, progressbar=False,
        )  # fmt: skip
    return before, imp
