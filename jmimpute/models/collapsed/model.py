"""The collapsed model behind the seam: build, then exact imputations at the retained draws."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from jmimpute.models.joint.model import JointModel, draw_imputations, retained_values
from jmimpute.models.protocol import BuiltModel, ParameterDraws

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.spec.model import ImputationSpec

_log = logging.getLogger("jmimpute")


class CollapsedModel(JointModel):
    """Random effects and missing cells integrated out of NUTS, drawn exactly afterwards.

    The default (``method="collapsed"``): the cost of a gradient does not grow with the
    rows, only with the observed categorical cells whose latent values NUTS samples.
    """

    name = "collapsed"

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """The PyMC model with the compiled likelihood where the backend allows it."""
        from jmimpute.models.collapsed.build import build_collapsed_model

        random = spec.cluster_covariance == "random"
        return build_collapsed_model(
            design,
            spec.priors,
            compiled_kernel=not random and _kernel_usable(spec),
            cluster_covariance=spec.cluster_covariance,
        )

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
        """Draw each imputation from the full conditionals at its retained draw."""
        params = self.retained_params(draws, retained)
        streams = [int(s) for s in retained["stream"].to_numpy()]
        draws_ = draw_imputations(built.design, params, streams, seed, progressbar=progressbar)
        return draws_, retained_values(params, retained)


def _kernel_usable(spec: ImputationSpec) -> bool:
    """The compiled likelihood Op runs everywhere except JAX without the FFI target."""
    if spec.sampler.sampler == "nutpie" and spec.sampler.backend == "jax":
        from jmimpute._kernels.xla_ffi import ffi_available

        if not ffi_available():
            _log.warning(
                "the XLA FFI target is unavailable; using the slower pure PyTensor likelihood"
            )
            return False
    return True
