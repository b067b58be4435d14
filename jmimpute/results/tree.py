"""From sampler output to the result's DataTree: parameter draws, data scale, imputed cells."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from jmimpute import __version__
from jmimpute.design.standardised import Design
from jmimpute.models.joint.conditional import Draw, DrawParams
from jmimpute.sampling.nuts import SamplerRun
from jmimpute.spec.model import ImputationSpec


def _chain_draw(trace: xr.DataTree, name: str) -> np.ndarray:
    return trace["posterior"][name].transpose("chain", "draw", ...).to_numpy()


@dataclass(frozen=True)
class ParameterDraws:
    """Standardised parameter draws, arrays shaped (chain, draw, ...)."""

    beta: np.ndarray
    sigma: np.ndarray
    psi: np.ndarray
    gamma: np.ndarray | None
    thresholds: dict[str, np.ndarray]
    latent: np.ndarray
    latent2: np.ndarray
    spread: np.ndarray | None = None  # tau, with cluster-specific covariances
    sigma_cluster: np.ndarray | None = None  # (chain, draw, J, p, p), likewise

    @classmethod
    def from_trace(cls, trace: xr.DataTree) -> ParameterDraws:
        """Read the draws of a trace of either model (a run's, or the first draws of one)."""
        post = trace["posterior"]
        sigma = _chain_draw(trace, "sigma_s")
        n_chain, n_draw = sigma.shape[:2]

        def optional(name: str) -> np.ndarray:
            return _chain_draw(trace, name) if name in post else np.zeros((n_chain, n_draw, 0))

        thresholds = {
            str(name).removeprefix("thresholds_"): _chain_draw(trace, str(name))
            for name in post.data_vars
            if str(name).startswith("thresholds_")
        }
        return cls(
            beta=_chain_draw(trace, "beta_s"),
            sigma=sigma,
            psi=_chain_draw(trace, "psi_s"),
            gamma=_chain_draw(trace, "gamma_s") if "gamma_s" in post else None,
            thresholds=thresholds,
            latent=optional("latent_values"),
            latent2=optional("latent2_values"),
            spread=_chain_draw(trace, "sigma_spread") if "sigma_spread" in post else None,
            sigma_cluster=(
                _chain_draw(trace, "sigma_cluster_s") if "sigma_cluster_s" in post else None
            ),
        )

    def at(self, chain: int, draw: int) -> DrawParams:
        """One draw."""
        return DrawParams(
            beta=self.beta[chain, draw],
            sigma=self.sigma[chain, draw],
            psi=self.psi[chain, draw],
            gamma=None if self.gamma is None else self.gamma[chain, draw],
            thresholds={k: v[chain, draw] for k, v in self.thresholds.items()},
            latent=self.latent[chain, draw],
            latent2=self.latent2[chain, draw],
            sigma_cluster=None if self.sigma_cluster is None else self.sigma_cluster[chain, draw],
        )


def retained_draws(spec: ImputationSpec) -> tuple[np.ndarray, np.ndarray]:
    """Chain and draw of the m retained draws, spaced evenly over all chains."""
    total = spec.sampler.retained
    flat = np.floor((np.arange(spec.m) + 0.5) * total / spec.m).astype(np.int64)
    return flat // spec.sampler.draws, flat % spec.sampler.draws


def _imputed_cells(draws: list[Draw], design: Design, level: int, labels: np.ndarray) -> xr.Dataset:
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
    draws: list[Draw],
    design: Design,
    retained: xr.Dataset,
    index: pd.Index,
) -> xr.Dataset:
    """The ``imputations`` group of the result: imputed cells of both levels.

    ``retained`` (from :func:`retained_dataset`) says where each imputation comes from
    and is kept with the cells, so that they can be re-drawn (:mod:`jmimpute.models.joint.redraw`).
    """
    cells = _imputed_cells(draws, design, 1, np.asarray(index))
    if design.level2 is not None:
        cells = xr.merge([cells, _imputed_cells(draws, design, 2, design.cluster_labels)])
    return xr.merge([cells, retained.drop_vars("imputation", errors="ignore")])


SIGMA_CLUSTER = "sigma_cluster_s"
"""Name of the retained cluster-specific covariances (standardised) in ``imputations``."""
RETAINED = ("latent_values", "latent2_values", SIGMA_CLUSTER)


