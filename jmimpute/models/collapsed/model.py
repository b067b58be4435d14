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

    def check(self, design: Design, spec: ImputationSpec) -> None:
        """The joint model's checks, and a warning where the trace will not fit in memory."""
        super().check(design, spec)
        gigabytes = stored_gigabytes(design, spec)
        if gigabytes > STORE_WARNING_GB:
            _log.warning(
                "method='collapsed' samples and stores every observed category's latent "
                "value at every iteration (warm-up included): about %.0f GB for this run. "
                "method='augmented' keeps them at a few draws only (level-1 binary and "
                "nominal targets, nutpie's Numba backend; jm.impute chooses it where `method` "
                "is not given and the store is larger still); see "
                "docs/design/categorical-at-scale.md",
                gigabytes,
            )

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


STORE_WARNING_GB = 2.0
"""Above this estimate of the trace's memory, :meth:`CollapsedModel.check` warns."""


def stored_gigabytes(design: Design, spec: ImputationSpec) -> float:
    """Memory nutpie takes for the latents of a run: about ``16 L (chains (tune + 2 draws))``.

    Each of the ``L`` observed categorical latents is a free coordinate and a kept value
    (8 bytes each) at every iteration in the store, and the kept draws are copied once
    more into the result (``benchmarks/bench_scale.py --store`` measures it). With
    ``draws=None`` the first checkpoint's draws, a lower bound.
    """
    latent = int(np.count_nonzero(design.level1.latent))
    settings = spec.sampler
    iterations = settings.chains * (settings.tune + 2 * settings.draws)
    return 16.0 * latent * iterations / 1e9


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
