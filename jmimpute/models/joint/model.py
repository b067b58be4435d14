"""The joint normal models' side of the seam, shared by the collapsed and latent models.

Both models sample the same joint posterior (pan's and jomo's model) in different ways, so
they share how their draws become the result: the parameters on the data's scale and their
convergence groups (:data:`GROUPS`), the exact draws of the missing cells given a retained
draw, each from its own random stream (:mod:`jmimpute.models.streams`), and the delta
adjustment of a sensitivity analysis. :class:`JointModel` implements those parts of
:class:`~jmimpute.models.protocol.ImputationModel`; each model adds how it is built and how
its run gives the imputations.

The trace holds the standardised parameters ``beta_s``, ``sigma_s``, ``psi_s``, ``gamma_s``,
``thresholds_<name>``, ``sigma_spread`` and, per unit, ``latent_values``,
``latent2_values`` and ``sigma_cluster_s`` (:mod:`jmimpute.models.joint.parameters`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from jmimpute.models.joint.conditional import Draw, DrawParams, Shift, draw_imputation
from jmimpute.models.joint.dims import DIMS, model_coords
from jmimpute.models.joint.priors import prior_shared, prior_values
from jmimpute.models.protocol import BuiltModel, ParameterDraws, ParameterGroup
from jmimpute.models.streams import imputation_seeds, stream_rng

if TYPE_CHECKING:
    import pandas as pd

    from jmimpute.design.standardised import Design
    from jmimpute.spec.model import ImputationSpec
    from jmimpute.spec.priors import Priors
    from jmimpute.spec.variables import Variable

GROUPS: dict[str, ParameterGroup] = {
    "beta": ParameterGroup("fixed effects"),
    "sigma": ParameterGroup("level-1 covariance", symmetric=True),
    "psi": ParameterGroup("cluster covariance", symmetric=True),
    "gamma": ParameterGroup("level-2 fixed effects"),
    "thresholds": ParameterGroup("thresholds"),
    "sigma_spread": ParameterGroup("level-1 covariance"),
}
"""The convergence group of each parameter of the posterior (``thresholds_<name>`` are
``"thresholds"``); the report lists groups in this order."""

PARAMETERS = ("beta_s", "sigma_s", "psi_s", "gamma_s")
"""The trace's parameter matrices, as ``<name>_s`` of :data:`DIMS`."""
PER_UNIT = ("latent_values", "latent2_values", "sigma_cluster_s")
"""Kept per row or cluster: needed for the imputations, not judged for convergence."""
THRESHOLDS = "thresholds_"
SPREAD = "sigma_spread"


def draw_params(values: dict[str, np.ndarray]) -> DrawParams:
    """One draw of :meth:`JointModel.parameter_draws` as the conditional draws take it."""
    return DrawParams(
        beta=values["beta_s"],
        sigma=values["sigma_s"],
        psi=values["psi_s"],
        gamma=values.get("gamma_s"),
        thresholds={
            name.removeprefix(THRESHOLDS): v
            for name, v in values.items()
            if name.startswith(THRESHOLDS)
        },
        latent=values.get("latent_values", np.zeros(0)),
        latent2=values.get("latent2_values", np.zeros(0)),
        sigma_cluster=values.get("sigma_cluster_s"),
    )


def retained_values(params: Sequence[DrawParams], retained: xr.Dataset) -> xr.Dataset:
    """``retained`` with each imputation's latent values and ``Sigma_j`` added.

    They are part of the retained draw (the conditional draws depend on them) but are not
    kept in the posterior for every draw.
    """
    ds = retained.copy()
    for name, dim, values in (
        ("latent_values", "latent_cell", [p.latent for p in params]),
        ("latent2_values", "latent2_cell", [p.latent2 for p in params]),
    ):
        if values and values[0].size:
            ds[name] = (("imputation", dim), np.stack(values))
    if params and params[0].sigma_cluster is not None:
        ds["sigma_cluster_s"] = (
            ("imputation", "cov_cluster", "cov_dim", "cov_dim_"),
            np.stack([p.sigma_cluster for p in params]),  # type: ignore[misc]
        )
    return ds


