"""The substantive model's numeric design.

The joint layout of the imputed variables plus what the analysis formula needs (complete
columns, scalings, covariate matrices).

The imputed variables are laid out as the joint model lays out its targets
(:func:`jmimpute.design.standardised.build_design`: level-1 targets outcome, incomplete
predictors, auxiliaries; level-2 targets the incomplete level-2 predictors), so that the
result's cells, files and sensitivity analyses treat both models alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jmimpute.design.standardised import Design, Targets, build_design
from jmimpute.models.substantive.columns import (
    RowValues,
    Scaling,
    dependent_column,
    dummies,
    evaluate,
    observed_means,
    scaling,
)
from jmimpute.models.substantive.discrete import Discrete
from jmimpute.models.substantive.structure import Column, Structure, derive_structure
from jmimpute.spec.formula import parse_formula
from jmimpute.spec.variables import Variable


@dataclass(frozen=True)
class Prepared:
    """What the substantive model adds to the joint layout.

    Attributes
    ----------
    structure : Structure
    known1, known2 : ndarray of bool, shapes (n, p) and (J, p2)
        The level-1 and level-2 cells that are not continuous coordinates of the sampler:
        observed ones and every cell of a discrete predictor (those are summed over, never
        sampled).
    n_missing1, n_missing2 : int
        Missing continuous level-1 and level-2 cells (the first of the sampler's
        coordinates).
    discrete, discrete2 : tuple of Discrete
        The incomplete categorical level-1 and level-2 predictors (:mod:`.discrete`).
    outcome : Discrete or None
        A binary outcome's codes (``None`` for a continuous outcome).
    dummies : dict of (str, object) to ndarray
        Dummies of the complete categorical columns' categories.
    complete : dict of str to ndarray
        Values (data scale) of the fully observed numeric variables the columns read.
    complete_means : dict of str to ndarray
        Their cluster means, per row.
    fixed, random : Scaling
        Of the fixed and random columns (see :class:`~.columns.Scaling`).
    cov1 : ndarray, shape (n, 1 + c1)
        Intercept and standardised complete predictors of the level-1 covariate model.
    cov1_means : ndarray, shape (J, 1 + c1)
        Their cluster means (the latent cluster mean of a predictor is its model mean at
        these plus its random effect).
    cov2 : ndarray, shape (J, 1 + c2)
        Intercept and standardised complete level-2 predictors of the level-2 model.
    """

    structure: Structure
    known1: np.ndarray
    known2: np.ndarray
    n_missing1: int
    n_missing2: int
    discrete: tuple[Discrete, ...]
    discrete2: tuple[Discrete, ...]
    outcome: Discrete | None
    dummies: dict[tuple[str, object], np.ndarray]
    complete: dict[str, np.ndarray]
    complete_means: dict[str, np.ndarray]
    fixed: Scaling
    random: Scaling
    cov1: np.ndarray
    cov1_means: np.ndarray
    cov2: np.ndarray

    @property
    def coded(self) -> tuple[Discrete, ...]:
        """The level-1 variables imputed as codes: the discrete predictors, a binary outcome."""
        return (*self.discrete, *((self.outcome,) if self.outcome is not None else ()))

    @property
    def summed(self) -> tuple[Discrete, ...]:
        """What each row sums over: the discrete predictors, then an incomplete binary outcome.

        A complete binary outcome enters by its observed codes, not as a sum.
        """
        outcome = self.outcome
        incomplete = outcome is not None and bool((outcome.codes < 0).any())
        return (*self.discrete, *((outcome,) if incomplete and outcome is not None else ()))


@dataclass(frozen=True)
class SubstantiveDesign(Design):
    """A :class:`~jmimpute.design.standardised.Design` with :class:`Prepared` attached."""

    prepared: Prepared | None = field(default=None, compare=False, repr=False)

    @property
    def sub(self) -> Prepared:
        """The substantive parts (always set by :func:`build_substantive_design`)."""
        assert self.prepared is not None
        return self.prepared


def _standardised(columns: list[np.ndarray], units: int) -> np.ndarray:
    out = [np.ones(units)]
    for col in columns:
        sd = float(np.std(col))
        out.append((col - col.mean()) / (sd if sd > 1e-12 else 1.0))
    return np.column_stack(out)


def _complete_values(structure: Structure, data: pd.DataFrame) -> dict[str, np.ndarray]:
    names = {a.name for c in _all_columns(structure) for a in c.atoms if a.kind != "dummy"}
    incomplete = {*structure.level1, *structure.level2}
    return {n: data[n].to_numpy(dtype=float) for n in sorted(names - incomplete)}


def _rough_rows(
    structure: Structure, data: pd.DataFrame, cluster: np.ndarray, n_clusters: int
) -> RowValues:
    """Row values with missing ones filled by means: enough to scale the columns."""
    values: dict[str, np.ndarray] = {}
    for name in {*structure.level1, *structure.level2, *_complete_values(structure, data)}:
        raw = data[name].to_numpy(dtype=float)
        values[name] = np.where(np.isnan(raw), np.nanmean(raw), raw)
    means = {n: observed_means(v, cluster, n_clusters) for n, v in values.items()}
    return RowValues(values, means, dummies(_all_columns(structure), data))


def _all_columns(structure: Structure) -> tuple[Column, ...]:
    return (*structure.fixed, *structure.random, *structure.covariates1, *structure.covariates2)


def _discrete(
    names: tuple[str, ...], variables: tuple[Variable, ...], codes: dict[str, np.ndarray]
) -> tuple[Discrete, ...]:
    kinds = {v.name: v for v in variables}
    return tuple(Discrete(n, kinds[n].kind, tuple(kinds[n].categories), codes[n]) for n in names)


def _binary_outcome(structure: Structure, targets: Targets) -> Discrete | None:
    """A binary outcome's codes, its link the probit whatever its declared kind."""
    if not structure.binary_outcome:
        return None
    (var,) = (v for v in targets.variables if v.name == structure.outcome)
    name = structure.outcome
    return Discrete(name, "binary", tuple(var.categories), targets.codes[name])


