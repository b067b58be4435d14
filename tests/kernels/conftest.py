"""The likelihood tests' small random problems, one fixture per configuration."""

import pytest

from ..problems import CONFIGS, make_problem


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def problem(request):
    return make_problem(seed=len(request.param), empty_cluster=True, **CONFIGS[request.param])