def draw_imputations(
    design: Design,
    params: Sequence[DrawParams],
    streams: Sequence[int],
    seed: np.random.SeedSequence,
    *,
    shift: Shift | None = None,
    progressbar: bool = False,
) -> list[Draw]:
    """The imputations of the given parameter draws, each from its stream of ``seed``.

    The only place the streams are used, so that :func:`jmimpute.impute` and the
    sensitivity analyses draw the same random numbers.
    """
    l2_masks, l2_pattern = design.level2_patterns()
    pairs = tqdm(
        zip(params, streams, strict=True),
        total=len(params),
        desc="imputations",
        disable=not progressbar,
        leave=False,
    )
    return [
        draw_imputation(design, p, l2_masks, l2_pattern, stream_rng(seed, k), shift)
        for p, k in pairs
    ]


class JointModel:
    """What the collapsed and the latent joint models share (see the module docstring).

    Attributes
    ----------
    per_unit : tuple of str
        Kept trace variables with values per row or cluster: read for the imputations,
        never judged. Every other kept variable is a parameter of the posterior; one the
        model does not know is judged under its own name (:meth:`posterior`).
    """

    name = "joint"
    redraw_note: str | None = None
    per_unit: tuple[str, ...] = PER_UNIT

    # -- building ----------------------------------------------------------------------
    def design(
        self,
        data: pd.DataFrame,
        spec: ImputationSpec,
        level1: tuple[Variable, ...],
        level2: tuple[Variable, ...],
    ) -> Design:
        """The standardised design of the spec's formulas."""
        from jmimpute.design.standardised import build_design

        return build_design(data, spec.level1, level1, spec.level2, level2)

    def check(self, design: Design, spec: ImputationSpec) -> None:
        """Cluster-specific covariances need continuous level-1 targets."""
        if spec.cluster_covariance != "random":
            return
        latent = [v.name for v in design.level1.variables if v.latent]
        if latent:
            raise ValueError(
                f"cluster_covariance='random' needs continuous level-1 targets, but {latent} "
                "are categorical: their latent scales are fixed for identification, which a "
                "covariance varying by cluster would undo. Use cluster_covariance='common', "
                "or move the categorical variables to the level-1 covariates if fully observed"
            )

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """Each model builds its own PyMC model."""
        raise NotImplementedError

    def shared_data(self, priors: Priors) -> dict[str, np.ndarray]:
        """The prior hyperparameters, one shared vector (:mod:`.priors`)."""
        return prior_shared(prior_values(priors))

    # -- the draws ---------------------------------------------------------------------
    def parameter_draws(self, trace: xr.DataTree, names: Sequence[str]) -> ParameterDraws:
        """The variables ``names`` of the trace (what the built model keeps, or judges)."""
        return ParameterDraws.from_trace(trace, names)

    def parameter_group(self, name: str) -> ParameterGroup | None:
        """The group of a posterior variable (:data:`GROUPS`; ``thresholds_<name>``)."""
        if name.startswith(THRESHOLDS):
            return GROUPS["thresholds"]
        return GROUPS.get(name)

    def posterior(self, design: Design, draws: ParameterDraws) -> tuple[xr.Dataset, xr.Dataset]:
        """``beta``, ``sigma``, ``psi`` (``gamma``, thresholds, ``sigma_spread``).

        Returns
        -------
        posterior, standardised : xarray.Dataset
            With dims ``chain``, ``draw`` and those of :data:`DIMS`; ``standardised`` is on
            the scale of the centred and scaled targets the model is fitted to. Every
            variable of ``posterior`` carries its convergence group (:data:`GROUPS`).
        """
        values = draws.values
        coords: dict[str, Any] = {
            "chain": np.arange(draws.chains),
            "draw": np.arange(draws.draws),
        } | model_coords(design)
        l2 = design.level2
        thresholds = {n: v for n, v in values.items() if n.startswith(THRESHOLDS)}
        gamma_s = values.get("gamma_s")
        known = {*PARAMETERS, *thresholds, SPREAD, *self.per_unit}
        # a parameter this class does not convert is still judged, under its own name
        others = {n: v for n, v in values.items() if n not in known}

        def params(matrices: dict[str, np.ndarray | None]) -> xr.Dataset:
            ds = xr.Dataset(coords=coords)
            for name, array in matrices.items():
                if array is not None:
                    ds[name] = (("chain", "draw", *DIMS[name]), array, GROUPS[name].attrs())
            for name, thr in thresholds.items():
                dim = f"threshold_{name.removeprefix(THRESHOLDS)}"
                ds[name] = (("chain", "draw", dim), thr, GROUPS["thresholds"].attrs())
            if SPREAD in values:  # scale-free: the same in both groups
                ds[SPREAD] = (("chain", "draw"), values[SPREAD], GROUPS[SPREAD].attrs())
            for name, v in others.items():
                dims = ("chain", "draw", *(f"{name}_dim_{i}" for i in range(v.ndim - 2)))
                ds[name] = (dims, v, ParameterGroup(name).attrs())
            return ds

        posterior = params(
            {
                "beta": design.beta_to_data(values["beta_s"]),
                "sigma": design.sigma_to_data(values["sigma_s"]),
                "psi": design.psi_to_data(values["psi_s"]),
                "gamma": None if l2 is None or gamma_s is None else l2.gamma_to_data(gamma_s),
            }
        )
        standardised = params(
            {
                "beta": values["beta_s"],
                "sigma": values["sigma_s"],
                "psi": values["psi_s"],
                "gamma": gamma_s,
            }
        )
        standardised.attrs.update(
            {"y_center": design.y_center.tolist(), "y_scale": design.y_scale.tolist()}
        )
        return posterior, standardised

    # -- the imputations ---------------------------------------------------------------
    def retained_params(self, draws: ParameterDraws, retained: xr.Dataset) -> list[DrawParams]:
        """The parameters of each imputation's retained draw."""
        chains, draws_at = retained["chain"].to_numpy(), retained["draw"].to_numpy()
        return [
            draw_params(draws.at(int(c), int(t))) for c, t in zip(chains, draws_at, strict=True)
        ]

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
        """Each model gives its imputations its own way."""
        raise NotImplementedError

    def redraw(
        self, design: Design, tree: xr.DataTree, shift: Any = None, *, progressbar: bool = False
    ) -> list[Any]:
        """Draw the imputations of a result again from their exact full conditionals.

        The retained parameter draws are read from ``standardised_posterior`` at the
        ``chain``/``draw`` coordinates of the ``imputations`` group, which also holds the
        latent values and ``Sigma_j`` of each imputation and its random stream, a child of
        the run's seed (``random_seed``).

        Raises
        ------
        ValueError
            If the tree does not record the streams (a file from an older jmimpute).
        """
        cells = tree["imputations"].dataset
        seed = tree.attrs.get("random_seed")
        if "stream" not in cells.coords or seed is None:
            raise ValueError(
                "this result does not record the random streams of its imputations (it was "
                "saved by an older jmimpute), so it cannot be re-drawn; run jm.impute again"
            )
        std = tree["standardised_posterior"].dataset
        names = [str(n) for n in std.data_vars if str(n) in DIMS or str(n).startswith(THRESHOLDS)]
        params = []
        for k, (c, t) in enumerate(
            zip(cells["chain"].to_numpy(), cells["draw"].to_numpy(), strict=True)
        ):
            values = {
                (f"{n}_s" if n in DIMS else n): std[n].isel(chain=c, draw=t).to_numpy()
                for n in names
            }
            values |= {n: cells[n].isel(imputation=k).to_numpy() for n in PER_UNIT if n in cells}
            params.append(draw_params(values))
        streams = [int(s) for s in cells["stream"].to_numpy()]
        return draw_imputations(
            design,
            params,
            streams,
            imputation_seeds(int(seed))[1],
            shift=shift,
            progressbar=progressbar,
        )

    def shift(self, design: Design, variable: str, per_unit: np.ndarray) -> Shift:
        """Shift the missing cells of ``variable`` by ``per_unit`` (one value per unit).

        Continuous targets: data units, standardised here; latent dimensions have scale 1,
        and all of a variable's dimensions shift together (:attr:`VariableKind.delta`).
        """
        l2 = design.level2
        level1 = [v.name for v in design.level1.variables]
        targets = design.level1 if variable in level1 else l2.targets  # type: ignore[union-attr]
        cols = targets.columns(variable)
        shift = np.zeros((per_unit.size, targets.p))
        shift[:, cols] = per_unit[:, None] / targets.scale[cols]
        dims = np.zeros(targets.p, dtype=bool)
        dims[cols] = True
        if variable in level1:
            return Shift(
                level1=shift, level2=None, dims1=dims, dims2=np.zeros(design.p2, dtype=bool)
            )
        return Shift(level1=None, level2=shift, dims1=np.zeros(design.p, dtype=bool), dims2=dims)
