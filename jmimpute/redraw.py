"""The exact draws of the m imputations, kept so that they can be re-drawn with a shift.

:func:`jmimpute.impute` draws the missing cells of each retained posterior draw from their
full conditionals with one random stream (see :mod:`jmimpute.backend.conditional`).
Keeping the design, the m retained parameter draws and the stream's seed lets a
sensitivity analysis re-draw them with a delta adjustment without re-running NUTS: the
same stream makes a zero shift reproduce the original imputations exactly, and makes the
pooled results change smoothly with the shift (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from jmimpute.backend.conditional import Draw, DrawParams, Shift, draw_imputation
from jmimpute.design import Design


@dataclass(frozen=True, eq=False)
class RedrawState:
    """What re-drawing the imputations of a collapsed-model run needs.

    Attributes
    ----------
    design : Design
    params : tuple of DrawParams
        The m retained posterior draws, in imputation order.
    l2_masks, l2_pattern : ndarray
        Level-2 observed patterns (:func:`jmimpute.backend.model.level2_patterns`).
    seed : numpy.random.SeedSequence
        Seed of the random stream of the exact draws.
    """

    design: Design
    params: tuple[DrawParams, ...]
    l2_masks: np.ndarray
    l2_pattern: np.ndarray
    seed: np.random.SeedSequence

    def draw(self, shift: Shift | None = None, *, progressbar: bool = False) -> list[Draw]:
        """Draw the m imputations, optionally delta-adjusted by ``shift``."""
        return draw_imputations(
            self.design,
            self.params,
            self.l2_masks,
            self.l2_pattern,
            self.seed,
            shift=shift,
            progressbar=progressbar,
        )


def owned(params: DrawParams) -> DrawParams:
    """A copy of one draw that holds no view into the arrays of all draws (so they can go)."""
    return DrawParams(
        beta=params.beta.copy(),
        sigma=params.sigma.copy(),
        psi=params.psi.copy(),
        gamma=None if params.gamma is None else params.gamma.copy(),
        thresholds={k: v.copy() for k, v in params.thresholds.items()},
        latent=params.latent.copy(),
        latent2=params.latent2.copy(),
    )


def draw_imputations(
    design: Design,
    params: tuple[DrawParams, ...] | list[DrawParams],
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
    seed: np.random.SeedSequence,
    *,
    shift: Shift | None = None,
    progressbar: bool = False,
) -> list[Draw]:
    """The imputations of the given parameter draws, in order, from one stream seeded by ``seed``.

    The only place the stream is created, so that :func:`jmimpute.impute` and the
    sensitivity analyses draw the same random numbers.
    """
    rng = np.random.default_rng(seed)  # a SeedSequence always starts the same stream
    return [
        draw_imputation(design, p, l2_masks, l2_pattern, rng, shift)
        for p in tqdm(params, desc="imputations", disable=not progressbar, leave=False)
    ]
