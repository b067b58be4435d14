"""What an analysis formula asks of the substantive model, checked against the data.

``"lpo ~ iqv * ses + mean(iqv) + (1 + iqv | sch)"`` is read by the shared formula parser
(:mod:`jmimpute.spec.parser`) and turned into a :class:`Structure`: the outcome, the fixed
and random design columns as products of :class:`Atom` (a column's value, a power of it, a
cluster mean, a within-cluster centring, a dummy of a category), and the roles of the
variables the columns read: the incomplete level-1 and level-2 predictors (imputed through
the covariate model), the fully observed ones (conditioned on), and the auxiliary variables
(modelled after the outcome, so that missingness that depends on them reaches it).

Everything the model cannot do is refused here, before any sampling, with an error that
names the term and the fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from jmimpute.spec.parser import FormulaError, parse_terms
from jmimpute.spec.terms import (
    Call,
    CentredWithinCluster,
    ClusterMean,
    Interaction,
    Power,
    Term,
    Variable,
)
from jmimpute.spec.variables import observed_categories

CLUSTER_MEANS = ("latent", "observed")
"""How ``mean(x)`` and ``cwc(x)`` of an incomplete level-1 predictor are computed: from the
covariate model's cluster mean (Blimp's ``x.mean``, Ludtke et al. 2008), or from the
completed rows of the cluster (FIMD's ``2l.groupmean``)."""

_FACTOR_CALLS = ("factor", "C")
MAX_COMBINATIONS = 32
"""Combinations of the incomplete discrete predictors' categories at most: each row (and
each cluster) sums over all of them."""


@dataclass(frozen=True)
class Atom:
    """One factor of a design column.

    Attributes
    ----------
    kind : str
        ``"value"`` (the column's value raised to ``power``), ``"mean"`` (its cluster
        mean), ``"cwc"`` (its value minus the cluster mean) or ``"dummy"`` (1 where the
        column equals ``level``).
    name : str
        The data column.
    power : int
        The exponent of a ``"value"`` atom.
    level : object
        The category of a ``"dummy"`` atom.
    """

    kind: str
    name: str
    power: int = 1
    level: object = None

    @property
    def label(self) -> str:
        """How the column is named in results (as lme4 and patsy name it)."""
        if self.kind == "value":
            return self.name if self.power == 1 else f"I({self.name}**{self.power})"
        if self.kind == "dummy":
            return f"{self.name}[{self.level}]"
        return f"{self.kind}({self.name})"


@dataclass(frozen=True)
class Column:
    """A design column: the product of its atoms."""

    atoms: tuple[Atom, ...]

    @property
    def label(self) -> str:
        """The column's name, e.g. ``iqv:sex``."""
        return ":".join(a.label for a in self.atoms)

    @property
    def variables(self) -> tuple[str, ...]:
        """The data columns it reads."""
        return tuple(dict.fromkeys(a.name for a in self.atoms))


@dataclass(frozen=True)
class Structure:
    """The substantive model an analysis formula describes (see the module docstring).

    Attributes
    ----------
    text : str
        The analysis formula as written.
    outcome : str
    cluster : str
    fixed : tuple of Column
        The fixed-effect columns after the intercept (every analysis model has one).
    random : tuple of Column
        The random-effect columns, the random intercept (if any) not included.
    random_intercept : bool
    level1 : tuple of str
        Incomplete continuous level-1 predictors, imputed by the covariate model.
    level2 : tuple of str
        Incomplete continuous level-2 predictors, modelled jointly with the level-1
        predictors' random effects.
    discrete : tuple of str
        Incomplete categorical level-1 predictors (declared categorical or ordinal, or of
        a categorical dtype), each modelled given the complete and continuous predictors
        with random intercepts (:mod:`.discrete`); summed over (marginalised) where
        missing, never sampled.
    discrete2 : tuple of str
        Incomplete categorical level-2 predictors, modelled given the complete level-2
        predictors and the cluster's other effects; summed over per cluster.
    covariates1, covariates2 : tuple of Column
        Fully observed level-1 and level-2 predictors' columns (dummies of categorical
        ones), conditioned on in the covariate model.
    auxiliary : tuple of str
        Auxiliary variables, each regressed on the outcome, the incomplete predictors and
        the auxiliaries before it.
    cluster_means : {"latent", "observed"}
    binary_outcome : bool
        The outcome is binary (categorical with two categories): a probit analysis model,
        ``P(y = second category) = Phi(f' beta + g' b_j)`` (the second category is the
        success, as glmer reads a factor), summed over where ``y`` is missing like a
        discrete predictor.
    """

    text: str
    outcome: str
    cluster: str
    fixed: tuple[Column, ...]
    random: tuple[Column, ...]
    random_intercept: bool
    level1: tuple[str, ...]
    level2: tuple[str, ...]
    discrete: tuple[str, ...]
    discrete2: tuple[str, ...]
    covariates1: tuple[Column, ...]
    covariates2: tuple[Column, ...]
    auxiliary: tuple[str, ...]
    cluster_means: str
    binary_outcome: bool = False

    @property
    def random_labels(self) -> tuple[str, ...]:
        """Names of the random effects, the intercept first."""
        lead = ("(Intercept)",) if self.random_intercept else ()
        return (*lead, *(c.label for c in self.random))

    @property
    def fixed_labels(self) -> tuple[str, ...]:
        """Names of the fixed effects, the intercept first."""
        return ("(Intercept)", *(c.label for c in self.fixed))

    @property
    def summed(self) -> tuple[str, ...]:
        """The level-1 variables summed over where missing: discrete predictors, a binary outcome.

        Never sampled; the outcome comes last.
        """
        return (*self.discrete, *((self.outcome,) if self.binary_outcome else ()))

    @property
    def level1_targets(self) -> tuple[str, ...]:
        """The level-1 variables the model imputes or models: outcome, predictors, auxiliaries."""
        return (self.outcome, *self.level1, *self.discrete, *self.auxiliary)

    def imputation_formulas(self) -> list[str]:
        """The joint-model formulas that lay out the imputed variables (the design's targets)."""
        quoted = [f"`{n}`" for n in self.level1_targets]
        formulas = [f"{' + '.join(quoted)} ~ 1 + (1 | `{self.cluster}`)"]
        if self.level2 or self.discrete2:
            level2 = (*self.level2, *self.discrete2)
            formulas.append(f"{' + '.join(f'`{n}`' for n in level2)} ~ 1")
        return formulas


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def is_level2(series: pd.Series, cluster: pd.Series) -> bool:
    """Constant within every cluster, and some cluster has two or more observed rows."""
    observed = series.notna()
    if not observed.any():
        return False
    groups = series[observed].groupby(cluster[observed], sort=False, observed=True)
    sizes = groups.size()
    if not (sizes > 1).any():
        return False
    return bool((groups.nunique() <= 1).all())


class _Reader:
    """Turns parsed terms into columns, refusing what the model cannot do."""

    def __init__(
        self, text: str, data: pd.DataFrame, categorical: tuple[str, ...], cluster: str
    ) -> None:
        self.text = text
        self.data = data
        self.categorical = categorical
        self.cluster = cluster
        self._level2: dict[str, bool] = {}

    def error(self, term: Term, message: str) -> FormulaError:
        return FormulaError(self.text, term.pos, message)

    def column(self, term: Term, name: str) -> pd.Series:
        if name not in self.data.columns:
            close = difflib.get_close_matches(name, [str(c) for c in self.data.columns], n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise self.error(
                term,
                f"`analysis` names {name!r} (in '{term.source or name}'), which is not a "
                f"column of `data`.{hint}",
            )
        if name == self.cluster:
            raise self.error(
                term,
                f"the cluster variable {name!r} can only appear after '|' in the random term",
            )
        return self.data[name]

    def categorical_column(self, name: str) -> bool:
        return name in self.categorical or _is_categorical(self.data[name])

    def level2(self, name: str) -> bool:
        if name not in self._level2:
            self._level2[name] = is_level2(self.data[name], self.data[self.cluster])
        return self._level2[name]

    def atoms(self, term: Term) -> list[tuple[Atom, ...]]:
        """The columns one factor of a term makes (several for a categorical one)."""
        if isinstance(term, Interaction):
            parts = [self.atoms(f) for f in term.factors]
            return [tuple(a for part in combo for a in part) for combo in product(*parts)]
        if isinstance(term, Variable | Power):
            col = self.column(term, term.name)
            if self.categorical_column(term.name):
                if isinstance(term, Power):
                    raise self.error(
                        term, f"'{term.source}' raises the categorical {term.name!r} to a power"
                    )
                return self.dummies(term, term.name)
            power = term.exponent if isinstance(term, Power) else 1
            del col
            return [(Atom("value", term.name, power),)]
        if isinstance(term, ClusterMean | CentredWithinCluster):
            self.column(term, term.name)
            what = "mean" if isinstance(term, ClusterMean) else "cwc"
            if self.categorical_column(term.name):
                raise self.error(
                    term,
                    f"'{term.source}': {term.name!r} is categorical; cluster means and "
                    "centring need a numeric level-1 variable (code a binary one 0/1)",
                )
            if self.level2(term.name):
                raise self.error(
                    term,
                    f"'{term.source}': {term.name!r} is a level-2 variable (constant within "
                    f"clusters of {self.cluster!r}), so its cluster mean is itself; write "
                    f"{term.name} instead",
                )
            return [(Atom(what, term.name),)]
        if isinstance(term, Call) and term.function in _FACTOR_CALLS and len(term.names) == 1:
            name = term.names[0]
            col = self.column(term, name)
            if col.isna().any() and not self.categorical_column(name):
                raise self.error(
                    term,
                    f"'{term.source}': {name!r} is numeric with {int(col.isna().sum())} "
                    "missing values; to impute them as categories declare it "
                    f"categorical=[{name!r}] (or ordinal=[{name!r}])",
                )
            return self.dummies(term, name)
        raise self.error(
            term,
            f"'{term.source}' ({term.kind}) is not a term the substantive model can build "
            "from imputed values; it takes columns, their interactions (x:z, x*z), powers "
            "(I(x**2)), cluster means (mean(x)), centring within cluster (cwc(x)) and "
            "factor(x) of a complete column. Compute other functions as a column first",
        )

    def dummies(self, term: Term, name: str) -> list[tuple[Atom, ...]]:
        """A dummy per non-baseline category, in the order the imputation model codes them."""
        levels = observed_categories(self.data[name])
        return [(Atom("dummy", name, level=lv),) for lv in levels[1:]]


def _columns(reader: _Reader, terms: tuple[Term, ...]) -> tuple[Column, ...]:
    out = [Column(atoms) for term in terms for atoms in reader.atoms(term)]
    return tuple(dict.fromkeys(out))


def derive_structure(
    text: str,
    data: pd.DataFrame,
    *,
    auxiliary: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    cluster_means: str = "latent",
) -> Structure:
    """Read an analysis formula against the data (see the module docstring).

    Parameters
    ----------
    text : str
        lme4-style, with one random term, e.g. ``"y ~ x * w + (1 + x | g)"``.
    data : pandas.DataFrame
        The incomplete data (not modified).
    auxiliary : tuple of str
        Auxiliary variables (not in the formula).
    categorical : tuple of str
        Columns declared categorical.
    cluster_means : {"latent", "observed"}

    Returns
    -------
    Structure

    Raises
    ------
    FormulaError
        Pointing at a term the model cannot build, with the fix.
    ValueError
        For auxiliary variables or options it cannot use.
    """
    if not isinstance(text, str) or "~" not in text:
        raise ValueError(
            "`analysis` must be an lme4-style formula with one '~' and one random term, "
            f"e.g. 'lpo ~ iqv + (1 + iqv | sch)'; got {text!r}"
        )
    if cluster_means not in CLUSTER_MEANS:
        raise ValueError(
            f"`cluster_means` must be one of {CLUSTER_MEANS}, got {cluster_means!r}: 'latent' "
            "uses the covariate model's cluster mean (Blimp), 'observed' the mean of the "
            "completed rows (FIMD's 2l.groupmean)"
        )
    parsed = parse_terms(text)
    outcomes = parsed.outcomes
    if len(outcomes) != 1 or not isinstance(outcomes[0], Variable):
        raise FormulaError(
            text, 0, "`analysis` needs one outcome column left of '~', e.g. 'y ~ x + (1 | g)'"
        )
    if len(parsed.random) != 1:
        where = parsed.random[1].pos if parsed.random else len(text)
        raise FormulaError(
            text,
            where,
            "`analysis` needs exactly one random term such as (1 | cluster) or "
            f"(1 + x | cluster); it has {len(parsed.random)}",
        )
    if not parsed.intercept:
        raise FormulaError(
            text,
            0,
            "`analysis` without a fixed intercept is not supported; remove the '0' or '- 1'",
        )
    rand = parsed.random[0]
    cluster = rand.group
    if cluster not in data.columns:
        raise FormulaError(
            text, rand.pos, f"the grouping factor {cluster!r} is not a column of `data`"
        )
    reader = _Reader(text, data, tuple(categorical), cluster)
    outcome = outcomes[0].name
    out_col = reader.column(outcomes[0], outcome)
    binary_outcome = reader.categorical_column(outcome)
    if binary_outcome and len(observed_categories(data[outcome])) != 2:
        levels = observed_categories(data[outcome])
        raise FormulaError(
            text,
            outcomes[0].pos,
            f"the outcome {outcome!r} is categorical with {len(levels)} observed categories "
            f"({', '.join(map(repr, levels[:5]))}); the substantive model takes a continuous "
            "or a binary outcome (probit). Impute an ordinal or nominal outcome with the "
            "joint model (`formula=`, with `categorical=` or `ordinal=`)",
        )
    if reader.level2(outcome):
        raise FormulaError(
            text,
            outcomes[0].pos,
            f"the outcome {outcome!r} is constant within clusters of {cluster!r}; the "
            "substantive model needs a level-1 outcome",
        )
    del out_col
    fixed = _columns(reader, parsed.fixed)
    random = _columns(reader, rand.effects)
    for col, term in ((c, t) for t in rand.effects for c in _columns(reader, (t,))):
        if all(a.kind == "mean" or reader.level2(a.name) for a in col.atoms):
            raise reader.error(
                term,
                f"'{term.source}' in the random term is a level-2 variable (constant within "
                f"clusters of {cluster!r}); it cannot vary across clusters as a random slope. "
                "Keep it in the fixed part (a cross-level interaction is x:w there)",
            )
    used = dict.fromkeys(n for c in (*fixed, *random) for n in c.variables)
    if outcome in used:
        raise FormulaError(text, 0, f"the outcome {outcome!r} also appears on the right of '~'")

    for name in used:
        series = data[name]
        if not reader.categorical_column(name):
            values = series.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(values).any():
                raise ValueError(
                    f"`analysis` uses {name!r}, which has infinite values (rows "
                    f"{list(series.index[np.isinf(values)][:5])}); replace them with NaN "
                    "(missing) or finite values"
                )
    level1: list[str] = []
    level2: list[str] = []
    cov1: list[Column] = []
    cov2: list[Column] = []
    discrete: list[str] = []
    discrete2: list[str] = []
    for name in used:
        series = data[name]
        incomplete = bool(series.isna().any())
        if incomplete and reader.categorical_column(name):
            (discrete2 if reader.level2(name) else discrete).append(name)
            continue
        if incomplete:
            (level2 if reader.level2(name) else level1).append(name)
            continue
        dummy = reader.categorical_column(name)
        atoms = reader.dummies(Variable(name), name) if dummy else [(Atom("value", name),)]
        (cov2 if reader.level2(name) else cov1).extend(Column(a) for a in atoms)

    sizes = {n: len(observed_categories(data[n])) for n in (*discrete, *discrete2)}
    if binary_outcome and data[outcome].isna().any():  # summed over with them
        sizes[outcome] = 2
    if np.prod(list(sizes.values())) > MAX_COMBINATIONS:
        shown = ", ".join(f"{n!r} ({k} categories)" for n, k in sizes.items())
        raise ValueError(
            f"`analysis` has the incomplete categorical variables {shown}: "
            f"{int(np.prod(list(sizes.values())))} combinations of categories, which the "
            f"substantive model sums over in every row; it takes at most {MAX_COMBINATIONS}. "
            "Impute some of them with the joint model first, merge rare categories, or "
            "drop rows"
        )
    aux = _auxiliary(auxiliary, data, reader, outcome, cluster, used)
    return Structure(
        text=text,
        outcome=outcome,
        cluster=cluster,
        fixed=fixed,
        random=random,
        random_intercept=rand.intercept,
        level1=tuple(level1),
        level2=tuple(level2),
        discrete=tuple(discrete),
        discrete2=tuple(discrete2),
        covariates1=tuple(cov1),
        covariates2=tuple(cov2),
        auxiliary=aux,
        cluster_means=cluster_means,
        binary_outcome=binary_outcome,
    )


def _auxiliary(
    auxiliary: tuple[str, ...],
    data: pd.DataFrame,
    reader: _Reader,
    outcome: str,
    cluster: str,
    used: dict[str, None],
) -> tuple[str, ...]:
    if isinstance(auxiliary, str):
        auxiliary = (auxiliary,)
    out = []
    for name in auxiliary:
        if name not in data.columns:
            close = difflib.get_close_matches(str(name), [str(c) for c in data.columns], n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"`auxiliary` names {name!r}, which is not a column of `data`.{hint}")
        if name == outcome or name == cluster or name in used:
            role = (
                "the outcome"
                if name == outcome
                else "the cluster variable"
                if name == cluster
                else "a predictor"
            )
            raise ValueError(
                f"`auxiliary` names {name!r}, which is {role} of `analysis`; auxiliary "
                "variables are the ones the analysis leaves out"
            )
        if reader.categorical_column(name):
            raise ValueError(
                f"auxiliary variable {name!r} is categorical; auxiliary variables must be "
                "numeric for now (code a binary one 0/1)"
            )
        if reader.level2(name):
            raise ValueError(
                f"auxiliary variable {name!r} is constant within clusters of {cluster!r}; "
                "auxiliary variables are level-1 variables for now"
            )
        out.append(name)
    return tuple(dict.fromkeys(out))