def _known(targets: Targets, discrete: tuple[str, ...]) -> np.ndarray:
    """Cells that are not continuous coordinates: observed ones, and the discrete ones'."""
    known = targets.observed.copy()
    for name in discrete:
        known[:, targets.columns(name)] = True
    return known


def _evaluate_all(columns: tuple[Column, ...], rows: RowValues) -> list[np.ndarray]:
    return [np.asarray(evaluate(c, rows), dtype=float) for c in columns]


def build_substantive_design(
    data: pd.DataFrame,
    analysis: str,
    auxiliary: tuple[str, ...],
    categorical: tuple[str, ...],
    cluster_means: str,
    level1: tuple[Variable, ...],
    level2: tuple[Variable, ...],
) -> SubstantiveDesign:
    """The design of a validated substantive specification.

    Parameters
    ----------
    data : pandas.DataFrame
        Validated; not modified.
    analysis, auxiliary, categorical, cluster_means
        As given to :func:`jmimpute.impute`.
    level1, level2 : tuple of Variable
        The level-1 and level-2 targets of :meth:`Structure.imputation_formulas`.

    Returns
    -------
    SubstantiveDesign
    """
    structure = derive_structure(
        analysis,
        data,
        auxiliary=auxiliary,
        categorical=categorical,
        cluster_means=cluster_means,
    )
    formulas = structure.imputation_formulas()
    f2 = parse_formula(formulas[1]) if len(formulas) > 1 else None
    base = build_design(data, parse_formula(formulas[0]), level1, f2, level2)
    n, n_clusters = base.n, base.n_clusters
    cluster = base.cluster
    complete = _complete_values(structure, data)
    rows = _rough_rows(structure, data, cluster, n_clusters)
    for columns, part, intercept in (
        (structure.fixed, "fixed", True),
        (structure.random, "random", structure.random_intercept),
    ):
        k = dependent_column(columns, rows, intercept)
        if k is not None:
            before = ", ".join(c.label for c in columns[:k]) or "none"
            raise ValueError(
                f"`analysis`: the {part} term {columns[k].label!r} is a linear combination of "
                f"the intercept and the terms before it ({before}); "
                "its effect cannot be estimated: drop it (x, cwc(x) and mean(x) together are "
                "one such set; so is a constant column)"
            )
    cov1 = _standardised(_evaluate_all(structure.covariates1 + structure.covariates2, rows), n)
    counts = np.bincount(cluster, minlength=n_clusters).astype(float)
    cov1_means = np.column_stack(
        [np.bincount(cluster, weights=c, minlength=n_clusters) / counts for c in cov1.T]
    )
    first = np.unique(cluster, return_index=True)[1]
    cov2_raw = [c[first] for c in _evaluate_all(structure.covariates2, rows)]
    cov2 = _standardised(cov2_raw, n_clusters)
    known1 = _known(base.level1, structure.summed)
    known2 = np.zeros((n_clusters, 0), dtype=bool)
    discrete2: tuple[Discrete, ...] = ()
    if base.level2 is not None:
        t2 = base.level2.targets
        known2 = _known(t2, structure.discrete2)
        discrete2 = _discrete(structure.discrete2, t2.variables, t2.codes)
    prepared = Prepared(
        structure=structure,
        known1=known1,
        known2=known2,
        n_missing1=int((~known1).sum()),
        n_missing2=int((~known2).sum()),
        discrete=_discrete(structure.discrete, base.level1.variables, base.level1.codes),
        discrete2=discrete2,
        outcome=_binary_outcome(structure, base.level1),
        dummies={
            k: v
            for k, v in rows.dummies.items()
            if k[0] not in (*structure.discrete, *structure.discrete2)
        },
        complete=complete,
        complete_means={k: observed_means(v, cluster, n_clusters) for k, v in complete.items()},
        fixed=scaling(structure.fixed, rows, centre=True),
        random=scaling(structure.random, rows, centre=structure.random_intercept),
        cov1=cov1,
        cov1_means=cov1_means,
        cov2=cov2,
    )
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return SubstantiveDesign(**fields, prepared=prepared)
