"""Binary targets: one latent normal, below 0 for the first category, above for the second.

An observed category confines its latent value to a half-line; NUTS samples an
unconstrained ``a`` with ``z = +softplus(a)`` for the second category and
``-softplus(a)`` for the first (softplus rather than exp: near the boundary it is linear,
so the latent of a row whose category is nearly certain is not pushed into a long
exponential tail), log-Jacobian ``log sigmoid(a)``. The compiled likelihood kernel can apply
this map itself (:meth:`raw_signs`, :mod:`jmimpute._kernels.kernel_latent`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jmimpute.kinds.categorical import Categorical

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable


class Binary(Categorical):
    """Two categories, one latent dimension of scale 1."""

    name = "binary"
    region = "sign"
    delta = "the latent normal (scale 1, probit-like): positive favours the second category"

    def raw_signs(self, codes: np.ndarray) -> np.ndarray:
        """+1 for the second category, -1 for the first."""
        return np.where(codes == 1, 1.0, -1.0)

    def latent_map(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: TensorVariable,
        thresholds: TensorVariable | None,
    ) -> tuple[TensorVariable, TensorVariable]:
        """``z = sign softplus(a)``, log-Jacobian ``-softplus(-a)`` summed."""
        import pytensor.tensor as pt

        sign = self.raw_signs(codes)[:, None]
        return sign * pt.softplus(raw), -pt.softplus(-raw).sum()

    def latent_map_numpy(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: np.ndarray,
        thresholds: np.ndarray | None,
    ) -> np.ndarray:
        """NumPy twin of :meth:`latent_map`."""
        return self.raw_signs(codes)[:, None] * np.logaddexp(0.0, raw)

    def decode(self, values: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
        """The second category where the latent value is positive."""
        return (values[:, 0] > 0).astype(np.int64)


BINARY = Binary()
