"""One NUTS transition, for samplers that interleave it with other moves.

nutpie runs NUTS from start to end and takes no other moves, so a sampler that alternates
NUTS on the parameters with exact draws of latent values (the data augmentation of
``docs/design/categorical-at-scale.md``) drives NUTS itself, one transition at a time.
This is Stan's multinomial NUTS (Betancourt 2017, "A conceptual introduction to
Hamiltonian Monte Carlo", appendix A; Stan's ``base_nuts``): trajectories doubled in a
random direction, states drawn with weights ``exp(-H)``, biased progressive sampling
between subtrees, and the generalised no-U-turn criterion checked across merged subtrees
and between them. The Euclidean metric is diagonal; :mod:`jmimpute.sampling.adapt`
adapts it and the step size.

The target is any callable giving the log density and its gradient at a point, e.g. a
compiled model's Numba callback (:class:`jmimpute.sampling.blocked.CompiledTarget`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LogpGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]
"""``f(q) -> (log density, gradient)``; ``-inf`` (any gradient) outside the support."""

MAX_DELTA_H = 1000.0
"""Energy error that marks a divergence (Stan's and nutpie's)."""


@dataclass
class State:
    """A point of the trajectory: position, momentum, log density and its gradient."""

    q: np.ndarray
    p: np.ndarray
    logp: float
    grad: np.ndarray


@dataclass(frozen=True)
class TransitionStats:
    """What one transition reports (the names of ArviZ's ``sample_stats``).

    Attributes
    ----------
    accept : float
        Mean Metropolis acceptance over the trajectory: what the step size adapts to.
    n_steps, tree_depth : int
        Leapfrog steps and doublings.
    diverging : bool
        An energy error above :data:`MAX_DELTA_H` (or a non-finite one) ended it.
    at_max_depth : bool
        The trajectory stopped at the maximum depth, not at a U-turn.
    energy : float
        The Hamiltonian at the chosen state.
    """

    accept: float
    n_steps: int
    tree_depth: int
    diverging: bool
    energy: float
    at_max_depth: bool = False


@dataclass
class _Ends:
    """Momentum and sharp momentum (``M^-1 p``) at both ends of a subtree, and its sum ``rho``.

    ``beg`` is the end built first (next to the trajectory it extends), ``end`` the last.
    """

    p_beg: np.ndarray
    sharp_beg: np.ndarray
    p_end: np.ndarray
    sharp_end: np.ndarray
    rho: np.ndarray


def _log_add(a: float, b: float) -> float:
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    hi = max(a, b)
    return hi + float(np.log1p(np.exp(-abs(a - b))))


def _turning(sharp_minus: np.ndarray, sharp_plus: np.ndarray, rho: np.ndarray) -> bool:
    """The generalised no-U-turn criterion fails (Betancourt 2017, eq. A.7)."""
    return not (float(sharp_plus @ rho) > 0.0 and float(sharp_minus @ rho) > 0.0)


class Nuts:
    """NUTS transitions of one chain on ``target``.

    Parameters
    ----------
    target : callable
        ``f(q) -> (log density, gradient)``.
    inv_mass : numpy.ndarray
        Diagonal of the inverse metric; replaced by the adaptation.
    step_size : float
    rng : numpy.random.Generator
        The chain's stream: momenta, directions and multinomial choices.
    max_depth : int, default 10
        At most ``2**max_depth`` leapfrog steps per transition (Stan's and nutpie's).
    """

    def __init__(
        self,
        target: LogpGrad,
        inv_mass: np.ndarray,
        step_size: float,
        rng: np.random.Generator,
        max_depth: int = 10,
    ) -> None:
        self.target = target
        self.inv_mass = np.asarray(inv_mass, dtype=float)
        self.step_size = float(step_size)
        self.rng = rng
        self.max_depth = max_depth

    # -- the Hamiltonian ---------------------------------------------------------------
    def energy(self, z: State) -> float:
        """``H = -log p(q) + p' M^-1 p / 2``; ``inf`` where it is not finite.

        A diverging trajectory's momentum can overflow: that is a divergence, not an error.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            h = -z.logp + 0.5 * float(z.p @ (self.inv_mass * z.p))
        return h if np.isfinite(h) else np.inf

    def momentum(self) -> np.ndarray:
        """A draw of ``p ~ N(0, M)``."""
        return self.rng.standard_normal(self.inv_mass.size) / np.sqrt(self.inv_mass)

    def leapfrog(self, z: State, eps: float) -> State:
        """One leapfrog step of signed size ``eps`` from ``z`` (a new state)."""
        with np.errstate(over="ignore", invalid="ignore"):  # a divergence, caught below
            p = z.p + 0.5 * eps * z.grad
            q = z.q + eps * self.inv_mass * p
        logp, grad = self.target(q)
        grad = np.asarray(grad, dtype=float)
        if not np.isfinite(logp) or not np.all(np.isfinite(grad)):
            return State(q, p, -np.inf, np.zeros_like(q))
        with np.errstate(over="ignore", invalid="ignore"):
            return State(q, p + 0.5 * eps * grad, float(logp), grad)

    def start(self, q: np.ndarray) -> State:
        """The state at ``q`` (momentum drawn by each transition)."""
        logp, grad = self.target(np.asarray(q, dtype=float))
        return State(np.asarray(q, dtype=float).copy(), np.zeros_like(q), float(logp), grad)

    # -- a transition ------------------------------------------------------------------
    def transition(self, z0: State) -> tuple[State, TransitionStats]:
        """One NUTS transition from ``z0`` (its momentum is redrawn)."""
        z0 = State(z0.q, self.momentum(), z0.logp, z0.grad)
        h0 = self.energy(z0)
        sharp0 = self.inv_mass * z0.p
        # the trajectory's two extremes: state, momentum and sharp momentum
        z_fwd, p_fwd, sharp_fwd = z0, z0.p, sharp0
        z_bck, p_bck, sharp_bck = z0, z0.p, sharp0
        rho = z0.p.copy()
        sample, log_weight = z0, 0.0
        counts: dict[str, float] = {"steps": 0, "accept": 0.0, "diverging": False}
        depth, at_max_depth = 0, False
        while depth < self.max_depth:
            forward = self.rng.uniform() > 0.5
            eps = self.step_size if forward else -self.step_size
            new = self._tree(depth, z_fwd if forward else z_bck, eps, h0, counts)
            if new is None:
                break
            end, proposal, sub_weight, sub = new
            # the old trajectory's ends adjacent to and far from the new subtree
            if forward:
                p_near, sharp_near, sharp_far = p_fwd, sharp_fwd, sharp_bck
            else:
                p_near, sharp_near, sharp_far = p_bck, sharp_bck, sharp_fwd
            depth += 1
            if sub_weight > log_weight or self.rng.uniform() < np.exp(sub_weight - log_weight):
                sample = proposal
            log_weight = _log_add(log_weight, sub_weight)
            merged = rho + sub.rho
            turned = (
                _turning(sharp_far, sub.sharp_end, merged)
                or _turning(sharp_far, sub.sharp_beg, rho + sub.p_beg)
                or _turning(sharp_near, sub.sharp_end, sub.rho + p_near)
            )
            rho = merged
            if forward:
                z_fwd, p_fwd, sharp_fwd = end, sub.p_end, sub.sharp_end
            else:
                z_bck, p_bck, sharp_bck = end, sub.p_end, sub.sharp_end
            if turned:
                break
        else:  # neither a U-turn nor a divergence stopped it
            at_max_depth = True
        steps = int(counts["steps"])
        stats = TransitionStats(
            accept=float(counts["accept"]) / max(steps, 1),
            n_steps=steps,
            tree_depth=depth,
            diverging=bool(counts["diverging"]),
            energy=self.energy(sample),
            at_max_depth=at_max_depth,
        )
        return sample, stats

    def _tree(
        self, depth: int, z: State, eps: float, h0: float, counts: dict
    ) -> tuple[State, State, float, _Ends] | None:
        """A subtree of ``2**depth`` steps from ``z``, or None if it diverged or turned.

        Returns its last state, its proposal, its log weight and its ends (:class:`_Ends`:
        ``beg`` is the end next to ``z``).
        """
        if depth == 0:
            new = self.leapfrog(z, eps)
            counts["steps"] += 1
            h = self.energy(new)
            if h - h0 > MAX_DELTA_H or not np.isfinite(h):
                counts["diverging"] = True
                return None
            counts["accept"] += float(np.exp(min(0.0, h0 - h)))
            sharp = self.inv_mass * new.p
            return new, new, h0 - h, _Ends(new.p, sharp, new.p, sharp, new.p.copy())
        first = self._tree(depth - 1, z, eps, h0, counts)
        if first is None:
            return None
        mid, proposal, w_init, init = first
        second = self._tree(depth - 1, mid, eps, h0, counts)
        if second is None:
            return None
        end, proposal_final, w_final, final = second
        weight = _log_add(w_init, w_final)
        if w_final > weight or self.rng.uniform() < np.exp(w_final - weight):
            proposal = proposal_final
        rho = init.rho + final.rho
        ends = _Ends(init.p_beg, init.sharp_beg, final.p_end, final.sharp_end, rho)
        if (
            _turning(init.sharp_beg, final.sharp_end, rho)
            or _turning(init.sharp_beg, final.sharp_beg, init.rho + final.p_beg)
            or _turning(init.sharp_end, final.sharp_end, final.rho + init.p_end)
        ):
            return None
        return end, proposal, weight, ends
