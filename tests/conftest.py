"""Shared test options: the `slow` marker runs only with --runslow."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="run sampling-heavy tests"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="sampling-heavy: run with --runslow (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def brandsma_imputation():
    """brandsma `lpo + iqv ~ 1 + (1|sch)` imputed once per test session (defaults, m = 20)."""
    import jmimpute as jm

    data = jm.datasets.load_brandsma()
    return jm.impute(data, "lpo + iqv ~ 1 + (1|sch)", m=20, random_seed=1, progressbar=False)
