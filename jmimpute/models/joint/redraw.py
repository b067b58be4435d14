"""The exact draws of the m imputations, kept so that they can be re-drawn with a shift.

:func:`jmimpute.impute` draws the missing cells of each retained posterior draw from their
full conditionals, imputation ``k`` from its own random stream (a child of the run's
seed). A result therefore carries everything a re-draw needs: the retained parameter
draws (``standardised_posterior`` at the ``chain``/``draw`` coordinates of the
``imputations`` group), the latent values of the observed categories at those draws
(saved in the ``imputations`` group), each imputation's stream number (coordinate
``stream``) and the seed (``random_seed``). A sensitivity analysis re-draws them with a
delta adjustment without re-running NUTS: the same streams make a zero shift reproduce the
original imputations exactly, and make the pooled results change smoothly with the shift
(common random numbers). Because each imputation has its own stream, this holds for
results loaded from a file and for subsets too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from jmimpute.design.standardised import Design
from jmimpute.models.collapsed.build import level2_patterns
from jmimpute.models.joint.conditional import Draw, DrawParams, Shift, draw_imputation
from jmimpute.results.tree import SIGMA_CLUSTER


def imputation_seeds(random_seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The seeds of the NUTS run and of the imputation streams, from the run's seed."""
    sampler, imputations = np.random.SeedSequence(random_seed).spawn(2)
    return sampler, imputations


def stream_seed(seed: np.random.SeedSequence, stream: int) -> np.random.SeedSequence:
    """Seed of imputation stream ``stream``: always the same child of ``seed``."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(stream)))


@dataclass(frozen=True, eq=False)
class RedrawState:
    """What re-drawing the imputations of a result needs.

    Attributes
    ----------
    design : Design
    params : tuple of DrawParams
        The retained posterior draws, in imputation order.
    streams : tuple of int
        The random stream of each imputation.
    l2_masks, l2_pattern : ndarray
        Level-2 observed patterns (:func:`jmimpute.models.collapsed.build.level2_patterns`).
    seed : numpy.random.SeedSequence
        Parent seed of the streams.
    """

    design: Design
    params: tuple[DrawParams, ...]
    streams: tuple[int, ...]
    l2_masks: np.ndarray
    l2_pattern: np.ndarray
    seed: np.random.SeedSequence

    def draw(self, shift: Shift | None = None, *, progressbar: bool = False) -> list[Draw]:
        """Draw the imputations, optionally delta-adjusted by ``shift``."""
        return draw_imputations(
            self.design,
            self.params,
            self.streams,
            self.l2_masks,
            self.l2_pattern,
            self.seed,
            shift=shift,
            progressbar=progressbar,
        )

    @classmethod
    def from_tree(cls, design: Design, tree: xr.DataTree) -> RedrawState:
        """Rebuild the state from a result's DataTree (e.g. one loaded from a file).

        Raises
        ------
        ValueError
            If the tree lacks what a re-draw needs (a file from an older jmimpute).
        """
        cells = tree["imputations"].dataset
        seed = tree.attrs.get("random_seed")
        if "stream" not in cells.coords or seed is None:
            raise ValueError(
                "this result does not record the random streams of its imputations (it was "
                "saved by an older jmimpute), so it cannot be re-drawn; run jm.impute again"
            )
        std = tree["standardised_posterior"].dataset

        def at(name: str, c: int, t: int) -> np.ndarray:
            return std[name].isel(chain=c, draw=t).to_numpy()

        def latents(name: str, k: int) -> np.ndarray:
            return cells[name].isel(imputation=k).to_numpy() if name in cells else np.zeros(0)

        thresholds = [str(n) for n in std.data_vars if str(n).startswith("thresholds_")]
        params = []
        for k, (c, t) in enumerate(
            zip(cells["chain"].to_numpy(), cells["draw"].to_numpy(), strict=True)
        ):
            params.append(
                DrawParams(
                    beta=at("beta", c, t),
                    sigma=at("sigma", c, t),
                    psi=at("psi", c, t),
                    gamma=at("gamma", c, t) if "gamma" in std else None,
                    thresholds={n.removeprefix("thresholds_"): at(n, c, t) for n in thresholds},
                    latent=latents("latent_values", k),
                    latent2=latents("latent2_values", k),
                    sigma_cluster=(
                        cells[SIGMA_CLUSTER].isel(imputation=k).to_numpy()
                        if SIGMA_CLUSTER in cells
                        else None
                    ),
                )
            )
        masks, pattern = level2_patterns(design)
        return cls(
            design=design,
            params=tuple(params),
            streams=tuple(int(s) for s in cells["stream"].to_numpy()),
            l2_masks=masks,
            l2_pattern=pattern,
            seed=imputation_seeds(int(seed))[1],
        )


def owned(params: DrawParams) -> DrawParams:
    """A copy of one draw that holds no view into the arrays of all draws (so they can go)."""
    return DrawParams(
        beta=params.beta.copy(),
        sigma=params.sigma.copy(),
        sigma_cluster=None if params.sigma_cluster is None else params.sigma_cluster.copy(),
        psi=params.psi.copy(),
        gamma=None if params.gamma is None else params.gamma.copy(),
        thresholds={k: v.copy() for k, v in params.thresholds.items()},
        latent=params.latent.copy(),
        latent2=params.latent2.copy(),
    )


def draw_imputations(
    design: Design,
    params: Sequence[DrawParams],
    streams: Sequence[int],
    l2_masks: np.ndarray,
    l2_pattern: np.ndarray,
    seed: np.random.SeedSequence,
    *,
    shift: Shift | None = None,
    progressbar: bool = False,
) -> list[Draw]:
    """The imputations of the given parameter draws, each from its stream of ``seed``.

    The only place the streams are created, so that :func:`jmimpute.impute` and the
    sensitivity analyses draw the same random numbers.
    """
    pairs = tqdm(
        zip(params, streams, strict=True),
        total=len(params),
        desc="imputations",
        disable=not progressbar,
        leave=False,
    )
    return [
        draw_imputation(
            design, p, l2_masks, l2_pattern, np.random.default_rng(stream_seed(seed, k)), shift
        )
        for p, k in pairs
    ]
