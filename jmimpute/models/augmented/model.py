"""The data-augmentation model behind the seam (``method="augmented"``).

The same joint posterior as the collapsed model, sampled another way
(``docs/design/categorical-at-scale.md``): NUTS moves the parameters only, and after
each transition the latent move draws the random effects and every observed category's
latent value exactly (:mod:`jmimpute.models.augmented.move`). The per-row work is done once
per iteration instead of once per gradient, and no value per row is stored per draw: each
chain keeps its latents at a few evenly spaced draws, and the imputations use the kept
draw nearest to each retained one.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from jmimpute.models.joint.model import JointModel, draw_imputations, draw_params, retained_values
from jmimpute.models.protocol import MOVE_STATES, BuiltModel, ParameterDraws

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.spec.model import ImputationSpec


class AugmentedModel(JointModel):
    """Categorical latents drawn by data augmentation, NUTS on the parameters only.

    For level-1 binary and nominal targets (with any continuous ones and continuous
    level-2 targets); memory and the cost of a gradient do not grow with the rows.
    """

    name = "augmented"

    def check(self, design: Design, spec: ImputationSpec) -> None:
        """The joint model's checks, and what this sampler cannot draw (:func:`unsupported`)."""
        super().check(design, spec)
        reason = unsupported(design, spec)
        if reason is not None:
            raise ValueError(reason)

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """The parameter model, with the latent move that alternates with its NUTS steps."""
        from jmimpute.models.augmented.build import build_augmented_model
        from jmimpute.models.augmented.move import LatentMove

        built, latents = build_augmented_model(design, spec.priors)
        built.move = partial(LatentMove, design, latents)
        return built

    def imputations(
        self,
        built: BuiltModel,
        trace: xr.DataTree,
        draws: ParameterDraws,
        retained: xr.Dataset,
        seed: np.random.SeedSequence,
        *,
        progressbar: bool = False,
    ) -> tuple[list[Any], xr.Dataset]:
        """Exact draws at the kept draw of each chain nearest to each retained one."""
        states = trace[MOVE_STATES].dataset
        retained = _nearest_kept(retained, states)
        params = []
        for k, c, t in zip(
            retained["kept"].to_numpy(),
            retained["chain"].to_numpy(),
            retained["draw"].to_numpy(),
            strict=True,
        ):
            values = draws.at(int(c), int(t))
            values["latent_values"] = states["state"].to_numpy()[int(k)]
            params.append(draw_params(values))
        retained = retained.drop_vars("kept")
        streams = [int(s) for s in retained["stream"].to_numpy()]
        draws_ = draw_imputations(built.design, params, streams, seed, progressbar=progressbar)
        return draws_, retained_values(params, retained)


def unsupported(design: Design, spec: ImputationSpec) -> str | None:
    """Why ``method='augmented'`` cannot run this model and design, with the fix; None if it can.

    It runs its own NUTS on the Numba-compiled model, with one covariance for all clusters,
    and the design must be one its sweep draws
    (:func:`jmimpute.models.augmented.build.design_refusal`).
    """
    from jmimpute.models.augmented.build import design_refusal

    settings = spec.sampler
    if settings.sampler != "nutpie" or settings.backend != "numba":
        return (
            "method='augmented' runs its own NUTS on the Numba-compiled model; got "
            f"sampler={settings.sampler!r}, backend={settings.backend!r}. Leave both at "
            "their defaults, or use method='collapsed' for another sampler"
        )
    if spec.cluster_covariance != "common":
        return (
            "method='augmented' needs cluster_covariance='common'; use "
            "method='collapsed' for cluster-specific covariances"
        )
    return design_refusal(design)


def _nearest_kept(retained: xr.Dataset, states: xr.Dataset) -> xr.Dataset:
    """``retained`` moved to kept draws: in its chain, the nearest one not yet used."""
    kept_chain, kept_draw = states["chain"].to_numpy(), states["draw"].to_numpy()
    used: set[int] = set()
    chains, draws, index = [], [], []
    for c, t in zip(retained["chain"].to_numpy(), retained["draw"].to_numpy(), strict=True):
        options = [int(k) for k in np.flatnonzero(kept_chain == c) if int(k) not in used]
        if not options:  # more imputations from a chain than it kept: any unused one
            options = [k for k in range(kept_chain.size) if k not in used]
        k = min(options, key=lambda k: abs(int(kept_draw[k]) - int(t)))
        used.add(k)
        chains.append(int(kept_chain[k]))
        draws.append(int(kept_draw[k]))
        index.append(k)
    return retained.assign_coords(
        chain=("imputation", np.array(chains, dtype=np.int64)),
        draw=("imputation", np.array(draws, dtype=np.int64)),
        kept=("imputation", np.array(index, dtype=np.int64)),
    )
