"""The random streams of the imputations: one per imputation, children of the run's seed.

Imputation ``k`` is drawn from its own stream, so that re-drawing the imputations of a
result (a sensitivity analysis, a subset, a result read from a file) uses the same random
numbers: a zero shift gives the original imputations exactly.
"""

from __future__ import annotations

import numpy as np


def imputation_seeds(random_seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The seeds of the NUTS run and of the imputation streams, from the run's seed."""
    sampler, imputations = np.random.SeedSequence(random_seed).spawn(2)
    return sampler, imputations


def stream_seed(seed: np.random.SeedSequence, stream: int) -> np.random.SeedSequence:
    """Seed of imputation stream ``stream``: always the same child of ``seed``."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(stream)))


def stream_rng(seed: np.random.SeedSequence, stream: int) -> np.random.Generator:
    """The generator of imputation stream ``stream``."""
    return np.random.default_rng(stream_seed(seed, stream))
