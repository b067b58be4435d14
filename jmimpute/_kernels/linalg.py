"""Small dense linear algebra, unrolled over matrix entries and vectorised over a batch.

The collapsed likelihood needs Cholesky factors, log-determinants and solves of many
tiny symmetric positive-definite matrices (one per missingness pattern, one per cluster).
Batched LAPACK calls carry a large fixed cost per call on the CPU, while the same
factorisation written entry by entry, with each entry a vector over the batch, compiles
to a handful of fused elementwise kernels (docs/design/collapsed-likelihood.md,
"Numerics", has the figures). Above ``UNROLL_MAX`` the graph grows as d^3 and the batched
ops win again, so we fall back to them.

Every function takes a tensor of shape ``(..., d, d)`` with static ``d``.
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

UNROLL_MAX = 8
"""Largest matrix dimension factorised entry by entry."""

Entries = list[list[TensorVariable]]


def cholesky_entries(a: TensorVariable, d: int) -> Entries:
    """Lower Cholesky factor of a batch of SPD matrices, as a ragged list of entries.

    Parameters
    ----------
    a : TensorVariable
        Shape ``(..., d, d)``; only the lower triangle is read.
    d : int
        The static matrix dimension.

    Returns
    -------
    list of list of TensorVariable
        ``L[i][j]`` for ``j <= i``, each of shape ``(...)``.
    """
    low: Entries = [[] for _ in range(d)]
    for j in range(d):
        diag = a[..., j, j]
        for k in range(j):
            diag = diag - low[j][k] ** 2
        low[j].append(pt.sqrt(diag))
        for i in range(j + 1, d):
            off = a[..., i, j]
            for k in range(j):
                off = off - low[i][k] * low[j][k]
            low[i].append(off / low[j][j])
    return low


def forward_solve(low: Entries, b: list[TensorVariable]) -> list[TensorVariable]:
    """Solve ``L x = b`` for lower-triangular ``L`` given as entries."""
    x: list[TensorVariable] = []
    for i in range(len(low)):
        acc = b[i]
        for k in range(i):
            acc = acc - low[i][k] * x[k]
        x.append(acc / low[i][i])
    return x


def logdet_and_quad(a: TensorVariable, b: TensorVariable, d: int) -> tuple[TensorVariable, ...]:
    """``log|A|`` and ``b' A^{-1} b`` for a batch of SPD matrices.

    Parameters
    ----------
    a : TensorVariable
        Shape ``(..., d, d)``.
    b : TensorVariable
        Shape ``(..., d)``.
    d : int
        The static matrix dimension.

    Returns
    -------
    tuple of TensorVariable
        ``(logdet, quad)``, each of shape ``(...)``.
    """
    if d > UNROLL_MAX:
        chol = pt.linalg.cholesky(a)
        logdet = 2.0 * pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        sol = pt.linalg.solve_triangular(chol, b[..., None], lower=True, b_ndim=2)[..., 0]
        return logdet, (sol**2).sum(-1)
    low = cholesky_entries(a, d)
    x = forward_solve(low, [b[..., i] for i in range(d)])
    logdet = (
        2.0 * pt.add(*[pt.log(low[i][i]) for i in range(d)]) if d > 1 else 2.0 * pt.log(low[0][0])
    )
    quad = pt.add(*[xi**2 for xi in x]) if d > 1 else x[0] ** 2
    return logdet, quad


def logdet_and_inverse(a: TensorVariable, d: int) -> tuple[TensorVariable, TensorVariable]:
    """``log|A|`` and ``A^{-1}`` for a batch of SPD matrices.

    Parameters
    ----------
    a : TensorVariable
        Shape ``(..., d, d)``.
    d : int
        The static matrix dimension.

    Returns
    -------
    tuple of TensorVariable
        ``(logdet, inverse)`` of shapes ``(...)`` and ``(..., d, d)``.
    """
    if d > UNROLL_MAX:
        chol = pt.linalg.cholesky(a)
        logdet = 2.0 * pt.log(pt.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        eye = pt.broadcast_to(pt.eye(d), a.shape)
        chol_inv = pt.linalg.solve_triangular(chol, eye, lower=True, b_ndim=2)
        return logdet, pt.einsum("...ca,...cb->...ab", chol_inv, chol_inv)
    return inverse_from_factor(cholesky_entries(a, d))


def inverse_from_factor(low: Entries) -> tuple[TensorVariable, TensorVariable]:
    """``log|A|`` and ``A^{-1}`` of ``A = L L'`` from the entries of ``L`` (lower, batched).

    Parameters
    ----------
    low : list of list of TensorVariable
        ``L[i][j]`` for ``j <= i``, each of shape ``(...)``, with a positive diagonal.

    Returns
    -------
    tuple of TensorVariable
        ``(logdet, inverse)`` of shapes ``(...)`` and ``(..., d, d)``.
    """
    d = len(low)
    # Columns of L^{-1}: solve L x = e_c entry by entry, skipping the known zeros.
    linv: Entries = [[] for _ in range(d)]  # linv[i][c] for c <= i
    for c in range(d):
        for i in range(c, d):
            acc = pt.ones_like(low[i][i]) if i == c else pt.zeros_like(low[i][i])
            for k in range(c, i):
                acc = acc - low[i][k] * linv[k][c]
            linv[i].append(acc / low[i][i])
    # A^{-1}[r, s] = sum_{c >= max(r, s)} Linv[c, r] Linv[c, s]
    rows = []
    for r in range(d):
        row = []
        for s in range(d):
            terms = [linv[c][r] * linv[c][s] for c in range(max(r, s), d)]
            row.append(pt.add(*terms) if len(terms) > 1 else terms[0])
        rows.append(pt.stack(row, axis=-1))
    inverse = pt.stack(rows, axis=-2)
    logdet = (
        2.0 * pt.add(*[pt.log(low[i][i]) for i in range(d)]) if d > 1 else 2.0 * pt.log(low[0][0])
    )
    return logdet, inverse
