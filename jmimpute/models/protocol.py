"""The seam between the imputation pipeline and the imputation models.

:func:`jmimpute.impute`, :meth:`jmimpute.Imputation.refit`, the sensitivity analyses, the
result's files and the convergence checks call a model only through
:class:`ImputationModel`; a model is found by name in :data:`jmimpute.models.MODELS`. What a
model declares travels with the result's DataTree (each parameter's group as attributes
of the posterior's variables, what it keeps per imputation as variables of the
``imputations`` group), so that a result read from a file is judged and re-drawn the same
way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    import pandas as pd

    from jmimpute.design.standardised import Design
    from jmimpute.spec.model import ImputationSpec
    from jmimpute.spec.priors import Priors
    from jmimpute.spec.variables import Variable


@dataclass(frozen=True)
class ParameterGroup:
    """How the convergence checks treat one parameter of a model's posterior.

    Attributes
    ----------
    label : str
        The group it is judged in (``"fixed effects"``); the convergence report has a row
        per group.
    symmetric : bool
        A symmetric matrix: only its lower triangle holds parameters.
    """

    label: str
    symmetric: bool = False

    def attrs(self) -> dict[str, Any]:
        """The attributes that carry the group on the posterior's variable."""
        return {"group": self.label, "symmetric": int(self.symmetric)}


@dataclass(frozen=True)
class ParameterDraws:
    """The kept draws of a run, by trace variable name.

    Attributes
    ----------
    values : dict of str to ndarray
        Each shaped (chain, draw, ...).
    """

    values: dict[str, np.ndarray]

    @property
    def chains(self) -> int:
        """Chains."""
        return int(next(iter(self.values.values())).shape[0])

    @property
    def draws(self) -> int:
        """Draws per chain."""
        return int(next(iter(self.values.values())).shape[1])

    def at(self, chain: int, draw: int) -> dict[str, np.ndarray]:
        """The values of one draw (copies, so that the arrays of all draws can go)."""
        return {name: v[chain, draw].copy() for name, v in self.values.items()}

    @classmethod
    def from_trace(cls, trace: xr.DataTree, names: Sequence[str]) -> ParameterDraws:
        """The variables ``names`` of a trace's posterior that it holds."""
        post = trace["posterior"]
        return cls(
            {
                name: post[name].transpose("chain", "draw", ...).to_numpy()
                for name in names
                if name in post
            }
        )


MOVE_STATES = "move_states"
"""The trace group of a run with moves (:attr:`BuiltModel.move`): each chain's move states
kept at a few draws (variable ``state``, dims ``kept`` and ``state_dim``; coordinates
``chain`` and ``draw`` on ``kept``)."""


@dataclass(eq=False)
class BuiltModel:
    """A model built for one design, kept with its compiled form for re-runs in a session.

    Attributes
    ----------
    design : Design
        The standardised design (data, targets and covariates).
    model : object
        The model the sampler runs (a PyMC model); its prior hyperparameters are shared data.
    keep : list of str
        The variables to store in the trace.
    judged : tuple of str
        The kept variables that checkpoints read to judge convergence.
    compiled : object or None
        nutpie's compiled model (None for PyMC's sampler, or until first compiled).
    compiled_with : tuple or None
        The backend and the shared values ``compiled`` was made with: a Numba model takes
        new shared values, a JAX model (which freezes them) only the same ones.
    move : callable or None
        A model whose NUTS transitions alternate with other draws (data augmentation)
        gives them here: ``move(target)`` makes one chain's move from the chain's copy of
        the compiled model (:class:`jmimpute.sampling.blocked.Move`), and the sampling
        layer then runs the chains itself (:func:`jmimpute.sampling.blocked.sample_blocked`).
        None: nutpie or PyMC runs ``model`` from start to end.
    """

    design: Design
    model: Any
    keep: list[str]
    judged: tuple[str, ...]
    compiled: object | None = None
    compiled_with: tuple | None = None
    move: Callable[[Any], Any] | None = None

    def reusable(self, backend: str, shared: dict[str, Any]) -> object | None:
        """The compiled model if a run with ``backend`` and these shared values may reuse it."""
        if self.compiled is None or self.compiled_with is None:
            return None
        was_backend, was_shared = self.compiled_with
        if was_backend != backend or (backend != "numba" and not _same(was_shared, shared)):
            return None
        return self.compiled


def judged(keep: Sequence[str], per_unit: Sequence[str]) -> tuple[str, ...]:
    """The kept variables that checkpoints read: all but those with values per unit.

    Per-unit values are needed for the imputations, not judged for convergence, and not
    read at checkpoints (reading them while the sampler runs costs seconds on large data).
    """
    return tuple(name for name in keep if name not in per_unit)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@runtime_checkable
class ImputationModel(Protocol):
    """What an imputation model provides to the pipeline.

    Attributes
    ----------
    name : str
        Its key in :data:`jmimpute.models.MODELS` (the ``method`` users choose).
    redraw_note : str or None
        Said (logged) before a sensitivity analysis re-draws this model's imputations,
        where re-drawn ones differ from those of the run (None where they do not).
    """

    name: str
    redraw_note: str | None

    def design(
        self,
        data: pd.DataFrame,
        spec: ImputationSpec,
        level1: tuple[Variable, ...],
        level2: tuple[Variable, ...],
    ) -> Design:
        """The numeric design of validated data (also rebuilt for a result read from a file)."""
        ...

    def check(self, design: Design, spec: ImputationSpec) -> None:
        """Refuse, with a clear error, what this model cannot do with this design."""
        ...

    def build(self, design: Design, spec: ImputationSpec) -> BuiltModel:
        """Build the model the sampler runs (compiled when first sampled)."""
        ...

    def shared_data(self, priors: Priors) -> dict[str, np.ndarray]:
        """The shared data of a run with these priors (so a compiled model is reused)."""
        ...

    def parameter_draws(self, trace: xr.DataTree, names: Sequence[str]) -> ParameterDraws:
        """The draws of ``names`` (:attr:`BuiltModel.keep`, or ``judged`` at checkpoints).

        The sampler's trace may hold more (nutpie's JAX backend keeps every variable).
        """
        ...

    def posterior(self, design: Design, draws: ParameterDraws) -> tuple[xr.Dataset, xr.Dataset]:
        """The parameters on the data's scale and on the sampler's scale.

        Every variable of the first carries its :class:`ParameterGroup`'s attributes: all
        of them are judged for convergence.
        """
        ...

    def parameter_group(self, name: str) -> ParameterGroup | None:
        """The group of the posterior's variable ``name`` (None if the model has none)."""
        ...

    def imputations(
        self,
        built: BuiltModel,
        trace: xr.DataTree,
        draws: ParameterDraws,
        retained: xr.Dataset,
        seed: np.random.SeedSequence,
        *,
        progressbar: bool = False,
    ) -> tuple[list[Any], xr.Dataset]:
        """The m imputations at the retained draws, and what a re-draw needs of them.

        ``retained`` holds the chain, draw and random stream of each imputation; the
        returned Dataset adds what the model keeps per imputation (e.g. latent values).
        """
        ...

    def redraw(
        self, design: Design, tree: xr.DataTree, shift: Any = None, *, progressbar: bool = False
    ) -> list[Any]:
        """The imputations of a result drawn again exactly, each from its random stream.

        ``shift`` (from :meth:`shift`) adjusts them for an MNAR sensitivity analysis; without
        it a result gives its own imputations back.
        """
        ...

    def shift(self, design: Design, variable: str, per_unit: np.ndarray) -> Any:
        """The delta adjustment of ``variable`` by ``per_unit`` (data units; latent scale)."""
        ...
