"""Numeric design of the level-1 model: standardised targets, covariates and clusters.

Targets are centred and scaled by their observed mean and standard deviation, covariates
by theirs, so the priors (stated on that scale) mean the same whatever the units. All
maps are linear, and the ``*_to_data`` methods carry parameters and imputations back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jmimpute.spec.formula import Formula

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class Design:
    """Standardised arrays of the level-1 model.

    Attributes
    ----------
    targets : tuple of str
        Names of the ``p`` targets.
    y : ndarray, shape (n, p)
        Standardised targets, NaN where missing.
    y_center, y_scale : ndarray, shape (p,)
        ``y_data = y_center + y_scale * y``.
    x : ndarray, shape (n, q)
        Standardised fixed-effect design; ``x = x_raw @ x_map``.
    x_names : tuple of str
        Column names of ``x`` (``"(Intercept)"``, covariates, ``"name[level]"`` dummies).
    x_map : ndarray, shape (q, q)
    z : ndarray, shape (n, r)
        Standardised random-effect design; ``z = z_raw @ z_map``.
    z_names : tuple of str
    z_map : ndarray, shape (r, r)
    cluster : ndarray of int, shape (n,)
        Cluster code per row, ``0 .. J-1`` in sorted order of the labels.
    cluster_labels : ndarray, shape (J,)
    """

    targets: tuple[str, ...]
    y: np.ndarray
    y_center: np.ndarray
    y_scale: np.ndarray
    x: np.ndarray
    x_names: tuple[str, ...]
    x_map: np.ndarray
    z: np.ndarray
    z_names: tuple[str, ...]
    z_map: np.ndarray
    cluster: np.ndarray
    cluster_labels: np.ndarray

    @property
    def n(self) -> int:
        """Rows."""
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        """Targets."""
        return int(self.y.shape[1])

    @property
    def q(self) -> int:
        """Fixed-effect columns."""
        return int(self.x.shape[1])

    @property
    def r(self) -> int:
        """Random-effect columns."""
        return int(self.z.shape[1])

    @property
    def n_clusters(self) -> int:
        """Clusters."""
        return int(self.cluster_labels.shape[0])

    @property
    def effect_names(self) -> tuple[str, ...]:
        """Random effects in the model's order (effect-major: ``l * p + v``)."""
        return tuple(f"{t}|{z}" for z in self.z_names for t in self.targets)

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
        """Random-effect covariance ``(..., d, d)`` on the data scale."""
        t = np.kron(self.z_map, np.diag(self.y_scale))
        return np.einsum("ab,...bc,dc->...ad", t, psi, t)

    def y_to_data(self, values: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Standardised target values, each in column ``columns[i]``, on the data scale."""
        return self.y_center[columns] + self.y_scale[columns] * values


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


def build_design(data: pd.DataFrame, formula: Formula) -> Design:
    """Build the standardised design of a validated level-1 formula.

    Parameters
    ----------
    data : pandas.DataFrame
        Already checked by :func:`jmimpute.validate.validate`; not modified.
    formula : Formula
        A level-1 formula with a random term.

    Returns
    -------
    Design
    """
    assert formula.cluster is not None
    y_raw = data[list(formula.targets)].to_numpy(dtype="float64", na_value=np.nan)
    center = np.nanmean(y_raw, axis=0) if formula.intercept else np.zeros(y_raw.shape[1])
    scale = np.nanstd(y_raw, axis=0, ddof=1)
    y = (y_raw - center) / scale

    fixed_names, fixed_raw = _covariate_columns(data, formula.fixed)
    x_names, x, x_map = _standardised(fixed_names, fixed_raw, formula.intercept)
    rand_names, rand_raw = _covariate_columns(data, formula.random)
    z_names, z, z_map = _standardised(rand_names, rand_raw, formula.random_intercept)

    codes, labels = pd.factorize(data[formula.cluster], sort=True)
    return Design(
        targets=formula.targets,
        y=y,
        y_center=center,
        y_scale=scale,
        x=x,
        x_names=x_names,
        x_map=x_map,
        z=z,
        z_names=z_names,
        z_map=z_map,
        cluster=codes.astype(np.int64),
        cluster_labels=np.asarray(labels),
    )
