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

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from jmimpute.models.joint.model import JointModel, draw_imputations, draw_params, retained_values
from jmimpute.models.protocol import BuiltModel, ParameterDraws

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.sampling.nuts import Checkpoints, SamplerRun
    from jmimpute.spec.model import ImputationSpec, SamplerSettings

_log = logging.getLogger("jmimpute")

STATES = "latent_states"
"""The trace group holding each chain's kept latent values (dims ``kept``, ``latent_cell``)."""


class AugmentedModel(JointModel):
    """Categorical latents drawn by data augmentation, NUTS on the parameters only.

    For level-1 binary and nominal targets (with any continuous ones and continuous
    level-2 targets); memory and the cost of a gradient do not grow with the rows.
    """

    name = "augmented"

    def check(self, design: Design, spec: ImputationSpec) -> None:
        """Its own NUTS runs on nutpie's Numba callbacks, with one covariance for all clusters."""
        super().check(design, spec)
        settings = spec.sampler
        if settings.sampler != "nutpie" or settings.backend != "numba":
            raise ValueError(
                "method='augmented' runs its own NUTS on the Numba-compiled model; got "
                f"sampler={settings.sampler!r}, backend={settings.backend!r}. Leave both at "
                "their defaults, or use method='collapsed' for another sampler"
            )
        if spec.cluster_covariance != "common":
            raise ValueError(
                "method='augmented' needs cluster_covariance='common'; use "
                "method='collapsed' for cluster-specific covariances"
            )

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """The parameter model, with this model's sampler attached."""
        from jmimpute.models.augmented.build import build_augmented_model

        built, latents = build_augmented_model(design, spec.priors)
        built.sampler = _Sampler(latents, spec.m)
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
        retained = _nearest_kept(retained, trace[STATES].dataset)
        states = trace[STATES].dataset
        params = []
        for k, c, t in zip(
            retained["kept"].to_numpy(),
            retained["chain"].to_numpy(),
            retained["draw"].to_numpy(),
            strict=True,
        ):
            values = draws.at(int(c), int(t))
            values["latent_values"] = states["latent_values"].to_numpy()[int(k)]
            params.append(draw_params(values))
        retained = retained.drop_vars("kept")
        streams = [int(s) for s in retained["stream"].to_numpy()]
        draws_ = draw_imputations(built.design, params, streams, seed, progressbar=progressbar)
        return draws_, retained_values(params, retained)


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


class _Sampler:
    """The augmented model's sampler (:attr:`BuiltModel.sampler`): NUTS and latent moves."""

    def __init__(self, latents: Any, m: int) -> None:
        self.latents = latents
        self.m = m

    def __call__(
        self,
        built: BuiltModel,
        settings: SamplerSettings,
        seed: int,
        shared: dict[str, np.ndarray],
        until: Checkpoints | None,
    ) -> SamplerRun:
        import pymc as pm

        from jmimpute.models.augmented.move import LatentMove
        from jmimpute.sampling.blocked import ChainSettings, CompiledTarget, run_chains, to_trace
        from jmimpute.sampling.numba_callbacks import compile_numba, with_initial_points_of
        from jmimpute.sampling.nuts import SamplerRun

        start = time.perf_counter()
        pm.set_data(shared, model=built.model)
        compiled, source = (built.compiled, "process") if built.compiled is not None else (None, "")
        if compiled is None:
            compiled, source = compile_numba(built.model, built.keep)
            built.compiled = compiled
        else:
            compiled = with_initial_points_of(built.model, compiled)
        known = {var.name for var in compiled.shared_var_keys}
        compiled = compiled.with_data(**{k: v for k, v in shared.items() if k in known})
        compile_seconds = time.perf_counter() - start
        _log.info("compiled the parameter model in %.1f s (%s)", compile_seconds, source)
        base = CompiledTarget(compiled)
        targets = [base.for_chain() for _ in range(settings.chains)]
        moves = [LatentMove(built.design, self.latents, t) for t in targets]
        starts = [compiled.initial_point_func(seed + c) for c in range(settings.chains)]
        per_chain = -(-self.m // settings.chains)  # imputations per chain, rounded up
        chain_settings = ChainSettings(
            settings.tune, settings.draws, settings.target_accept, keep=max(8, 2 * per_chain)
        )
        cores = settings.cores or max(1, min(settings.chains, os.cpu_count() or 1))
        begun = time.perf_counter()
        chains, checked = run_chains(
            targets, starts, chain_settings, np.random.SeedSequence(seed), moves, cores, until,
            progressbar=settings.progressbar,
        )  # fmt: skip
        sampling_seconds = time.perf_counter() - begun
        trace = to_trace(chains, compiled)
        trace[STATES] = xr.DataTree(_kept_states(chains))
        return SamplerRun(
            trace, compile_seconds, sampling_seconds, compiled, checked, compiled_from=source
        )


def _kept_states(chains: list[Any]) -> xr.Dataset:
    """Every chain's kept latent values, one row per (chain, draw)."""
    rows, chain_of, draw_of = [], [], []
    for c, chain in enumerate(chains):
        for t in sorted(chain.kept.states):
            if t < len(chain.values):
                rows.append(chain.kept.states[t])
                chain_of.append(c)
                draw_of.append(t)
    return xr.Dataset(
        {"latent_values": (("kept", "latent_cell"), np.stack(rows))},
        coords={
            "chain": ("kept", np.array(chain_of, dtype=np.int64)),
            "draw": ("kept", np.array(draw_of, dtype=np.int64)),
        },
    )
