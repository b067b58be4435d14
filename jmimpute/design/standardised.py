"""Numeric design of the joint model: standardised targets, latent dimensions, covariates.

Continuous targets are centred and scaled by their observed mean and standard deviation,
covariates by theirs, so that the priors (stated on that scale) mean the same whatever the
units. Categorical targets occupy latent dimensions of scale 1 (not standardised). All
maps are linear, and the ``*_to_data`` methods carry parameters and values back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jmimpute.design.suffstats import level2_patterns
from jmimpute.spec.formula import Formula
from jmimpute.spec.variables import Variable

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class Targets:
    """Targets of one level laid out as dimensions of the joint normal model.

    Attributes
    ----------
    variables : tuple of Variable
    dims : tuple of str
        Dimension names (a nominal variable has one per non-baseline category).
    dim_var : ndarray of int, shape (p,)
        Variable of each dimension.
    values : ndarray, shape (units, p)
        Standardised continuous values; NaN at every other cell.
    observed : ndarray of bool, shape (units, p)
        Observed cells: continuous values, and all dimensions of an observed category.
    latent : ndarray of bool, shape (units, p)
        Observed cells whose values are latent (sampled).
    codes : dict of str to ndarray
        Category codes of each categorical variable (``-1`` where missing).
    center, scale : ndarray, shape (p,)
        ``data = center + scale * value``; 0 and 1 for latent dimensions.
    """

    variables: tuple[Variable, ...]
    dims: tuple[str, ...]
    dim_var: np.ndarray
    values: np.ndarray
    observed: np.ndarray
    latent: np.ndarray
    codes: dict[str, np.ndarray]
    center: np.ndarray
    scale: np.ndarray

    @property
    def p(self) -> int:
        """Dimensions."""
        return len(self.dims)

    @property
    def latent_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Units and dimensions of the latent values, variable by variable, unit-major.

        The order in which the model lays out the sampled latent values.
        """
        rows, dims = [], []
        for var in self.variables:
            if not var.latent:
                continue
            seen = np.flatnonzero(self.codes[var.name] >= 0)
            cols = self.columns(var.name)
            rows.append(np.repeat(seen, cols.size))
            dims.append(np.tile(cols, seen.size))
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows).astype(np.int64), np.concatenate(dims).astype(np.int64)

    def columns(self, name: str) -> np.ndarray:
        """Dimension indices of variable ``name``."""
        index = [v.name for v in self.variables].index(name)
        return np.flatnonzero(self.dim_var == index)

    def to_data(self, values: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Standardised values, each in dimension ``columns[i]``, on the data scale."""
        return self.center[columns] + self.scale[columns] * values


def _targets(frame: pd.DataFrame, variables: tuple[Variable, ...], center: bool) -> Targets:
    # kinds whose first variable leads the covariance factor with a fixed block come first
    variables = tuple(sorted(variables, key=lambda v: v.behaviour.covariance != "block"))
    units = frame.shape[0]
    dims: list[str] = []
    dim_var: list[int] = []
    cols_values, cols_obs, cols_lat = [], [], []
    centers, scales = [], []
    codes: dict[str, np.ndarray] = {}
    for i, var in enumerate(variables):
        column = frame[var.name]
        if var.latent:
            code = var.codes(column)
            codes[var.name] = code
            seen = code >= 0
            for name in var.dim_names:
                dims.append(name)
                dim_var.append(i)
                cols_values.append(np.full(units, np.nan))
                cols_obs.append(seen)
                cols_lat.append(seen)
                centers.append(0.0)
                scales.append(1.0)
            continue
        raw = column.to_numpy(dtype="float64", na_value=np.nan)
        mean = float(np.nanmean(raw)) if center else 0.0
        sd = float(np.nanstd(raw, ddof=1))
        dims.append(var.name)
        dim_var.append(i)
        cols_values.append((raw - mean) / sd)
        cols_obs.append(~np.isnan(raw))
        cols_lat.append(np.zeros(units, dtype=bool))
        centers.append(mean)
        scales.append(sd)

    def stack(cols: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.column_stack(cols).astype(dtype) if cols else np.zeros((units, 0), dtype)

    return Targets(
        variables=variables,
        dims=tuple(dims),
        dim_var=np.asarray(dim_var, dtype=np.int64),
        values=stack(cols_values, float),
        observed=stack(cols_obs, bool),
        latent=stack(cols_lat, bool),
        codes=codes,
        center=np.asarray(centers),
        scale=np.asarray(scales),
    )


@dataclass(frozen=True)
class Level2:
    """The cluster-level part: level-2 targets and covariates, one row per cluster.

    Attributes
    ----------
    targets : Targets
        Units are the clusters (in the order of ``Design.cluster_labels``).
    v : ndarray, shape (J, q2)
        Standardised level-2 covariates; ``v = v_raw @ v_map``.
    v_names : tuple of str
    v_map : ndarray, shape (q2, q2)
    """

    targets: Targets
    v: np.ndarray
    v_names: tuple[str, ...]
    v_map: np.ndarray

    @property
    def p(self) -> int:
        """Level-2 dimensions."""
        return self.targets.p

    def gamma_to_data(self, gamma: np.ndarray) -> np.ndarray:
        """Level-2 fixed effects ``(..., q2, p2)`` on the data scale."""
        t = self.targets
        out = np.einsum("ab,...bv->...av", self.v_map, gamma) * t.scale
        if INTERCEPT in self.v_names:
            out[..., self.v_names.index(INTERCEPT), :] += t.center
        return out


@dataclass(frozen=True)
class Design:
    """Standardised arrays of the joint model.

    Attributes
    ----------
    level1 : Targets
        Row-level targets (``n`` rows, ``p`` dimensions).
    x : ndarray, shape (n, q)
        Standardised fixed-effect design; ``x = x_raw @ x_map``.
    x_names, x_map
    z : ndarray, shape (n, r)
        Standardised random-effect design; ``z = z_raw @ z_map``.
    z_names, z_map
    cluster : ndarray of int, shape (n,)
        Cluster code per row, ``0 .. J-1`` in sorted order of the labels.
    cluster_labels : ndarray, shape (J,)
    level2 : Level2 or None
    """

    level1: Targets
    x: np.ndarray
    x_names: tuple[str, ...]
    x_map: np.ndarray
    z: np.ndarray
    z_names: tuple[str, ...]
    z_map: np.ndarray
    cluster: np.ndarray
    cluster_labels: np.ndarray
    level2: Level2 | None = None

    # -- sizes -------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Rows."""
        return int(self.x.shape[0])

    @property
    def p(self) -> int:
        """Level-1 dimensions."""
        return self.level1.p

    @property
    def q(self) -> int:
        """Fixed-effect columns."""
        return int(self.x.shape[1])

    @property
    def r(self) -> int:
        """Random-effect columns."""
        return int(self.z.shape[1])

    @property
    def d(self) -> int:
        """Random effects per cluster (``r p``)."""
        return self.r * self.p

    @property
    def p2(self) -> int:
        """Level-2 dimensions (0 without level-2 targets)."""
        return self.level2.p if self.level2 is not None else 0

    @property
    def n_clusters(self) -> int:
        """Clusters."""
        return int(self.cluster_labels.shape[0])

    @property
    def targets(self) -> tuple[str, ...]:
        """Level-1 dimension names."""
        return self.level1.dims

    @property
    def effect_names(self) -> tuple[str, ...]:
        """Random effects then level-2 dimensions, in the order of ``Psi`` (effect-major)."""
        effects = tuple(f"{t}|{z}" for z in self.z_names for t in self.level1.dims)
        return effects + (self.level2.targets.dims if self.level2 is not None else ())

    # -- back to the data's scale -----------------------------------------------------
    @property
    def y_center(self) -> np.ndarray:
        """Level-1 centres."""
        return self.level1.center

    @property
    def y_scale(self) -> np.ndarray:
        """Level-1 scales."""
        return self.level1.scale

    def beta_to_data(self, beta: np.ndarray) -> np.ndarray:
        """Fixed effects ``(..., q, p)`` from the standardised to the data scale."""
        out = np.einsum("ab,...bv->...av", self.x_map, beta) * self.y_scale
        if INTERCEPT in self.x_names:
            out[..., self.x_names.index(INTERCEPT), :] += self.y_center
        return out

    def sigma_to_data(self, sigma: np.ndarray) -> np.ndarray:
        """Level-1 covariance ``(..., p, p)`` on the data scale."""
        return sigma * np.multiply.outer(self.y_scale, self.y_scale)

    def psi_to_data(self, psi: np.ndarray) -> np.ndarray:
        """Covariance of random effects and level-2 residuals ``(..., d + p2, ...)``."""
        t = np.kron(self.z_map, np.diag(self.y_scale))
        if self.level2 is not None:
            w = np.diag(self.level2.targets.scale)
            t = np.block(
                [[t, np.zeros((t.shape[0], w.shape[1]))], [np.zeros((w.shape[0], t.shape[1])), w]]
            )
        return np.einsum("ab,...bc,dc->...ad", t, psi, t)

    def level2_patterns(self) -> tuple[np.ndarray, np.ndarray]:
        """Level-2 observed patterns and each cluster's (:func:`.suffstats.level2_patterns`)."""
        observed = self.level2.targets.observed if self.level2 is not None else None
        return level2_patterns(observed, self.n_clusters)

    def y_to_data(self, values: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Standardised level-1 values, each in dimension ``columns[i]``, on the data scale."""
        return self.level1.to_data(values, columns)


def _covariate_columns(data: pd.DataFrame, names: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Numeric columns for covariates; categorical ones become treatment dummies."""
    out_names: list[str] = []
    cols: list[np.ndarray] = []
    for name in names:
        col = data[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out_names.append(name)
            cols.append(col.to_numpy(dtype="float64"))
            continue
        cat = pd.Categorical(col)
        for level in cat.categories[1:]:
            out_names.append(f"{name}[{level}]")
            cols.append((cat == level).astype("float64"))
    n = data.shape[0]
    matrix = np.column_stack(cols) if cols else np.zeros((n, 0))
    return out_names, matrix


def _standardised(
    names: list[str], raw: np.ndarray, intercept: bool
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Prepend the intercept, centre (only with an intercept) and scale each column.

    Returns the names, the standardised matrix and the map ``A`` with ``x = x_raw @ A``.
    """
    n = raw.shape[0]
    if intercept:
        names = [INTERCEPT, *names]
        raw = np.column_stack([np.ones(n), raw])
    q = raw.shape[1]
    amap = np.eye(q)
    start = 1 if intercept else 0
    for k in range(start, q):
        scale = raw[:, k].std(ddof=1)
        if intercept:
            centre = raw[:, k].mean()
            amap[0, k] = -centre / scale
        amap[k, k] = 1.0 / scale
    return tuple(names), raw @ amap, amap


def cluster_frame(data: pd.DataFrame, cluster: str, columns: list[str]) -> pd.DataFrame:
    """One row per cluster (sorted labels): each column's value within the cluster.

    Level-2 columns are constant within clusters (validated); a cluster whose rows are all
    missing gets NaN.
    """
    frame = data[[cluster, *columns]]
    firsts = frame.groupby(cluster, sort=True, observed=True)[columns].first()
    return firsts


def build_design(
    data: pd.DataFrame,
    level1: Formula,
    variables: tuple[Variable, ...],
    level2: Formula | None = None,
    level2_variables: tuple[Variable, ...] = (),
) -> Design:
    """Build the standardised design of a validated specification.

    Parameters
    ----------
    data : pandas.DataFrame
        Already checked by :func:`jmimpute.spec.validate.validate`; not modified.
    level1 : Formula
        The level-1 formula, with a random term.
    variables : tuple of Variable
        The level-1 targets.
    level2 : Formula, optional
    level2_variables : tuple of Variable

    Returns
    -------
    Design
    """
    assert level1.cluster is not None
    targets = _targets(data, variables, center=level1.intercept)
    fixed_names, fixed_raw = _covariate_columns(data, level1.fixed)
    x_names, x, x_map = _standardised(fixed_names, fixed_raw, level1.intercept)
    rand_names, rand_raw = _covariate_columns(data, level1.random)
    z_names, z, z_map = _standardised(rand_names, rand_raw, level1.random_intercept)
    codes, labels = pd.factorize(data[level1.cluster], sort=True)

    l2 = None
    if level2 is not None:
        per_cluster = cluster_frame(data, level1.cluster, [*level2.targets, *level2.fixed])
        per_cluster = per_cluster.reset_index(drop=True)
        l2_targets = _targets(per_cluster, level2_variables, center=level2.intercept)
        v_raw_names, v_raw = _covariate_columns(per_cluster, level2.fixed)
        v_names, v, v_map = _standardised(v_raw_names, v_raw, level2.intercept)
        l2 = Level2(targets=l2_targets, v=v, v_names=v_names, v_map=v_map)

    return Design(
        level1=targets,
        x=x,
        x_names=x_names,
        x_map=x_map,
        z=z,
        z_names=z_names,
        z_map=z_map,
        cluster=codes.astype(np.int64),
        cluster_labels=np.asarray(labels),
        level2=l2,
    )
