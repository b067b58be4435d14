"""The result's DataTree: ArviZ's groups, plus the imputed cells.

Groups (ArviZ 1.x names where ArviZ has one):

* ``posterior``: the imputation model's parameters on the data's scale, dims ``chain``,
  ``draw`` and the parameter's own (named as in the sampler's trace); each variable's
  ``group`` attribute is its convergence group, declared by the model;
* ``standardised_posterior``: the same on the scale the model is fitted to;
* ``sample_stats``: the sampler's statistics (divergences, tree depth, step size ...);
* ``observed_data``: the incomplete data as given, each column with its pandas dtype
  (:mod:`jmimpute.results.frames`);
* ``imputations``: the imputed cells (dims ``imputation`` x ``cell``, coordinates naming
  each cell's row and column; level-2 values in ``cell2``), with the chain, draw and random
  stream of each imputation and what the model keeps to re-draw it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute._version import __version__
from jmimpute.results.frames import data_to_dataset

if TYPE_CHECKING:
    from jmimpute.design.standardised import Design
    from jmimpute.models.protocol import ImputationModel
    from jmimpute.sampling.run import Sampled

_log = logging.getLogger("jmimpute")

CELL_DIMS = ("cell", "cell2")
"""The dims of the imputed cells (level 1, level 2)."""


def _imputed_cells(draws: list[Any], design: Design, level: int, labels: np.ndarray) -> xr.Dataset:
    """The imputed cells of one level: continuous on the data scale, categories as codes."""
    targets = design.level1 if level == 1 else design.level2.targets  # type: ignore[union-attr]
    missing = np.column_stack(
        [~targets.observed[:, targets.columns(v.name)[0]] for v in targets.variables]
    )
    units, var_idx = np.nonzero(missing)
    values = np.empty((len(draws), units.size))
    for i, dr in enumerate(draws):
        block = dr.level1 if level == 1 else dr.level2
        assert block is not None
        values[i] = block[units, var_idx]
    for j, var in enumerate(targets.variables):
        sel = var_idx == j
        col = targets.columns(var.name)[0]
        values[:, sel] = var.behaviour.to_data(
            values[:, sel], targets.center[col], targets.scale[col]
        )
    names = np.asarray([v.name for v in targets.variables], dtype=object)[var_idx].astype(str)
    unit_dim = "cell" if level == 1 else "cell2"
    coords = {
        "imputation": np.arange(1, len(draws) + 1),
        ("row" if level == 1 else "cluster_position"): (unit_dim, units),
        ("row_label" if level == 1 else "cluster"): (unit_dim, labels[units]),
        ("column" if level == 1 else "column2"): (unit_dim, names),
    }
    name = "imputed" if level == 1 else "imputed_level2"
    return xr.Dataset({name: (("imputation", unit_dim), values)}, coords=coords)


def imputations_dataset(
    draws: list[Any],
    design: Design,
    retained: xr.Dataset,
    index: pd.Index,
) -> xr.Dataset:
    """The ``imputations`` group of the result: imputed cells of both levels.

    ``retained`` (the run's, or :func:`retained_of` an earlier group) says where each
    imputation comes from and is kept with the cells, so that they can be re-drawn (the
    model's ``redraw``).
    """
    cells = _imputed_cells(draws, design, 1, np.asarray(index))
    if design.level2 is not None:
        cells = xr.merge([cells, _imputed_cells(draws, design, 2, design.cluster_labels)])
    return xr.merge([cells, retained.drop_vars("imputation", errors="ignore")])


def retained_of(cells: xr.Dataset) -> xr.Dataset:
    """The part of an ``imputations`` group that says where each imputation comes from.

    Everything but the imputed cells: the chain, draw and stream of each imputation and
    what the model keeps to re-draw it.
    """
    keep = [n for n in cells.data_vars if not set(cells[n].dims) & set(CELL_DIMS)]
    return xr.Dataset(
        {n: cells[n].variable for n in keep},
        coords={c: ("imputation", cells[c].to_numpy()) for c in ("chain", "draw", "stream")},
    )


def result_tree(
    model: ImputationModel,
    design: Design,
    sampled: Sampled,
    data: pd.DataFrame,
    seed: int,
) -> xr.DataTree:
    """Assemble the result's DataTree (see the module docstring).

    Parameters
    ----------
    model : ImputationModel
        Gives the posterior datasets.
    design : Design
    sampled : Sampled
        The run (:func:`jmimpute.sampling.run.sample`).
    data : pandas.DataFrame
        The incomplete data: the row labels of the cells and ``observed_data`` (left out,
        with a debug message, where it cannot be stored; saving then says why).
    seed : int
        The run's seed, recorded as ``random_seed``.

    Returns
    -------
    xarray.DataTree
    """
    spec, run = sampled.spec, sampled.run
    posterior, standardised = model.posterior(design, sampled.draws)
    cells = imputations_dataset(sampled.imputations, design, sampled.retained, data.index)
    stats = run.trace["sample_stats"].to_dataset() if "sample_stats" in run.trace else xr.Dataset()
    groups = {"posterior": posterior, "standardised_posterior": standardised, "sample_stats": stats}
    try:
        groups["observed_data"] = data_to_dataset(data)
    except ValueError as err:  # saving the result raises it, with the fix
        _log.debug("the data cannot be stored in the result's observed_data: %s", err)
    tree = xr.DataTree.from_dict(groups | {"imputations": cells})
    tree.attrs.update(
        {
            "jmimpute_version": __version__,
            "formula": spec.formula_text,
            "method": spec.method,
            "sampler": spec.sampler.sampler,
            "backend": spec.sampler.backend,
            "compile_seconds": run.compile_seconds,
            "compiled_from": run.compiled_from,
            "sampling_seconds": run.sampling_seconds,
            "random_seed": seed,
        }
    )
    if spec.sampler.auto_draws:
        # benchmarks read these: the draws per chain judged, and the sampler runs behind them
        tree.attrs.update(
            {"draws_tried": ",".join(map(str, run.checkpoints)), "sampler_runs": run.runs}
        )
    return tree
