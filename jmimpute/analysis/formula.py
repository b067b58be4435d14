"""Split an lme4-style analysis formula into its fixed part and its random term.

``"lpo ~ iqv + factor(den) + (1 + iqv | sch)"`` becomes the fixed formula
``"lpo ~ iqv + C(den)"`` (patsy/formulae syntax: R's ``factor()`` is spelled ``C()``),
the random-effects formula ``"1 + iqv"`` and the grouping variable ``sch``. The formula is
read by the same parser as the imputation formulas (:func:`jmimpute.spec.parser.parse_terms`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jmimpute.spec.parser import FormulaError, ParsedFormula, parse_terms
from jmimpute.spec.terms import CentredWithinCluster, ClusterMean, Interaction, Term, quote


@dataclass(frozen=True)
class AnalysisFormula:
    """A parsed analysis formula.

    Attributes
    ----------
    text : str
        As written.
    response : str
    fixed : str
        The fixed-effects formula, ``"response ~ terms"``.
    random : str or None
        The random-effects terms (without the group), e.g. ``"1"`` or ``"1 + iqv"``.
    group : str or None
        The grouping variable.
    variables : tuple of str
        Every data column the formula refers to.
    terms : ParsedFormula
        The formula's terms, as the shared parser reads them.
    """

    text: str
    response: str
    fixed: str
    random: str | None
    group: str | None
    variables: tuple[str, ...]
    terms: ParsedFormula = field(compare=False, repr=False)

    @property
    def mixed(self) -> bool:
        """Whether the formula has a random term."""
        return self.group is not None


def _cluster_statistic(text: str, terms: tuple[Term, ...]) -> None:
    """Refuse ``mean(x)`` and ``cwc(x)``, which the analysis backends cannot compute yet."""
    for term in terms:
        inner = term.factors if isinstance(term, Interaction) else (term,)
        for factor in inner:
            if isinstance(factor, ClusterMean | CentredWithinCluster):
                how, suffix = (
                    ("cluster_mean", "mean")
                    if isinstance(factor, ClusterMean)
                    else ("cluster_centre", "cwc")
                )
                new = f"{factor.name}_{suffix}"
                raise FormulaError(
                    text,
                    factor.pos,
                    f"'{factor.source}' ({factor.kind}) is not supported in analysis formulas "
                    f"yet; derive it from each completed data set and name it instead: "
                    f"analyze(..., derive={{{new!r}: jm.{how}({factor.name!r})}}) with "
                    f"'{new}' in the formula",
                )


def parse_analysis_formula(text: str) -> AnalysisFormula:
    """Parse an analysis formula with at most one lme4-style random term.

    Parameters
    ----------
    text : str

    Returns
    -------
    AnalysisFormula

    Raises
    ------
    ValueError
        If ``text`` is not a string with one ``~``; a :class:`FormulaError` (a
        ``ValueError``, pointing at the problem) if it does not parse, has no single
        response, has more than one random term, or uses ``mean()``/``cwc()``.

    Examples
    --------
    >>> f = parse_analysis_formula("lpo ~ iqv + factor(den) + (1 | sch)")
    >>> f.fixed, f.random, f.group
    ('lpo ~ iqv + C(den)', '1', 'sch')
    """
    if not isinstance(text, str):
        raise ValueError(
            f"the analysis formula must be a string with one '~', like 'lpo ~ iqv + (1|sch)'; "
            f"got {text!r}"
        )
    terms = parse_terms(text)
    outcomes = terms.outcomes
    if len(outcomes) != 1 or len(outcomes[0].variables) != 1:
        raise FormulaError(
            text,
            terms.lhs[1].pos if len(terms.lhs) > 1 else 0,
            "the analysis formula needs one response left of '~', e.g. 'lpo ~ iqv + (1|sch)'",
        )
    if len(terms.random) > 1:
        raise FormulaError(
            text,
            terms.random[1].pos,
            f"the analysis formula has {len(terms.random)} random terms; one is supported "
            "(one grouping factor, as statsmodels' MixedLM fits)",
        )
    random = terms.random[0] if terms.random else None
    _cluster_statistic(text, (*terms.fixed, *(random.effects if random else ())))
    return AnalysisFormula(
        text=text,
        response=outcomes[0].variables[0],
        fixed=terms.fixed_formula(patsy=True),
        random=random.effects_text(patsy=True) if random else None,
        group=random.group if random else None,
        variables=terms.variables,
        terms=terms,
    )


def cluster_terms(text: str, taken: set[str]) -> tuple[str, dict[str, tuple[str, bool]]]:
    """``text`` with each ``mean(x)`` and ``cwc(x)`` replaced by a column to derive.

    Parameters
    ----------
    text : str
        An analysis formula.
    taken : set of str
        Column names in use (the new names avoid them).

    Returns
    -------
    text : str
        The formula naming ``x_mean`` and ``x_cwc`` (or fresh names) instead.
    derived : dict of str to (str, bool)
        Each new column's variable and whether it is centred (``cwc``) rather than a mean:
        computed on every completed data set from the imputed values (FIMD 7.10).
    """
    terms = parse_terms(text)
    found: dict[str, tuple[str, bool]] = {}
    sources: dict[str, str] = {}
    for term in (*terms.fixed, *(t for r in terms.random for t in r.effects)):
        for factor in term.factors if isinstance(term, Interaction) else (term,):
            if not isinstance(factor, ClusterMean | CentredWithinCluster):
                continue
            centre = isinstance(factor, CentredWithinCluster)
            key = (factor.name, centre)
            name = next((n for n, v in found.items() if v == key), None)
            if name is None:
                name = f"{factor.name}_{'cwc' if centre else 'mean'}"
                while name in taken or name in found:
                    name += "_"
                found[name] = key
            sources[factor.source] = name
    # longest first, so that no source is replaced inside another
    for source in sorted(sources, key=len, reverse=True):
        text = text.replace(source, quote(sources[source]))
    return text, found
