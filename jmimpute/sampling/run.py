"""One imputation run: sample a built model with NUTS, then draw the m imputations.

The pipeline below is the same for every model; it calls the model only through
:class:`~jmimpute.models.protocol.ImputationModel`. With ``draws=None`` the draws per
chain are decided while sampling (:func:`more_draws`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute.diagnostics import ESS_MIN, RHAT_MAX, parameter_table
from jmimpute.models.protocol import BuiltModel, ImputationModel, ParameterDraws
from jmimpute.models.streams import imputation_seeds
from jmimpute.sampling.blocked import sample_blocked
from jmimpute.sampling.nuts import Checkpoints, SamplerRun, judged_in_one_run, run_sampler
from jmimpute.spec.model import ImputationSpec

_log = logging.getLogger("jmimpute")

AUTO_MAX_DRAWS = 5000
"""``draws=None``: the most draws per chain a run is given before the warning is left to stand."""


@dataclass(frozen=True, eq=False)
class Sampled:
    """What one run gives: the draws, the imputations and where each comes from.

    Attributes
    ----------
    spec : ImputationSpec
        As asked, with the draws per chain kept (``draws=None`` decides them).
    run : SamplerRun
        The sampler's own output (trace, sample stats, timings).
    draws : ParameterDraws
        The kept draws the model reads.
    imputations : list
        The m imputations, as the model draws them.
    retained : xarray.Dataset
        Chain, draw and random stream of each imputation, and what the model keeps per
        imputation for re-drawing it.
    """

    spec: ImputationSpec
    run: SamplerRun
    draws: ParameterDraws
    imputations: list
    retained: xr.Dataset


def retained_draws(spec: ImputationSpec) -> tuple[np.ndarray, np.ndarray]:
    """Chain and draw of the m retained draws, spaced evenly over all chains."""
    total = spec.sampler.retained
    flat = np.floor((np.arange(spec.m) + 0.5) * total / spec.m).astype(np.int64)
    return flat // spec.sampler.draws, flat % spec.sampler.draws


def sample(model: ImputationModel, built: BuiltModel, spec: ImputationSpec, seed: int) -> Sampled:
    """Sample ``built`` with ``spec``'s priors and settings; draw the m imputations.

    The compiled model is kept on ``built`` and reused by later runs that may (see
    :meth:`BuiltModel.reusable`).

    Parameters
    ----------
    model : ImputationModel
    built : BuiltModel
        What ``model.build`` made for the design.
    spec : ImputationSpec
        Priors and sampler settings of this run (``draws=None`` decides the draws).
    seed : int
        The run's seed: the sampler's and the imputations' streams are its children.

    Returns
    -------
    Sampled
    """
    sampler_seed, stream_seed = imputation_seeds(seed)
    run_seed = int(sampler_seed.generate_state(1, dtype=np.uint32)[0])
    shared = model.shared_data(spec.priors)
    backend = spec.sampler.backend
    nutpie = spec.sampler.sampler == "nutpie"
    until = _checkpoints(model, built, spec) if spec.sampler.auto_draws else None
    if built.move is not None:  # NUTS transitions alternating with the model's draws
        run = sample_blocked(built, spec.sampler, run_seed, shared, until, spec.m)
    else:
        run = run_sampler(
            built.model,
            spec.sampler,
            run_seed,
            var_names=built.keep,
            compiled=built.reusable(backend, shared) if nutpie else None,
            shared=shared,
            until=until,
        )
    if nutpie and built.move is None:
        built.compiled, built.compiled_with = run.compiled, (backend, shared)
    draws = model.parameter_draws(run.trace, built.keep)
    if draws.draws != spec.sampler.draws:
        spec = replace(spec, sampler=replace(spec.sampler, draws=draws.draws))
    chain_idx, draw_idx = retained_draws(spec)
    retained = xr.Dataset(
        coords={
            "chain": ("imputation", np.asarray(chain_idx, dtype=np.int64)),
            "draw": ("imputation", np.asarray(draw_idx, dtype=np.int64)),
            "stream": ("imputation", np.arange(spec.m, dtype=np.int64)),
        }
    )
    imputations, retained = model.imputations(
        built, run.trace, draws, retained, stream_seed, progressbar=spec.sampler.progressbar
    )
    return Sampled(spec, run, draws, imputations, retained)


def _checkpoints(model: ImputationModel, built: BuiltModel, spec: ImputationSpec) -> Checkpoints:
    """``draws=None``: judge convergence at checkpoints with :func:`more_draws`."""
    settings = spec.sampler
    # one run judged as it goes, unless the sampler must start a run per checkpoint
    monitored = judged_in_one_run(settings)

    def judge(trace: xr.DataTree) -> int | None:
        draws = model.parameter_draws(trace, built.judged)
        table = parameter_table(model.posterior(built.design, draws)[0])
        more = more_draws(table, draws.draws, monitored=monitored)
        if more is not None:
            _log.log(
                logging.INFO if monitored else logging.WARNING,
                "after %d draws per chain the worst R-hat is %.3f (%s) and the smallest "
                "bulk/tail ESS %.0f (%s): %s %d draws per chain (draws=None samples until "
                "R-hat <= %s and ESS >= %d, up to %d draws; pass draws=... for a fixed number)",
                draws.draws,
                table["r_hat"].max(),
                table["r_hat"].idxmax(),
                table[["ess_bulk", "ess_tail"]].min().min(),
                table[["ess_bulk", "ess_tail"]].min(axis=1).idxmin(),
                "going on to" if monitored else "sampling again with",
                more,
                RHAT_MAX,
                ESS_MIN,
                AUTO_MAX_DRAWS,
            )
        return more

    return Checkpoints(
        first=settings.draws,
        most=max(AUTO_MAX_DRAWS, settings.draws),
        judge=judge,
        names=built.judged,
    )


def more_draws(table: pd.DataFrame, draws: int, *, monitored: bool = True) -> int | None:
    """Draws per chain at the next checkpoint, or None when converged (or at the cap).

    Converged: every parameter has R-hat <= ``RHAT_MAX`` and bulk and tail ESS >=
    ``ESS_MIN``. Otherwise ESS grows about in proportion to the draws, so the next
    checkpoint is where the draws would reach ``ESS_MIN``, at most ``AUTO_MAX_DRAWS``;
    R-hat shrinks with longer chains too. Within one ``monitored`` run a checkpoint costs
    only a look at the draws: 1.1 times that, at least 200 more draws, rounded up to 100
    (a coarser step would sample draws that the judgement does not need). Where each
    checkpoint is a new run, overshoot rather than run again: 1.5 times that, at least
    twice the draws, rounded up to 500.
    """
    if table["r_hat"].isna().all() or draws >= AUTO_MAX_DRAWS:
        return None  # one chain: convergence cannot be judged
    ess = float(table[["ess_bulk", "ess_tail"]].min().min())
    if table["r_hat"].max() <= RHAT_MAX and ess >= ESS_MIN:
        return None
    reach = draws * ESS_MIN / max(ess, 1.0)
    if monitored:
        want, step = max(draws + 200, 1.1 * reach), 100.0
    else:
        want, step = max(2.0 * draws, 1.5 * reach), 500.0
    return int(min(np.ceil(want / step) * step, AUTO_MAX_DRAWS))
