"""The terms of a model formula: what each piece of ``"y ~ 1 + x*z + (1 + x | g)"`` means.

One parser (:func:`jmimpute.spec.parser.parse_terms`) turns a formula string into these
terms, and each user of formulas (the imputation model, the analysis model) then decides
which terms it supports, so that both read the same syntax the same way.

Every term keeps the text it was parsed from (``source``) and its position in the formula
(``pos``), so that a formula can be rendered back as the user wrote it and an error can point
at the term it is about. Neither takes part in equality: ``Variable("x")`` equals the ``x``
parsed from any formula, wherever it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

_PLAIN_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")


def quote(name: str) -> str:
    """A column name as a formula spells it: backticked unless it is a plain name.

    Parameters
    ----------
    name : str

    Returns
    -------
    str
        ``name`` itself, or ```name``` when it holds characters other than letters,
        digits, ``_`` and ``.`` (as R's formulas require).
    """
    return name if _PLAIN_NAME.fullmatch(name) else f"`{name}`"


@dataclass(frozen=True, kw_only=True)
class Term:
    """What every formula term has: its text and position in the formula.

    Attributes
    ----------
    source : str
        The text the term was parsed from, e.g. ``"factor(den)"``; an interaction made by
        expanding ``x*z`` has the source ``"x:z"``.
    pos : int
        The offset of the term in the formula string, where error messages point.
    kind : str
        What the term is, in words, for error messages (``"an interaction"``).
    """

    kind: ClassVar[str] = "a term"
    source: str = field(default="", compare=False, repr=False)
    pos: int = field(default=0, compare=False, repr=False)

    @property
    def variables(self) -> tuple[str, ...]:
        """The data columns the term names, in order, without repeats."""
        return ()

    def patsy(self) -> str:
        """The term as patsy (statsmodels) and formulae (bambi) spell it."""
        return self.source


@dataclass(frozen=True)
class Intercept(Term):
    """The intercept, added (``1``, ``+ 1``, ``- 0``) or removed (``0``, ``- 1``).

    Attributes
    ----------
    present : bool
        Whether this term adds the intercept (True) or removes it (False), with the sign
        in front of it applied; as in R, the last such term of a sum wins.
    """

    kind: ClassVar[str] = "the intercept"
    present: bool = True


@dataclass(frozen=True)
class Variable(Term):
    """A data column used as it is, e.g. ``ses`` or ```my var```.

    Attributes
    ----------
    name : str
        The column name, without backticks.
    """

    kind: ClassVar[str] = "a variable"
    name: str

    @property
    def variables(self) -> tuple[str, ...]:
        """The column itself."""
        return (self.name,)


@dataclass(frozen=True)
class Power(Term):
    """A power of a column, ``I(x**2)`` (or R's ``I(x^2)``).

    Attributes
    ----------
    name : str
        The column raised to the power.
    exponent : int
    """

    kind: ClassVar[str] = "a power"
    name: str
    exponent: int

    @property
    def variables(self) -> tuple[str, ...]:
        """The column raised to the power."""
        return (self.name,)

    def patsy(self) -> str:
        """``I(x**2)``: in Python ``^`` is exclusive or, so R's ``I(x^2)`` is respelled."""
        if self.source:
            return self.source.replace("^", "**")
        return f"I({quote(self.name)}**{self.exponent})"


@dataclass(frozen=True)
class ClusterMean(Term):
    """The mean of a column within each cluster, ``mean(x)``.

    The cluster is the grouping factor of the formula's random term; the model that uses
    the formula computes the mean (from the imputed values, where ``x`` is incomplete).

    Attributes
    ----------
    name : str
        The column averaged.
    """

    kind: ClassVar[str] = "a cluster mean"
    name: str

    @property
    def variables(self) -> tuple[str, ...]:
        """The column averaged."""
        return (self.name,)


@dataclass(frozen=True)
class CentredWithinCluster(Term):
    """A column minus its cluster mean, ``cwc(x)`` (centring within cluster).

    Attributes
    ----------
    name : str
        The column centred.
    """

    kind: ClassVar[str] = "a within-cluster centring"
    name: str

    @property
    def variables(self) -> tuple[str, ...]:
        """The column centred."""
        return (self.name,)


@dataclass(frozen=True)
class Call(Term):
    """Any other function of columns, kept as written: ``C(den)``, ``np.log(x)``, ``I(a + b)``.

    The formula parser does not evaluate these; it only records which columns they read,
    so that the data can be checked and subset before the fitting library evaluates them.

    Attributes
    ----------
    function : str
        The function's name as written, e.g. ``"np.log"``.
    arguments : str
        The text between the parentheses.
    names : tuple of str
        The columns the arguments name (not the functions they call, not keyword names,
        not the contents of strings, except ``Q("a b")``, patsy's way of naming a column).
    """

    kind: ClassVar[str] = "a function call"
    function: str
    arguments: str
    names: tuple[str, ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        """The columns the arguments name."""
        return self.names

    def patsy(self) -> str:
        """The call as written, except R's ``factor(x)``, which patsy spells ``C(x)``."""
        if self.function == "factor":
            return f"C({self.arguments})"
        return self.source or f"{self.function}({self.arguments})"


@dataclass(frozen=True)
class Interaction(Term):
    """The product of two or more terms, ``x:z`` (also made by expanding ``x*z``).

    Attributes
    ----------
    factors : tuple of Term
        The terms multiplied, in the order written; none is itself an interaction, an
        intercept or a random term.
    """

    kind: ClassVar[str] = "an interaction"
    factors: tuple[Term, ...]

    @property
    def variables(self) -> tuple[str, ...]:
        """The columns of every factor, in order, without repeats."""
        return tuple(dict.fromkeys(n for f in self.factors for n in f.variables))

    def patsy(self) -> str:
        """The factors' spellings joined by ``:``."""
        return ":".join(f.patsy() for f in self.factors)


@dataclass(frozen=True)
class Piece:
    """One signed summand of a formula as written, e.g. ``- 1`` or ``+ x*z``.

    Formulas are rendered back from their pieces, so that what the user wrote (``x*z``,
    ``0 + x``, ``x - 1``) reaches the fitting library unchanged.

    Attributes
    ----------
    sign : str
        ``"+"`` (the terms are added) or ``"-"`` (removed).
    terms : tuple of Term
        What the piece expands to: one term, or several for a product (``x*z`` gives
        ``x``, ``z``, ``x:z``).
    source : str
        The text of the piece without its sign.
    patsy : str
        The same text with each term in patsy's spelling (``factor(den)`` as ``C(den)``).
    pos : int
        The offset of the piece in the formula string.
    """

    sign: str
    terms: tuple[Term, ...]
    source: str
    patsy: str
    pos: int = field(default=0, compare=False)


def render(pieces: tuple[Piece, ...], *, patsy: bool = False) -> str:
    """A sum of pieces as text, ``"1 + x*z"`` or ``"x - 1"``.

    Parameters
    ----------
    pieces : tuple of Piece
    patsy : bool, default False
        Spell the terms as patsy does rather than as written.

    Returns
    -------
    str
        The pieces joined by their signs; an empty string for no pieces.
    """
    out = ""
    for piece in pieces:
        text = piece.patsy if patsy else piece.source
        if not out:
            out = f"-{text}" if piece.sign == "-" else text
        else:
            out += f" {piece.sign} {text}"
    return out


@dataclass(frozen=True)
class RandomTerm(Term):
    """A random-effects term ``(effects | group)``, as lme4 writes it.

    Attributes
    ----------
    effects : tuple of Term
        The terms with random coefficients, expanded (``x*z`` gives ``x``, ``z``, ``x:z``),
        without the intercept.
    intercept : bool
        Whether the term has a random intercept: implied, as in lme4, unless ``0`` or
        ``- 1`` appears inside the parentheses.
    group : str
        The grouping factor (cluster variable) after ``|``.
    pieces : tuple of Piece
        The effects as written, to render ``"0 + x"`` back.
    """

    kind: ClassVar[str] = "a random term"
    effects: tuple[Term, ...]
    intercept: bool
    group: str
    pieces: tuple[Piece, ...] = field(default=(), compare=False, repr=False)

    @property
    def variables(self) -> tuple[str, ...]:
        """The columns of the effects, then the grouping factor."""
        names = [n for t in self.effects for n in t.variables]
        return tuple(dict.fromkeys([*names, self.group]))

    def effects_text(self, *, patsy: bool = False) -> str:
        """The effects part as written, e.g. ``"1 + x"`` or ``"0 + x"``."""
        return render(self.pieces, patsy=patsy)
