"""Ordinal targets: one latent normal of scale 1 cut by ordered thresholds.

The thresholds are ``t_0 = 0 < t_1 < ... < t_{K-2}`` (the intercept is free), ``t_c =
sum_{l<=c} exp(delta_l)`` with the ``K - 2`` free ``delta`` (:meth:`free_thresholds`). An
observed category is mapped from unconstrained ``a``: the first ``z = -exp(a)``, the last
``t_{K-2} + exp(a)``, a middle one ``t_{c-1} + (t_c - t_{c-1}) sigmoid(a)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from jmimpute.kinds.categorical import Categorical

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable


class Ordinal(Categorical):
    """Two or more ordered categories."""

    name = "ordinal"
    averages = False
    delta = "the latent normal (scale 1): positive moves imputations up the categories"

    def free_thresholds(self, categories: tuple[Any, ...]) -> int:
        """``K - 2``: the first threshold is 0, fixed for identification."""
        return len(categories) - 2

    def latent_map(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: TensorVariable,
        thresholds: TensorVariable | None,
    ) -> tuple[TensorVariable, TensorVariable]:
        """See the module docstring."""
        import pytensor.tensor as pt

        assert thresholds is not None
        n_cat = len(categories)
        a = raw[:, 0]
        lo = thresholds[np.clip(codes - 1, 0, n_cat - 2)]
        hi = thresholds[np.clip(codes, 0, n_cat - 2)]
        first, last = codes == 0, codes == n_cat - 1
        middle = ~(first | last)
        width = pt.switch(middle, hi - lo, 1.0)
        sig = pt.sigmoid(a)
        z = pt.switch(
            first, thresholds[0] - pt.exp(a), pt.switch(last, lo + pt.exp(a), lo + width * sig)
        )
        log_jac = pt.switch(middle, pt.log(width) + pt.log(sig) + pt.log1p(-sig), a)
        return z[:, None], log_jac.sum()

    def latent_map_numpy(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: np.ndarray,
        thresholds: np.ndarray | None,
    ) -> np.ndarray:
        """NumPy twin of :meth:`latent_map`."""
        assert thresholds is not None
        n_cat = len(categories)
        a = raw[:, 0]
        lo = thresholds[np.clip(codes - 1, 0, n_cat - 2)]
        hi = thresholds[np.clip(codes, 0, n_cat - 2)]
        z = np.where(
            codes == 0,
            thresholds[0] - np.exp(a),
            np.where(codes == n_cat - 1, lo + np.exp(a), lo + (hi - lo) * expit(a)),
        )
        return z[:, None]

    def decode(self, values: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
        """The category between the thresholds the latent value falls in."""
        assert thresholds is not None
        return np.searchsorted(thresholds, values[:, 0], side="left").astype(np.int64)


ORDINAL = Ordinal()
