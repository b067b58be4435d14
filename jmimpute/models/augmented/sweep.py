"""The per-row work of one data-augmentation iteration (Numba): latents, then statistics.

Given the parameters and the random effects, every row's latent values are conditionally
independent of the other rows'. :func:`draw_latents` gives each row one Gibbs sweep over
its latent dimensions: each a normal given the row's other observed dimensions (the
continuous values and the other latents) truncated to its category's region, which is a
half-line given the row's other latents (:data:`REGIONS`). It then adds the products
that involve the row's latent values to the sufficient statistics the collapsed
likelihood reads, in the compiled kernel's layout
(:class:`jmimpute._kernels.ops.KernelData`); the products among the row's continuous
values and covariates never change, and are added once (:func:`add_rows` with the latent
columns at 0).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jmimpute.models.augmented.generator import seeded
from jmimpute.models.augmented.truncated import above, below

REGIONS = {"sign": 0, "max": 1}
"""A kind's region (:attr:`jmimpute.kinds.base.VariableKind.region`) as the sweep codes it.

``"sign"``: a binary latent is above 0 for the second category, below it for the first.
``"max"``: a nominal variable's latents are all below 0 for the first category; for
category ``c`` its latent is above 0 and above the others, which are below it (jomo's
nominal model).
"""


@njit(cache=True, nogil=True)
def draw_latents(
    y: np.ndarray,
    x: np.ndarray,
    zdes: np.ndarray,
    pattern: np.ndarray,
    cluster: np.ndarray,
    beta: np.ndarray,
    effects: np.ndarray,
    coef: np.ndarray,
    cond_sd: np.ndarray,
    rows: np.ndarray,
    row_cells: np.ndarray,
    cells: np.ndarray,
    seed: int,
    dims: np.ndarray,
    syy: np.ndarray,
    syx: np.ndarray,
    syz_t: np.ndarray,
) -> None:
    """One Gibbs sweep over the latent cells of ``rows``, in place in ``y``.

    Each row's products with its new latent values are added to the statistics as it is
    done, in the same pass over the rows (:func:`add_latent_products`).

    Parameters
    ----------
    y : ndarray, shape (n, p)
        Observed values, the latent values at observed categorical cells, 0 elsewhere.
    x, zdes : ndarray, shapes (n, q) and (n, r)
        Fixed-effect and random-effect designs.
    pattern, cluster : ndarray of int, shape (n,)
        Each row's observed pattern (latent cells observed) and cluster.
    beta : ndarray, shape (q, p)
    effects : ndarray, shape (J, r, p)
        The random effects.
    coef, cond_sd : ndarray, shapes (K, p, p) and (K, p)
        Per pattern ``k`` and dimension ``d``: the regression of ``d`` on the pattern's
        other observed dimensions (zero elsewhere) and the conditional sd.
    rows : ndarray of int, shape (R,)
        Rows with latent cells.
    row_cells : ndarray of int, shape (R + 1,)
        Row ``rows[i]``'s cells are ``cells[row_cells[i]:row_cells[i + 1]]``.
    cells : ndarray of int, shape (L, 5)
        Per latent cell: column, region code (:data:`REGIONS`), category code, and the
        variable's first column and number of dimensions (its columns are contiguous).
    seed : int
        Seeds the sweep's own generator (:mod:`jmimpute.models.augmented.generator`),
        which the truncated draws use.
    dims : ndarray of int
        The latent columns (every column of ``cells[:, 0]``).
    syy, syx, syz_t : ndarray
        The statistics without these rows' latent products (:func:`add_rows` of the values
        with the latent columns at 0), to which those are added.
    """
    state = seeded(seed)
    p = y.shape[1]
    q = x.shape[1]
    r = zdes.shape[1]
    mu = np.empty(p)
    e = np.empty(p)
    for i in range(rows.shape[0]):
        row = rows[i]
        k = pattern[row]
        j = cluster[row]
        for a in range(p):
            m = 0.0
            for b in range(q):
                m += x[row, b] * beta[b, a]
            for b in range(r):
                m += zdes[row, b] * effects[j, b, a]
            mu[a] = m
            e[a] = y[row, a] - m
        for c in range(row_cells[i], row_cells[i + 1]):
            d = cells[c, 0]
            region = cells[c, 1]
            code = cells[c, 2]
            m = mu[d]
            for a in range(p):
                m += coef[k, d, a] * e[a]
            s = cond_sd[k, d]
            if region == 0:
                v = above(m, s, 0.0, state) if code == 1 else below(m, s, 0.0, state)
            else:
                first = cells[c, 3]
                if code == 0:
                    v = below(m, s, 0.0, state)
                elif d == first + code - 1:  # the category's own latent: above the rest
                    lower = 0.0
                    for t in range(first, first + cells[c, 4]):
                        if t != d:
                            lower = max(lower, y[row, t])
                    v = above(m, s, lower, state)
                else:  # another latent: below the category's own
                    v = below(m, s, y[row, first + code - 1], state)
            y[row, d] = v
            e[d] = v - mu[d]
        for c in range(row_cells[i], row_cells[i + 1]):  # the new values' products
            _add_column(cells[c, 0], y[row], x, zdes, row, k, j, syy, syx, syz_t)
    _mirror(syy, dims)


@njit(cache=True, nogil=True, inline="always")
def _add_column(
    a: int,
    y: np.ndarray,
    x: np.ndarray,
    zdes: np.ndarray,
    row: int,
    k: int,
    j: int,
    syy: np.ndarray,
    syx: np.ndarray,
    syz_t: np.ndarray,
) -> None:
    """Add value ``y[a]``'s products with ``y``, row ``row``'s covariates and its effects'.

    Into ``y[a]``'s row of ``syy`` (for a latent ``a``, :func:`_mirror` fills its column),
    ``syx`` and ``syz_t``.
    """
    ya = y[a]
    for b in range(y.shape[0]):
        syy[k, a, b] += ya * y[b]
    for b in range(x.shape[1]):
        syx[k, a, b] += ya * x[row, b]
    for b in range(zdes.shape[1]):
        syz_t[k, a, b, j] += ya * zdes[row, b]


@njit(cache=True, nogil=True)
def _mirror(syy: np.ndarray, dims: np.ndarray) -> None:
    """``syy[k, b, a] = syy[k, a, b]`` for latent ``a`` and any other column ``b``."""
    p = syy.shape[1]
    latent = np.zeros(p, dtype=np.bool_)
    for a in dims:
        latent[a] = True
    for k in range(syy.shape[0]):
        for a in dims:
            for b in range(p):
                if not latent[b]:
                    syy[k, b, a] = syy[k, a, b]


@njit(cache=True, nogil=True)
def add_latent_products(
    y: np.ndarray,
    x: np.ndarray,
    zdes: np.ndarray,
    pattern: np.ndarray,
    cluster: np.ndarray,
    rows: np.ndarray,
    row_cells: np.ndarray,
    cells: np.ndarray,
    dims: np.ndarray,
    syy: np.ndarray,
    syx: np.ndarray,
    syz_t: np.ndarray,
) -> None:
    """Add the products that involve ``rows``' latent values to statistics without them.

    ``cells`` as in :func:`draw_latents`; the statistics hold the rest (:func:`add_rows` of
    the values with the latent columns at 0). The products of two latent values enter once from each
    side; those of a latent value with a continuous one are added to the latent's row of
    ``syy`` and then mirrored, so ``syy`` stays symmetric.
    """
    for i in range(rows.shape[0]):
        row = rows[i]
        for c in range(row_cells[i], row_cells[i + 1]):
            _add_column(
                cells[c, 0], y[row], x, zdes, row, pattern[row], cluster[row], syy, syx, syz_t
            )
    _mirror(syy, dims)


@njit(cache=True, nogil=True)
def add_rows(
    y: np.ndarray,
    x: np.ndarray,
    zdes: np.ndarray,
    pattern: np.ndarray,
    cluster: np.ndarray,
    rows: np.ndarray,
    syy: np.ndarray,
    syx: np.ndarray,
    syz_t: np.ndarray,
) -> None:
    """Add ``rows``' products to the statistics (the kernel's ``syy0``, ``syx0``, ``syz0_t``).

    ``syy[k] += y y'``, ``syx[k] += y x'`` and ``syz_t[k, :, :, j] += y z'`` for each row of
    pattern ``k`` in cluster ``j``; ``y`` is 0 at the row's unobserved cells.
    """
    for i in range(rows.shape[0]):
        row = rows[i]
        for a in range(y.shape[1]):
            if y[row, a] != 0.0:
                _add_column(a, y[row], x, zdes, row, pattern[row], cluster[row], syy, syx, syz_t)
