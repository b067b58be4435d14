"""Imputation formulas: the parsed terms (:mod:`.parser`) an imputation model supports.

An imputation formula names the variables to impute left of ``~`` and, right of it, fully
observed covariates, the intercept and one random term ``(effects | cluster)`` (mitml's
and jomo's form), e.g. ``"lpo + iqv ~ 1 + ses + (1 + ses|sch)"``; a level-2 formula has no
random term (``"den ~ 1"``). Other terms parse (:mod:`jmimpute.spec.terms`) and are refused
here with an error that points at them.
"""

from __future__ import annotations

from dataclasses import dataclass

from jmimpute.spec.parser import FormulaError, ParsedFormula, parse_terms
from jmimpute.spec.terms import Intercept, Piece, RandomTerm, Variable

__all__ = ["Formula", "FormulaError", "ParsedFormula", "parse_formula", "parse_terms"]


@dataclass(frozen=True)
class Formula:
    """One parsed imputation formula.

    Its fields are plain (strings, tuples of strings, booleans) so that the specification
    that holds it is saved as JSON field by field; :attr:`terms` parses the text again.

    Attributes
    ----------
    text : str
        The formula as the user wrote it.
    targets : tuple of str
        Incomplete variables to impute (left of ``~``).
    fixed : tuple of str
        Fully observed covariates with fixed effects (excluding the intercept).
    intercept : bool
        Whether the fixed part has an intercept.
    random : tuple of str
        Covariates with random slopes (excluding the intercept).
    random_intercept : bool
        Whether the random part has a random intercept.
    cluster : str or None
        The cluster variable of the random term; None for a formula without one
        (a level-2 formula).
    """

    text: str
    targets: tuple[str, ...]
    fixed: tuple[str, ...] = ()
    intercept: bool = True
    random: tuple[str, ...] = ()
    random_intercept: bool = False
    cluster: str | None = None

    @property
    def has_random(self) -> bool:
        """Whether the formula has a random term."""
        return self.cluster is not None

    @property
    def variables(self) -> tuple[str, ...]:
        """Every column the formula names, targets first, without repeats."""
        names = [*self.targets, *self.fixed, *self.random]
        if self.cluster is not None:
            names.append(self.cluster)
        return tuple(dict.fromkeys(names))

    @property
    def terms(self) -> ParsedFormula:
        """The formula's terms, as :func:`parse_terms` reads them."""
        return parse_terms(self.text)


def _unsupported(text: str, piece: Piece) -> FormulaError:
    if len(piece.terms) > 1:
        what = f"a product, expanding to {', '.join(t.source for t in piece.terms)}"
    else:
        what = piece.terms[0].kind
    return FormulaError(
        text,
        piece.pos,
        "imputation formulas take plain covariates (column names), the intercept and one "
        f"random term; '{piece.source}' is {what}. Compute it as a column of the data and "
        "name that column instead (covariates are fully observed, so the column is too)",
    )


def _names(text: str, pieces: tuple[Piece, ...]) -> dict[str, int]:
    """The plain names of an imputation formula's sum, with their positions."""
    names: dict[str, int] = {}
    for piece in pieces:
        term = piece.terms[0]
        if isinstance(term, Intercept | RandomTerm):
            continue
        if piece.sign == "-":
            raise FormulaError(
                text, piece.pos, "removing a variable with '-' is not supported; leave it out"
            )
        if len(piece.terms) > 1 or not isinstance(term, Variable):
            raise _unsupported(text, piece)
        if term.name in names:
            raise FormulaError(text, term.pos, f"'{term.name}' appears twice")
        names[term.name] = term.pos
    return names


def parse_formula(text: str) -> Formula:
    """Parse one imputation formula.

    Parameters
    ----------
    text : str
        For example ``"lpo + iqv ~ 1 + ses + (1 + ses | sch)"`` or ``"den ~ 1"``.

    Returns
    -------
    Formula

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    FormulaError
        With the formula and a pointer at the offending position, also for terms that
        parse but that an imputation model does not take (interactions, calls, ...).

    Examples
    --------
    >>> f = parse_formula("lpo + iqv ~ 1 + (1|sch)")
    >>> f.targets, f.cluster, f.random_intercept
    (('lpo', 'iqv'), 'sch', True)
    """
    parsed = parse_terms(text)
    if not parsed.lhs:
        raise FormulaError(
            text, 0, "name the incomplete variables to impute left of '~', e.g. 'lpo ~ 1 + (1|g)'"
        )
    for piece in parsed.lhs:
        if not isinstance(piece.terms[0], Variable):
            raise FormulaError(
                text,
                piece.pos,
                f"only variable names can stand left of '~' in an imputation formula; "
                f"'{piece.source}' is {piece.terms[0].kind}: impute the variable and derive "
                "this from the completed data sets",
            )
    targets = _names(text, parsed.lhs)
    fixed = _names(text, parsed.rhs)
    if len(parsed.random) > 1:
        raise FormulaError(
            text,
            parsed.random[1].pos,
            "only one random-effect term is supported: an imputation model has one cluster "
            "variable (cluster-level variables go in a second, level-2 formula)",
        )
    for name, pos in fixed.items():
        if name in targets:
            raise FormulaError(text, pos, f"'{name}' is both imputed (left of '~') and a predictor")
    if not parsed.random:
        return Formula(text, tuple(targets), tuple(fixed), parsed.intercept)
    term = parsed.random[0]
    random = _names(text, term.pieces)
    for name in random:
        if name in targets:
            raise FormulaError(
                text, term.pos, f"'{name}' is imputed and cannot have a random slope"
            )
    return Formula(
        text=text,
        targets=tuple(targets),
        fixed=tuple(fixed),
        intercept=parsed.intercept,
        random=tuple(random),
        random_intercept=term.intercept,
        cluster=term.group,
    )