def retained_dataset(
    params: list[DrawParams], chain_idx: np.ndarray, draw_idx: np.ndarray, streams: Sequence[int]
) -> xr.Dataset:
    """Chain, draw and random stream of each imputation, its latent values and ``Sigma_j``.

    The latent values at the observed categorical cells, and the cluster-specific level-1
    covariances (standardised scale) where the model has them, are part of the retained
    draw (the conditional draws depend on them) but are not kept for every NUTS draw.
    """
    ds = xr.Dataset(
        coords={
            "chain": ("imputation", np.asarray(chain_idx, dtype=np.int64)),
            "draw": ("imputation", np.asarray(draw_idx, dtype=np.int64)),
            "stream": ("imputation", np.asarray(streams, dtype=np.int64)),
        }
    )
    for name, dim, values in (
        ("latent_values", "latent_cell", [p.latent for p in params]),
        ("latent2_values", "latent2_cell", [p.latent2 for p in params]),
    ):
        if values and values[0].size:
            ds[name] = (("imputation", dim), np.stack(values))
    if params and params[0].sigma_cluster is not None:
        ds[SIGMA_CLUSTER] = (
            ("imputation", "cov_cluster", "cov_dim", "cov_dim_"),
            np.stack([p.sigma_cluster for p in params]),  # type: ignore[misc]
        )
    return ds


def retained_of(cells: xr.Dataset) -> xr.Dataset:
    """The :func:`retained_dataset` part of an ``imputations`` group."""
    names = [n for n in RETAINED if n in cells]
    return xr.Dataset(
        {n: cells[n].variable for n in names},
        coords={c: ("imputation", cells[c].to_numpy()) for c in ("chain", "draw", "stream")},
    )


def parameter_datasets(design: Design, draws_s: ParameterDraws) -> tuple[xr.Dataset, xr.Dataset]:
    """The imputation-model parameters on the data scale and on the sampler's scale.

    Returns
    -------
    posterior, standardised : xarray.Dataset
        ``beta``, ``sigma``, ``psi`` (and ``gamma``, thresholds, ``sigma_spread`` where the
        model has them) with dims ``chain``, ``draw``; ``standardised`` is on the scale of
        the centred and scaled targets the model is fitted to.
    """
    n_chain, n_draw = draws_s.beta.shape[:2]
    coords = {
        "chain": np.arange(n_chain),
        "draw": np.arange(n_draw),
        "covariate": list(design.x_names),
        "variable": list(design.targets),
        "variable_2": list(design.targets),
        "effect": list(design.effect_names),
        "effect_2": list(design.effect_names),
    }
    l2 = design.level2
    if l2 is not None:
        coords |= {"covariate2": list(l2.v_names), "variable2": list(l2.targets.dims)}

    def params(beta, sigma, psi, gamma) -> xr.Dataset:
        ds = xr.Dataset(
            {
                "beta": (("chain", "draw", "covariate", "variable"), beta),
                "sigma": (("chain", "draw", "variable", "variable_2"), sigma),
                "psi": (("chain", "draw", "effect", "effect_2"), psi),
            },
            coords=coords,
        )
        if gamma is not None:
            ds["gamma"] = (("chain", "draw", "covariate2", "variable2"), gamma)
        for name, thr in draws_s.thresholds.items():
            ds[f"thresholds_{name}"] = (("chain", "draw", f"threshold_{name}"), thr)
        if draws_s.spread is not None:  # scale-free: the same in both groups
            ds["sigma_spread"] = (("chain", "draw"), draws_s.spread)
        return ds

    posterior = params(
        design.beta_to_data(draws_s.beta),
        design.sigma_to_data(draws_s.sigma),
        design.psi_to_data(draws_s.psi),
        None if l2 is None or draws_s.gamma is None else l2.gamma_to_data(draws_s.gamma),
    )
    standardised = params(draws_s.beta, draws_s.sigma, draws_s.psi, draws_s.gamma)
    standardised.attrs.update(
        {"y_center": design.y_center.tolist(), "y_scale": design.y_scale.tolist()}
    )
    return posterior, standardised


def result_tree(
    spec: ImputationSpec,
    design: Design,
    run: SamplerRun,
    draws_s: ParameterDraws,
    draws: list[Draw],
    retained: xr.Dataset,
    index: pd.Index,
) -> xr.DataTree:
    """Assemble the result DataTree (see :class:`jmimpute.results.imputation.Imputation`)."""
    posterior, standardised = parameter_datasets(design, draws_s)
    cells = imputations_dataset(draws, design, retained, index)
    stats = run.trace["sample_stats"].to_dataset() if "sample_stats" in run.trace else xr.Dataset()
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "standardised_posterior": standardised,
            "sample_stats": stats,
            "imputations": cells,
        }
    )
    tree.attrs.update(
        {
            "jmimpute_version": __version__,
            "formula": spec.formula_text,
            "method": spec.method,
            "sampler": spec.sampler.sampler,
            "backend": spec.sampler.backend,
            "compile_seconds": run.compile_seconds,
            "sampling_seconds": run.sampling_seconds,
        }
    )
    return tree
