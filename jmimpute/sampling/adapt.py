"""Warm-up of a NUTS chain: step size by dual averaging, a diagonal metric by windows.

Stan's scheme (Stan Reference Manual, "HMC algorithm parameters"; Hoffman and Gelman
2014, section 3.2), used by :mod:`jmimpute.sampling.blocked`: a first buffer of
iterations adapts only the step size; then windows of doubling length each estimate the
metric (regularised towards 1e-3) and restart the step size's dual averaging; a last
buffer adapts the step size to the final metric. After warm-up the step size is the dual
average's.

The metric (:data:`METRICS`) is by default nutpie's: each window's variances of the
position divided by those of the gradient, square-rooted, and for the first buffer
``1 / |gradient|`` at the initial point, not the identity (:func:`initial_inverse_mass`,
which the chain sets before its warm-up). For independent normals that is their
variances, as Stan's estimate is; but the data-augmentation sampler's NUTS target changes
with the latents after every transition, and the positions' spread over a window is the
parameters' marginal spread, wider than that of any one target in the directions the
latents inform, while the gradients' spread reflects the targets' own curvature. The
blend takes fewer leapfrog steps there (``python benchmarks/bench_scale.py --metric``
compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jmimpute.sampling.hmc import Nuts, State

GAMMA, T0, KAPPA = 0.05, 10.0, 0.75
"""Dual averaging's constants (Stan's defaults)."""
METRICS: tuple[str, ...] = ("gradients", "draws")
"""How a window estimates the diagonal metric: nutpie's ``"gradients"`` (positions' and
gradients' variances) or Stan's ``"draws"`` (positions' variances alone)."""
METRIC = "gradients"
"""The metric a :class:`Warmup` adapts unless told otherwise (a benchmark changes it)."""
LIMITS = (1e-10, 1e10)
"""Bounds on each inverse-metric entry estimated from gradients (nutpie's)."""


@dataclass
class DualAveraging:
    """Nesterov's dual averaging of ``log(step size)`` towards a mean acceptance ``target``."""

    target: float
    mu: float = 0.0
    counter: int = 0
    s_bar: float = 0.0
    x_bar: float = 0.0

    def restart(self, step_size: float) -> None:
        """Start again around ``10 * step_size`` (Stan's ``mu``)."""
        self.mu = float(np.log(10.0 * step_size))
        self.counter, self.s_bar, self.x_bar = 0, 0.0, 0.0

    def update(self, accept: float) -> float:
        """The next step size after a transition with mean acceptance ``accept``."""
        self.counter += 1
        accept = min(1.0, accept)
        eta = 1.0 / (self.counter + T0)
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target - accept)
        x = self.mu - self.s_bar * np.sqrt(self.counter) / GAMMA
        weight = self.counter**-KAPPA
        self.x_bar = (1.0 - weight) * self.x_bar + weight * x
        return float(np.exp(x))

    @property
    def final(self) -> float:
        """The step size to sample with after warm-up."""
        return float(np.exp(self.x_bar))


@dataclass
class Welford:
    """Running mean and variance of positions."""

    n: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, x: np.ndarray) -> None:
        """Count one more position."""
        if self.n == 0:
            self.mean, self.m2 = np.zeros_like(x), np.zeros_like(x)
        self.n += 1
        delta = x - self.mean
        self.mean = self.mean + delta / self.n
        self.m2 = self.m2 + delta * (x - self.mean)

    @property
    def variance(self) -> np.ndarray:
        """The sample variances."""
        return self.m2 / max(self.n - 1, 1)

    def inverse_mass(self, gradients: Welford | None = None) -> np.ndarray:
        """Stan's regularised estimate: shrunk towards 1e-3 with weight 5/(n+5).

        With ``gradients`` (of the same positions), of ``sqrt(var(q) / var(grad))``
        (nutpie's), within :data:`LIMITS`; otherwise of ``var(q)`` (Stan's).
        """
        estimate = self.variance
        if gradients is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                estimate = np.sqrt(estimate / gradients.variance)
            estimate = np.clip(np.nan_to_num(estimate, nan=1.0, posinf=LIMITS[1]), *LIMITS)
        return (self.n / (self.n + 5.0)) * estimate + 1e-3 * (5.0 / (self.n + 5.0))


