"""Latent normals of observed categorical values: constrained by a transform, and decoded.

An observed category confines its latent values to a region; NUTS samples an
unconstrained vector ``a`` that a smooth bijection maps into that region, with the
log-Jacobian added to the target:

* binary: ``z = +softplus(a)`` for the second category, ``-softplus(a)`` for the first
  (softplus rather than exp: near the boundary it is linear, so the latent of a row whose
  category is nearly certain is not pushed into a long exponential tail);
* nominal with K categories (K - 1 latents): the baseline has all ``z_l = -exp(a_l)``;
  category k has ``z_k = exp(a_k)`` and ``z_l = z_k - exp(a_l)`` for the others, so that
  ``z_k`` is the largest and positive; log-Jacobian ``sum a``;
* ordinal with thresholds ``t_0 = 0 < t_1 < ... < t_{K-2}``: the first category
  ``z = -exp(a)``, the last ``t_{K-2} + exp(a)``, a middle one
  ``t_{c-1} + (t_c - t_{c-1}) sigmoid(a)``.

The same maps are written for PyTensor (the model) and NumPy (decoding after sampling).
The compiled likelihood kernel applies the binary map itself, to level-1 binary latents
passed raw (:mod:`jmimpute._kernels.kernel_latent`); the PyTensor map then only gives the
recorded ``latent_values``.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable
from scipy.special import expit

from jmimpute.spec.variables import Variable


def thresholds_from(delta: TensorVariable) -> TensorVariable:
    """Ordered thresholds ``(0, cumsum(exp(delta)))``."""
    return pt.concatenate([pt.zeros((1,)), pt.cumsum(pt.exp(delta))])


def latent_values(
    var: Variable, codes: np.ndarray, raw: TensorVariable, thresholds: TensorVariable | None
) -> tuple[TensorVariable, TensorVariable]:
    """Latent values ``(n, n_dims)`` and total log-Jacobian for observed ``codes``.

    Parameters
    ----------
    var : Variable
    codes : ndarray of int, shape (n,)
        Observed category codes (no missing).
    raw : TensorVariable
        Unconstrained values, shape (n, n_dims).
    thresholds : TensorVariable or None
        For ordinal variables, shape (K - 1,).
    """
    if var.kind == "binary":
        sign = np.where(codes == 1, 1.0, -1.0)[:, None]
        return sign * pt.softplus(raw), -pt.softplus(-raw).sum()
    if var.kind == "nominal":
        k = var.n_dims
        expo = pt.exp(raw)
        onehot = np.eye(k)[np.clip(codes - 1, 0, k - 1)]
        top = (expo * onehot).sum(axis=1, keepdims=True)
        base = (codes == 0)[:, None]
        z = pt.switch(base, -expo, pt.switch(onehot > 0, top, top - expo))
        return z, raw.sum()
    assert thresholds is not None
    n_cat = len(var.categories)
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


def latent_values_numpy(
    var: Variable, codes: np.ndarray, raw: np.ndarray, thresholds: np.ndarray | None
) -> np.ndarray:
    """NumPy twin of :func:`latent_values` (values only), for tests."""
    if var.kind == "binary":
        return np.where(codes == 1, 1.0, -1.0)[:, None] * np.logaddexp(0.0, raw)
    if var.kind == "nominal":
        expo = np.exp(raw)
        k = var.n_dims
        onehot = np.eye(k)[np.clip(codes - 1, 0, k - 1)]
        top = (expo * onehot).sum(axis=1, keepdims=True)
        z = np.where(onehot > 0, top, top - expo)
        return np.where((codes == 0)[:, None], -expo, z)
    assert thresholds is not None
    n_cat = len(var.categories)
    a = raw[:, 0]
    lo = thresholds[np.clip(codes - 1, 0, n_cat - 2)]
    hi = thresholds[np.clip(codes, 0, n_cat - 2)]
    z = np.where(
        codes == 0,
        thresholds[0] - np.exp(a),
        np.where(codes == n_cat - 1, lo + np.exp(a), lo + (hi - lo) * expit(a)),
    )
    return z[:, None]


def decode(var: Variable, z: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    """Category codes from latent values ``(n, n_dims)``: the inverse of the constraints."""
    if var.kind == "binary":
        return (z[:, 0] > 0).astype(np.int64)
    if var.kind == "nominal":
        best = np.argmax(z, axis=1)
        return np.where(z.max(axis=1) > 0, best + 1, 0).astype(np.int64)
    assert thresholds is not None
    return np.searchsorted(thresholds, z[:, 0], side="left").astype(np.int64)
