"""Nominal targets: K - 1 latent normals, one per non-baseline category (jomo's form).

The baseline (the first category) is the one where all latents are below 0; otherwise the
largest latent wins. The first nominal target's latents lead their covariance factor with
the fixed covariance ``(I + 11') / 2`` (``covariance = "block"``). An observed category is
mapped from unconstrained ``a``: the baseline has all ``z_l = -exp(a_l)``; category k has
``z_k = exp(a_k)`` and ``z_l = z_k - exp(a_l)`` for the others, so that ``z_k`` is the
largest and positive; log-Jacobian ``sum a``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jmimpute.kinds.categorical import Categorical

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable


class Nominal(Categorical):
    """Three or more unordered categories."""

    name = "nominal"
    region = "max"
    covariance = "block"
    averages = False
    delta = (
        "all K - 1 latent normals together: a positive delta moves imputations away from the "
        "baseline category"
    )

    def n_dims(self, categories: tuple[Any, ...]) -> int:
        """One latent per non-baseline category."""
        return len(categories) - 1

    def dim_names(self, name: str, categories: tuple[Any, ...]) -> tuple[str, ...]:
        """``name[category]`` per non-baseline category."""
        return tuple(f"{name}[{c}]" for c in categories[1:])

    def latent_map(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: TensorVariable,
        thresholds: TensorVariable | None,
    ) -> tuple[TensorVariable, TensorVariable]:
        """See the module docstring."""
        import pytensor.tensor as pt

        k = self.n_dims(categories)
        expo = pt.exp(raw)
        onehot = np.eye(k)[np.clip(codes - 1, 0, k - 1)]
        top = (expo * onehot).sum(axis=1, keepdims=True)
        base = (codes == 0)[:, None]
        z = pt.switch(base, -expo, pt.switch(onehot > 0, top, top - expo))
        return z, raw.sum()

    def latent_map_numpy(
        self,
        categories: tuple[Any, ...],
        codes: np.ndarray,
        raw: np.ndarray,
        thresholds: np.ndarray | None,
    ) -> np.ndarray:
        """NumPy twin of :meth:`latent_map`."""
        expo = np.exp(raw)
        k = self.n_dims(categories)
        onehot = np.eye(k)[np.clip(codes - 1, 0, k - 1)]
        top = (expo * onehot).sum(axis=1, keepdims=True)
        z = np.where(onehot > 0, top, top - expo)
        return np.where((codes == 0)[:, None], -expo, z)

    def decode(self, values: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
        """The baseline where every latent is negative, else the largest one's category."""
        best = np.argmax(values, axis=1)
        return np.where(values.max(axis=1) > 0, best + 1, 0).astype(np.int64)


NOMINAL = Nominal()
