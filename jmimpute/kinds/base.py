"""What every variable kind declares: the registry entry's fields and methods.

A kind says how a target enters the joint normal model and how its values come back:
how many latent dimensions it has and their names, whether their scale is fixed, the role
of those dimensions in the level-1 (or ``Psi``) covariance factor, the map that confines an
observed category's latent values to their region (PyTensor, with its log-Jacobian, and a
NumPy twin), the decoding of latent values to category codes, how imputed values fill a
column, which checks its observed values need, and what a delta shift means for it.

The PyTensor parts import PyTensor when called, so that the registry is light to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable

COVARIANCE_ROLES = ("free", "unit", "block")
"""A dimension's role in a covariance factor: a free standard deviation (``"free"``), a scale
fixed at 1 (``"unit"``), or, for the first kind that asks for it, the leading block whose
covariance is fixed at jomo's ``(I + 11') / 2`` (``"block"``; its later variables are
``"unit"``)."""


class VariableKind:
    """A kind of target (continuous, binary, nominal, ordinal): one registry entry.

    Attributes
    ----------
    name : str
        The registry key, as :class:`jmimpute.spec.variables.Variable` records it.
    latent : bool
        Whether the variable enters the model through latent normals (categories), whose
        scale is fixed at 1, rather than as standardised values.
    covariance : {"free", "unit", "block"}
        The role of its dimensions in the covariance factor (see :data:`COVARIANCE_ROLES`).
    delta : str
        What a delta adjustment (:func:`jmimpute.sensitivity`) shifts, in words.
    averages : bool
        Whether the mean of a set of values (or of codes) summarises them in one number:
        a continuous mean, a binary share; not so for nominal or ordinal codes.
    region : str
        Where an observed category confines its latent values, as the data-augmentation
        sampler draws them (:data:`jmimpute.models.augmented.sweep.REGIONS`): ``"sign"``,
        ``"max"``, or ``""`` (none: continuous, or a kind that sampler cannot draw).
    """

    name: str = ""
    latent: bool = False
    covariance: str = "free"
    delta: str = ""
    averages: bool = True
    region: str = ""

    def __repr__(self) -> str:
        return f"<variable kind {self.name!r}>"

    # -- dimensions ---------------------------------------------------------------------
    def n_dims(self, categories: tuple[Any, ...]) -> int:
        """Dimensions of a variable with these categories in the joint normal model."""
        return 1

    def dim_names(self, name: str, categories: tuple[Any, ...]) -> tuple[str, ...]:
        """Names of the variable's dimensions."""
        return (name,)

    def free_thresholds(self, categories: tuple[Any, ...]) -> int | None:
        """Free threshold parameters of the latent scale, or None if it has no thresholds."""
        return None

    def raw_signs(self, codes: np.ndarray) -> np.ndarray | None:
        """``+-1`` per observed value where the latent value is ``sign * softplus(raw)``.

        Such a map can be applied by the compiled kernel itself, and its raw values can be
        sampled as a shift per cluster plus deviations (both monotone in the latent value);
        None for kinds whose map is of another form.
        """
        return None

    # -- the latent map (observed categories) -------------------------------------------
    def latent_map(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: TensorVariable,
        thresholds: TensorVariable | None,
    ) -> tuple[TensorVariable, TensorVariable]:
        """Latent values ``(n, n_dims)`` of observed ``codes`` and the total log-Jacobian.

        Parameters
        ----------
        categories : tuple
            The variable's categories.
        codes : ndarray of int, shape (n,)
            Observed category codes (no missing).
        raw : TensorVariable
            Unconstrained values, shape (n, n_dims).
        thresholds : TensorVariable or None
            The ordered thresholds, for kinds that have them.
        """
        raise TypeError(f"{self.name} variables have no latent map")

    def latent_map_numpy(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: np.ndarray,
        thresholds: np.ndarray | None,
    ) -> np.ndarray:
        """NumPy twin of :meth:`latent_map` (values only), for tests."""
        raise TypeError(f"{self.name} variables have no latent map")

    # -- values back ----------------------------------------------------------------------
    def decode(self, values: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
        """The variable's value per unit from its dimensions ``(n, n_dims)``.

        Continuous: the standardised value; categorical: the category code.
        """
        return values[:, 0]

    def to_data(self, values: np.ndarray, center: float, scale: float) -> np.ndarray:
        """Decoded values on the data's scale (categorical codes stay codes)."""
        return center + scale * values

    def codes(self, column: pd.Series, categories: tuple[Any, ...]) -> np.ndarray:
        """Category codes ``0 .. K-1`` of a column, ``-1`` where missing."""
        raise TypeError(f"{self.name} variables have no categories")

    def fill(
        self,
        column: pd.Series,
        rows: np.ndarray,
        values: np.ndarray,
        categories: tuple[Any, ...],
        dtype: Any,
    ) -> pd.Series:
        """The column with the imputed ``values`` (data scale, or codes) at ``rows``."""
        col = column.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        col[rows] = values
        return pd.Series(col, index=column.index, name=column.name)

    # -- checks of the observed values ----------------------------------------------------
    def check(self, column: pd.Series, name: str) -> str | None:
        """What is wrong with a target's observed values, or None.

        The answer is the whole error message, naming the rows and the fix.
        """
        return None