def initial_inverse_mass(grad: np.ndarray) -> np.ndarray:
    """The first metric, as nutpie sets it: ``1 / |gradient|`` at the initial point.

    A coordinate whose gradient is 0 there keeps 1; within :data:`LIMITS`.
    """
    scale = np.abs(np.asarray(grad, dtype=float))
    with np.errstate(divide="ignore"):
        inverse = np.where(scale > 0.0, 1.0 / scale, 1.0)
    return np.clip(inverse, *LIMITS)


def metric_windows(
    tune: int, first: int = 75, last: int = 50, window: int = 25
) -> tuple[int, list[int]]:
    """Where the metric's windows start and end (counts of warm-up iterations).

    Stan's schedule: a first buffer of ``first`` iterations, windows doubling from
    ``window``, a window stretched to the last buffer where the next would not fit, and
    a last buffer of ``last``. With fewer than ``first + last + window`` warm-up
    iterations: 15%, 75% and 10% of them, as Stan does.

    Returns
    -------
    first : int
        Iterations before the first window.
    ends : list of int
        The iteration after which each window's variances replace the metric.
    """
    if tune < 20:
        return tune, []
    if first + last + window > tune:
        first, last = int(0.15 * tune), int(0.1 * tune)
        window = tune - first - last
    limit = tune - last
    ends, start, size = [], first, window
    while True:
        end = start + size
        if end + 2 * size >= limit:
            end = limit
        ends.append(end)
        if end >= limit:
            return first, ends
        start, size = end, 2 * size


def initial_step_size(nuts: Nuts, z: State, step_size: float = 1.0) -> float:
    """Stan's heuristic: halve or double until one leapfrog step's acceptance crosses 0.8."""
    eps = step_size
    log_08 = np.log(0.8)

    def delta_h(eps: float) -> float:
        start = State(z.q, nuts.momentum(), z.logp, z.grad)
        h0 = nuts.energy(start)
        h = nuts.energy(nuts.leapfrog(start, eps))
        return h0 - h if np.isfinite(h) else -np.inf

    direction = 1 if delta_h(eps) > log_08 else -1
    for _ in range(100):
        d = delta_h(eps)
        if (direction == 1 and not d > log_08) or (direction == -1 and not d < log_08):
            break
        eps = 2.0 * eps if direction == 1 else 0.5 * eps
        if eps > 1e7 or eps < 1e-12:
            raise RuntimeError(
                "NUTS could not find a step size: the log density is flat or not finite "
                "near the initial point"
            )
    return eps


class Warmup:
    """Adapts ``nuts``'s step size and metric over ``tune`` transitions.

    Call :meth:`after` with each warm-up transition's end point, acceptance and (for the
    ``"gradients"`` metric) the gradient there. ``metric``: one of :data:`METRICS`
    (default :data:`METRIC`).
    """

    def __init__(
        self, nuts: Nuts, tune: int, target_accept: float, metric: str | None = None
    ) -> None:
        metric = METRIC if metric is None else metric
        if metric not in METRICS:
            raise ValueError(f"`metric` must be one of {METRICS}, got {metric!r}")
        self.metric = metric
        self.nuts = nuts
        self.tune = tune
        self.first, ends = metric_windows(tune)
        self.ends = set(ends)
        self.last_end = max(ends, default=0)
        self.dual = DualAveraging(target_accept)
        self.dual.restart(nuts.step_size)
        self.variances = Welford()
        self.gradients = Welford()
        self.count = 0

    def after(self, q: np.ndarray, accept: float, grad: np.ndarray | None = None) -> None:
        """Adapt after warm-up transition ``self.count + 1`` ended at ``q`` (gradient ``grad``)."""
        self.count += 1
        self.nuts.step_size = self.dual.update(accept)
        if self.first < self.count <= self.last_end:
            self.variances.add(q)
            if self.metric == "gradients":
                if grad is None:
                    raise ValueError("the 'gradients' metric needs each transition's gradient")
                self.gradients.add(grad)
        if self.count in self.ends:
            gradients = self.gradients if self.metric == "gradients" else None
            self.nuts.inv_mass = self.variances.inverse_mass(gradients)
            self.variances, self.gradients = Welford(), Welford()
            start = self.nuts.start(q)
            self.nuts.step_size = initial_step_size(self.nuts, start, self.nuts.step_size)
            self.dual.restart(self.nuts.step_size)
        if self.count == self.tune:
            self.nuts.step_size = self.dual.final
