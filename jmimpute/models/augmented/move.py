"""The latent move of one chain: random effects, then latents, then the statistics.

After each NUTS transition on the parameters (their draw given the completed data, random
effects integrated), the move draws the random effects given the parameters and the
completed data, exactly (:mod:`jmimpute.models.augmented.effects`); then every observed
category's latent value given the parameters and the random effects
(:func:`jmimpute.models.augmented.sweep.draw_latents`), adding each row to the statistics
that the chain's compiled likelihood reads. In this order the
three draws form a partially collapsed Gibbs sampler of the joint posterior
(``docs/design/categorical-at-scale.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from jmimpute.design.standardised import Design
from jmimpute.models.augmented.build import Latents
from jmimpute.models.augmented.effects import draw_effects
from jmimpute.models.augmented.sweep import add_latent_products, add_rows, draw_latents
from jmimpute.models.joint.conditional import _pattern_precisions, cluster_priors

if TYPE_CHECKING:
    from jmimpute.sampling.blocked import CompiledTarget


@njit(cache=True, nogil=True)
def conditional_regressions(
    sigma: np.ndarray, masks: np.ndarray, dims: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pattern and latent dimension: the regression on the other observed dimensions.

    Returns ``coef`` (K, p, p) and ``sd`` (K, p); only the ``dims`` a pattern observes are
    filled (the rest are never drawn there). Compiled: the move forms them at every
    iteration, about a hundred small solves, where NumPy's per-call overhead dominated.
    """
    n_pat, p = masks.shape
    coef = np.zeros((n_pat, p, p))
    sd = np.ones((n_pat, p))
    for k in range(n_pat):
        for d in dims:
            if not masks[k, d]:
                continue
            others = np.array([a for a in range(p) if masks[k, a] and a != d], dtype=np.int64)
            if others.size == 0:
                sd[k, d] = np.sqrt(sigma[d, d])
                continue
            block = np.empty((others.size, others.size))
            cross = np.empty(others.size)
            for i in range(others.size):
                cross[i] = sigma[others[i], d]
                for m in range(others.size):
                    block[i, m] = sigma[others[i], others[m]]
            b = np.linalg.solve(block, cross)
            explained = 0.0
            for i in range(others.size):
                coef[k, d, others[i]] = b[i]
                explained += cross[i] * b[i]
            sd[k, d] = np.sqrt(sigma[d, d] - explained)
    return coef, sd


class LatentMove:
    """One chain's latent values and the statistics its compiled likelihood reads.

    Parameters
    ----------
    design : Design
    latents : Latents
        From :func:`jmimpute.models.augmented.build.latent_layout`.
    target : CompiledTarget
        The chain's own copy of the parameter model (:meth:`CompiledTarget.for_chain`).
    """

    def __init__(self, design: Design, latents: Latents, target: CompiledTarget) -> None:
        self.design = design
        self.latents = latents
        self.y = latents.y0.copy()
        self.syy = target.shared("kernel_syy0")
        self.syx = target.shared("kernel_syx0")
        self.syz_t = target.shared("kernel_syz0_t")
        self.zz_t = target.shared("kernel_zz_t")
        self.sxz_t = target.shared("kernel_sxz_t")
        # what the latents never change: the rows without latents, and the products of the
        # other rows without a latent value; their sums are kept apart and copied in
        self.dims = np.unique(latents.table[:, 0])
        self.base = tuple(np.zeros_like(a) for a in (self.syy, self.syx, self.syz_t))
        stats = latents.stats
        add_rows(
            self.y, design.x, design.z, stats.pattern, design.cluster, latents.base_rows,
            *self.base,
        )  # fmt: skip
        constant = self.y.copy()
        constant[:, self.dims] = 0.0
        add_rows(
            constant, design.x, design.z, stats.pattern, design.cluster, latents.rows, *self.base
        )
        self.target = target
        names, slices, shapes = target.compiled.shape_info
        self.layout = {n: (s, tuple(sh)) for n, s, sh in zip(names, slices, shapes, strict=True)}
        self.l2 = design.level2_patterns()
        self.effects = np.zeros((design.n_clusters, design.r, design.p))
        self._restat()

    def _theta(self, q: np.ndarray) -> dict[str, np.ndarray]:
        values = self.target.expand(q)
        return {n: values[s].reshape(shape) for n, (s, shape) in self.layout.items()}

    def _reset(self) -> None:
        """The statistics without the latent values, to which the sweep adds their products."""
        for live, base in zip((self.syy, self.syx, self.syz_t), self.base, strict=True):
            live[...] = base

    def _restat(self) -> None:
        """The statistics of the current latent values, in the target's shared arrays."""
        self._reset()
        lat = self.latents
        add_latent_products(
            self.y, self.design.x, self.design.z, lat.stats.pattern, self.design.cluster,
            lat.rows, lat.row_cells, lat.table, self.dims, self.syy, self.syx, self.syz_t,
        )  # fmt: skip

    def draw(self, q: np.ndarray, rng: np.random.Generator) -> None:
        """Random effects given the parameters at ``q``, then latents, then statistics."""
        design, lat = self.design, self.latents
        theta = self._theta(q)
        beta, sigma, psi = theta["beta_s"], theta["sigma_s"], theta["psi_s"]
        resid2 = None
        if design.level2 is not None:
            resid2 = (
                np.nan_to_num(design.level2.targets.values) - design.level2.v @ theta["gamma_s"]
            )
        lam, h = cluster_priors(design, psi, resid2, *self.l2)
        prec = _pattern_precisions(sigma, lat.stats.masks)
        normals = np.asarray(rng.standard_normal((design.n_clusters, design.d)))
        draw_effects(lam, h, self.zz_t, self.syz_t, self.sxz_t, prec, beta, normals, self.effects)
        coef, sd = conditional_regressions(sigma, lat.stats.masks, self.dims)
        self._reset()
        draw_latents(
            self.y, design.x, design.z, lat.stats.pattern, design.cluster, beta, self.effects,
            coef, sd, lat.rows, lat.row_cells, lat.table, int(rng.integers(2**63)), self.dims,
            self.syy, self.syx, self.syz_t,
        )  # fmt: skip

    def state(self) -> np.ndarray:
        """The latent values in ``Targets.latent_cells`` order (``DrawParams.latent``)."""
        return self.y[self.latents.cells].copy()
