"""The explicit-latent model behind the seam: its imputations are read from the trace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from jmimpute.models.joint.model import PER_UNIT, JointModel, retained_values
from jmimpute.models.latent.names import SAMPLED
from jmimpute.models.protocol import BuiltModel, ParameterDraws

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.spec.model import ImputationSpec


class LatentModel(JointModel):
    """NUTS samples the random effects and the missing cells too (the slow reference).

    Its imputations are the sampled missing values at the retained draws; re-drawn ones
    (a sensitivity analysis) come from the exact full conditionals, as the collapsed
    model's do, so a zero shift equals the sampled ones in distribution only.
    """

    name = "latent"
    per_unit = (*PER_UNIT, *SAMPLED)
    redraw_note: str | None = (
        "method='latent': the sweep re-draws the imputations from their exact full "
        "conditionals, so delta = 0 equals the NUTS-sampled ones in distribution only"
    )

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """The PyMC model with random effects and missing values as free parameters."""
        from jmimpute.models.latent.build import build_latent_model

        return build_latent_model(design, spec.priors, spec.cluster_covariance)

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
        """The sampled missing values at the retained draws."""
        from jmimpute.models.latent.build import read_imputation

        params = self.retained_params(draws, retained)
        chains, draws_at = retained["chain"].to_numpy(), retained["draw"].to_numpy()
        imputations = [
            read_imputation(built.design, trace, p, int(c), int(t))
            for p, c, t in zip(params, chains, draws_at, strict=True)
        ]
        return imputations, retained_values(params, retained)
