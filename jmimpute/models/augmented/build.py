"""The parameter model of the data-augmentation sampler, and the layout of its latents.

NUTS sees only the parameters: the collapsed likelihood of the data completed by the
current latent values, read from sufficient statistics that the latent move
(:mod:`jmimpute.models.augmented.move`) rewrites after each draw. The PyMC model is the
collapsed model's (:mod:`jmimpute.models.collapsed.build`) with the categorical latents
entering as data instead of as NUTS coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm

from jmimpute._kernels.ops import KernelData, collapsed_loglik_fast
from jmimpute._kernels.small_dot import small_dot
from jmimpute.design.standardised import Design
from jmimpute.design.suffstats import LatentRows, PatternStats, compute_stats
from jmimpute.models.augmented.sweep import REGIONS
from jmimpute.models.joint.dims import model_coords
from jmimpute.models.joint.model import PER_UNIT
from jmimpute.models.joint.parameters import shared_parameters
from jmimpute.models.protocol import BuiltModel, judged
from jmimpute.spec.priors import Priors

UPDATED = ("syy0", "syx0", "syz0_t")
"""The kernel's statistics that depend on the latent values (``kernel_<name>`` shared data)."""


@dataclass(frozen=True)
class Latents:
    """Where the latent values sit and what confines them.

    Attributes
    ----------
    y0 : ndarray, shape (n, p)
        Observed continuous values and initial latent values; 0 at unobserved cells.
    cells : tuple of ndarray
        ``(rows, columns)`` of the latent values, in ``Targets.latent_cells`` order (the
        order of ``DrawParams.latent``).
    rows, row_cells, table : ndarray
        The sweep's layout (:func:`jmimpute.models.augmented.sweep.draw_latents`).
    base_rows : ndarray of int
        Observed rows without latent cells: their statistics never change.
    stats : PatternStats
        Statistics of ``y0``; ``pattern`` gives each row's pattern.
    no_rows : LatentRows
        Empty: the kernel re-adds no rows at each gradient.
    """

    y0: np.ndarray
    cells: tuple[np.ndarray, np.ndarray]
    rows: np.ndarray
    row_cells: np.ndarray
    table: np.ndarray
    base_rows: np.ndarray
    stats: PatternStats
    no_rows: LatentRows


def latent_layout(design: Design) -> Latents:
    """The latents' layout and initial values: each 0.5 inside its category's region.

    Every level-1 categorical kind must have a region the sweep draws
    (:func:`design_refusal`).
    """
    l1 = design.level1
    y0 = np.where(l1.observed & ~l1.latent, l1.values, 0.0)
    cell_rows, cell_cols = (np.asarray(a, dtype=np.int64) for a in l1.latent_cells)
    entries = []
    for var in l1.variables:
        if not var.latent:
            continue
        region = var.behaviour.region
        cols = l1.columns(var.name)
        if not np.array_equal(cols, np.arange(cols[0], cols[0] + cols.size)):
            raise ValueError(f"the latent columns of {var.name!r} are not contiguous: {cols}")
        codes = l1.codes[var.name]
        seen = np.flatnonzero(codes >= 0)
        for dim, col in enumerate(cols):
            code = codes[seen]
            own = (code == dim + 1) if region == "max" else (code == 1)
            y0[seen, col] = np.where(own, 0.5, -0.5)
            entries.append(
                np.column_stack(
                    [
                        seen,
                        np.full(seen.size, col),
                        np.full(seen.size, REGIONS[region]),
                        code,
                        np.full(seen.size, cols[0]),
                        np.full(seen.size, cols.size),
                    ]
                )
            )
    table = np.concatenate(entries) if entries else np.zeros((0, 6), dtype=np.int64)
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    rows, starts = np.unique(table[:, 0], return_index=True)
    row_cells = np.r_[starts, table.shape[0]].astype(np.int64)
    stats, no_rows = compute_stats(
        y0, design.x, design.z, design.cluster, design.n_clusters, observed=l1.observed
    )
    has_latent = np.zeros(y0.shape[0], dtype=bool)
    has_latent[rows] = True
    base_rows = np.flatnonzero(~has_latent & (stats.pattern >= 0))
    return Latents(
        y0=y0,
        cells=(cell_rows, cell_cols),
        rows=rows.astype(np.int64),
        row_cells=row_cells,
        table=np.ascontiguousarray(table[:, 1:], dtype=np.int64),
        base_rows=base_rows.astype(np.int64),
        stats=stats,
        no_rows=no_rows,
    )


def design_refusal(design: Design) -> str | None:
    """Why the sweep cannot draw this design's latents, with the fix; None if it can.

    The sweep draws level-1 latents whose kind declares a region it knows (:data:`REGIONS`:
    binary and nominal; ordinal thresholds need a move of their own); level-2 categorical
    targets are not drawn yet.
    """
    if design.level2 is not None and np.any(design.level2.targets.latent):
        names = [v.name for v in design.level2.targets.variables if v.latent]
        return (
            f"method='augmented' does not impute level-2 categorical targets yet ({names}); "
            "use method='collapsed'"
        )
    for var in design.level1.variables:
        if var.latent and var.behaviour.region not in REGIONS:
            return (
                f"method='augmented' cannot impute {var.name!r} ({var.kind}): its latent "
                f"region is {var.behaviour.region or 'not declared'}; the sweep draws "
                f"{sorted(REGIONS)}. Use method='collapsed' for it"
            )
    return None


def build_augmented_model(design: Design, priors: Priors) -> tuple[BuiltModel, Latents]:
    """The parameter model (NUTS's target) and the latents' layout.

    Raises
    ------
    ValueError
        Where the sweep cannot draw the design (:func:`design_refusal`).
    """
    reason = design_refusal(design)
    if reason is not None:
        raise ValueError(reason)
    latents = latent_layout(design)
    stats = latents.stats
    l2_masks, l2_pattern = design.level2_patterns()
    no_cells = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    data = KernelData.build(stats, latents.no_rows, no_cells, l2_masks, l2_pattern)
    with pm.Model(coords=model_coords(design)) as model:
        par = shared_parameters(
            design, priors, "common", raw_binary=False, reparametrised=True, latents=False
        )
        if design.level2 is None:
            resid2 = pm.Data("level2_values", np.zeros((design.n_clusters, 0)))
        else:
            assert par.gamma is not None
            t2 = design.level2.targets
            w = pm.Data("level2_values", np.nan_to_num(t2.values))
            v = pm.Data("level2_covariates", design.level2.v)
            resid2 = w - small_dot(v, par.gamma)
        inputs = {name: pm.Data(f"kernel_{name}", value) for name, value in data.arrays().items()}
        empty_z = pm.math.zeros((0,))
        loglik = collapsed_loglik_fast(par.lsig, par.beta, par.psi, resid2, empty_z, inputs)
        pm.Potential("collapsed_loglik", loglik)
    keep = par.keep
    return BuiltModel(design, model, keep=keep, judged=judged(keep, PER_UNIT)), latents
