"""One parser for every model formula: the imputation and the analysis formulas.

Grammar (R's, as lme4, pan, jomo and mitml use it)::

    formula  := [sum] "~" sum
    sum      := ["+" | "-"] piece (("+" | "-") piece)*
    piece    := "0" | "1" | random | product
    random   := "(" sum "|" name ")"
    product  := inter ("*" inter)*        a*b is a + b + a:b, and a*b*c every product
    inter    := atom (":" atom)*
    atom     := name | name "(" ... ")"   mean(x), cwc(x), I(x**2), or any other call

:func:`parse_terms` turns a formula into its terms (:mod:`jmimpute.spec.terms`) whatever
model it is for; :func:`jmimpute.spec.formula.parse_formula` then keeps what an imputation
model supports (plain names left of ``~``; plain covariates, the intercept and one random
term right of it), and :func:`jmimpute.analysis.formula.parse_analysis_formula` what the
analysis models fit.

As in R, the fixed intercept is implied unless ``0`` or ``- 1`` removes it, and a random
term ``(x | g)`` carries a random intercept unless ``0`` or ``- 1`` appears inside it.
Names are column names made of letters, digits, ``_`` and ``.``; any other column name
can be written between backticks, as in R.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from jmimpute.spec.terms import (
    Call,
    CentredWithinCluster,
    ClusterMean,
    Interaction,
    Intercept,
    Piece,
    Power,
    RandomTerm,
    Term,
    Variable,
    render,
)

_TOKEN = re.compile(
    r"\s*(?:(?P<quoted>`[^`]+`)|(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|(?P<number>\d+(?:\.\d*)?)"
    r"|(?P<op>\S))"
)
_ONE_NAME = re.compile(r"\s*(?:`([^`]+)`|([A-Za-z_.][A-Za-z0-9_.]*))\s*")
_POWER = re.compile(r"\s*(?:`([^`]+)`|([A-Za-z_.][A-Za-z0-9_.]*))\s*(?:\*\*|\^)\s*(\d+)\s*")
_ARGUMENT = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<number>\d[\w.]*|\.\d[\w.]*)"""
    r"|(?P<name>`[^`]+`|[A-Za-z_.][\w.]*)"
)
_LEFT = (
    "only variable names (or, in an analysis formula, functions of them such as log(y)) can "
    "stand left of '~'"
)


class FormulaError(ValueError):
    """A formula string that cannot be parsed, with the position of the problem."""

    def __init__(self, text: str, pos: int, message: str) -> None:
        pointer = " " * (pos + 4) + "^"
        super().__init__(f"{message}\n    {text}\n{pointer}")


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its terms, before any model decides which terms it supports.

    Attributes
    ----------
    text : str
        The formula as the user wrote it.
    lhs : tuple of Piece
        The pieces left of ``~`` (empty for a one-sided formula).
    rhs : tuple of Piece
        The pieces right of ``~``, random terms included, in the order written: what the
        formula is rendered back from.
    fixed : tuple of Term
        The fixed terms, expanded (``x*z`` gives ``x``, ``z``, ``x:z``), without repeats,
        without the terms removed with ``-``, without the intercept.
    intercept : bool
        Whether the fixed part has an intercept.
    random : tuple of RandomTerm
        The random terms, in the order written.
    """

    text: str
    lhs: tuple[Piece, ...]
    rhs: tuple[Piece, ...]
    fixed: tuple[Term, ...]
    intercept: bool
    random: tuple[RandomTerm, ...]

    @property
    def outcomes(self) -> tuple[Term, ...]:
        """The terms left of ``~``."""
        return tuple(t for piece in self.lhs for t in piece.terms)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every column the formula names: outcomes, fixed terms, random terms; each once."""
        terms = [*self.outcomes, *self.fixed, *self.random]
        return tuple(dict.fromkeys(n for t in terms for n in t.variables))

    def fixed_formula(self, *, patsy: bool = False) -> str:
        """The formula without its random terms, e.g. ``"y ~ x*z"``; ``"y ~ 1"`` if none.

        Parameters
        ----------
        patsy : bool, default False
            Spell the terms as patsy does (``factor(den)`` as ``C(den)``).

        Returns
        -------
        str
        """
        fixed = tuple(p for p in self.rhs if not isinstance(p.terms[0], RandomTerm))
        return f"{render(self.lhs, patsy=patsy)} ~ {render(fixed, patsy=patsy) or '1'}"


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "quoted" (a backticked name), "number" or "op"
    value: str  # names without their backticks
    start: int
    end: int


class _Tokens:
    """The formula's tokens, read one at a time (calls skip over their arguments)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> _Token | None:
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            return None
        kind = m.lastgroup or "op"
        value = m.group(kind)[1:-1] if kind == "quoted" else m.group(kind)
        return _Token(kind, value, m.start(kind), m.end())

    def next(self, what: str) -> _Token:
        tok = self.peek()
        if tok is None:
            raise FormulaError(self.text, len(self.text), f"formula ends where {what} was expected")
        self.pos = tok.end
        return tok

    def at(self, *ops: str) -> _Token | None:
        """The next token if it is one of the operators ``ops``."""
        tok = self.peek()
        return tok if tok is not None and tok.kind == "op" and tok.value in ops else None

    def expect_op(self, op: str) -> None:
        tok = self.next(f"'{op}'")
        if tok.kind != "op" or tok.value != op:
            raise FormulaError(self.text, tok.start, f"expected '{op}' but found '{tok.value}'")


def _closing(text: str, start: int) -> tuple[int, bool]:
    """Where the ``(`` at ``start`` closes, and whether a ``|`` stands directly inside.

    The index is -1 if the parenthesis is never closed; strings and backticked names are
    skipped, so that ``Q("a)b")`` does not end early.
    """
    depth, quote, bar, i = 0, "", False, start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i, bar
        elif c == "|" and depth == 1:
            bar = True
        i += 1
    return -1, bar


def _first_argument(arguments: str) -> str:
    """The text of a call's first argument (up to a comma outside brackets and strings)."""
    depth, quote = 0, ""
    for i, c in enumerate(arguments):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            return arguments[:i]
    return arguments


def _argument_names(function: str, arguments: str) -> tuple[str, ...]:
    """The columns a call's arguments name: not functions, keywords or keyword arguments.

    ``Q("a b")`` names the column ``a b`` (patsy's quoting); of ``C(x, Treatment)`` and
    ``factor(x, ...)`` only the first argument is a column, the others are contrasts/levels.
    """
    if function == "Q":
        quoted = re.fullmatch(r"\s*(\"[^\"]*\"|'[^']*')\s*", arguments)
        if quoted:
            return (quoted.group(1)[1:-1],)
    if function in ("C", "factor"):
        arguments = _first_argument(arguments)
    names = []
    for m in _ARGUMENT.finditer(arguments):
        if m.lastgroup != "name":
            continue
        token, rest = m.group(), arguments[m.end() :].lstrip()
        if rest.startswith("(") or (rest.startswith("=") and not rest.startswith("==")):
            continue
        if token.startswith("`"):
            names.append(token[1:-1])
        elif not keyword.iskeyword(token):
            names.append(token)
    return tuple(dict.fromkeys(names))


def _key(term: Term) -> object:
    """What makes two terms the same term: ``x:z`` is ``z:x``."""
    return frozenset(term.factors) if isinstance(term, Interaction) else term


def _collect(pieces: tuple[Piece, ...]) -> tuple[bool, tuple[Term, ...]]:
    """The intercept setting (the last one wins) and the terms a sum keeps, as R counts."""
    intercept = True
    kept: dict[object, Term] = {}
    for piece in pieces:
        for term in piece.terms:
            if isinstance(term, Intercept):
                intercept = term.present
            elif isinstance(term, RandomTerm):
                continue
            elif piece.sign == "+":
                kept.setdefault(_key(term), term)
            else:
                kept.pop(_key(term), None)
    return intercept, tuple(kept.values())


def _expand(operands: list[tuple[Term, ...]]) -> list[tuple[Term, ...]]:
    """Multiply out ``a*b*c`` as R does: every product of the operands, lower orders first."""
    products = [operands[0]]
    for right in operands[1:]:
        merged = [(*left, *(f for f in right if f not in left)) for left in products]
        products = [*products, right, *merged]
    seen: set[frozenset[Term]] = set()
    ordered = []
    for product in products:
        if frozenset(product) not in seen:  # a*a is a, a*b*a is a*b
            seen.add(frozenset(product))
            ordered.append(product)
    return sorted(ordered, key=len)  # stable: in the order written within each order


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _Tokens(text)
        self.atoms: list[tuple[int, int, str]] = []  # (start, end, patsy spelling)

    def error(self, pos: int, message: str) -> FormulaError:
        return FormulaError(self.text, pos, message)

    def sum(self, stop: str | None, side: str) -> tuple[Piece, ...]:
        """Pieces up to the operator ``stop`` (not consumed) or the end.

        ``side`` (``"lhs"``, ``"rhs"`` or ``"random"``, inside a random term) says which
        pieces may stand there.
        """
        pieces: list[Piece] = []
        lead = self.tokens.at("+", "-")
        sign = self.tokens.next("a sign").value if lead else "+"
        while True:
            tok = self.tokens.peek()
            if tok is None or (tok.kind == "op" and tok.value in ("+", "-", "~", "|", ")")):
                raise self.error(tok.start if tok else len(self.text), "a term is missing here")
            pieces.append(self.piece(sign, side))
            tok = self.tokens.peek()
            if tok is None or (tok.kind == "op" and tok.value == stop):
                return tuple(pieces)
            if tok.kind == "op" and tok.value in ("+", "-"):
                sign = self.tokens.next("a sign").value
                continue
            raise self.error(tok.start, f"expected '+' between terms, found '{tok.value}'")

    def piece(self, sign: str, side: str) -> Piece:
        tok = self.tokens.peek()
        assert tok is not None  # sum() checked
        start = tok.start
        if tok.kind == "number" or (tok.kind == "op" and tok.value == "("):
            if side == "lhs":
                raise self.error(start, _LEFT)
            term: Term
            if tok.kind == "number":
                term = self.intercept(sign)
            else:
                if side == "random":
                    raise self.error(start, "random-effect terms cannot be nested here")
                if sign == "-":
                    raise self.error(start, "a random term cannot be removed with '-'")
                term = self.random()
            return Piece(sign, (term,), term.source, term.source, start)
        self.atoms = []
        operands = [self.interaction()]
        while self.tokens.at("*"):
            self.tokens.next("'*'")
            operands.append(self.interaction())
        end = self.tokens.pos
        if side == "lhs" and (len(operands) > 1 or len(operands[0]) > 1 or sign == "-"):
            raise self.error(start, _LEFT)
        terms: list[Term] = []
        for factors in _expand(operands):
            if len(factors) == 1:
                terms.append(factors[0])
            else:
                source = ":".join(f.source for f in factors)
                terms.append(Interaction(factors, source=source, pos=factors[0].pos))
        patsy, cursor = "", start
        for a_start, a_end, spelled in self.atoms:
            patsy += self.text[cursor:a_start] + spelled
            cursor = a_end
        patsy += self.text[cursor:end]
        return Piece(sign, tuple(terms), self.text[start:end], patsy, start)

    def intercept(self, sign: str) -> Intercept:
        tok = self.tokens.next("a term")
        if tok.value not in ("0", "1"):
            raise self.error(tok.start, f"only 0 and 1 can stand alone, found '{tok.value}'")
        after = self.tokens.at("*", ":")
        if after:
            raise self.error(
                after.start, f"the intercept '{tok.value}' cannot be part of a product"
            )
        present = (tok.value == "1") == (sign == "+")
        return Intercept(present, source=tok.value, pos=tok.start)

    def interaction(self) -> tuple[Term, ...]:
        atoms = [self.atom()]
        while self.tokens.at(":"):
            self.tokens.next("':'")
            atoms.append(self.atom())
        return tuple(dict.fromkeys(atoms))  # x:x is x, as in R

    def atom(self) -> Term:
        tok = self.tokens.next("a term")
        if tok.kind == "name" and self.tokens.at("("):
            term = self.call(tok)
        elif tok.kind in ("name", "quoted"):
            if tok.value == "." and tok.kind == "name":
                raise self.error(tok.start, "'.' (all other columns) is not supported; name them")
            term = Variable(tok.value, source=self.text[tok.start : tok.end], pos=tok.start)
        elif tok.kind == "number":
            raise self.error(
                tok.start, f"a number cannot be part of a product, found '{tok.value}'"
            )
        elif tok.value == "`":
            raise self.error(tok.start, "this backtick is never closed")
        elif tok.value == "(":
            raise self.error(
                tok.start,
                "parentheses can only hold a random term such as (1 + x | g), which stands "
                "alone; write grouped terms out (a:c + b:c for (a + b):c)",
            )
        elif tok.value in "+-~|)*:":
            raise self.error(tok.start, "a term is missing here")
        else:
            raise self.error(tok.start, f"unexpected '{tok.value}'")
        self.atoms.append((tok.start, self.tokens.pos, term.patsy()))
        return term

    def call(self, name: _Token) -> Term:
        opening = self.tokens.next("'('")
        close, _ = _closing(self.text, opening.start)
        if close < 0:
            raise self.error(opening.start, f"the '(' of {name.value}( is never closed")
        self.tokens.pos = close + 1
        arguments = self.text[opening.start + 1 : close]
        source = self.text[name.start : close + 1]
        function = name.value
        if function in ("mean", "cwc"):
            one = _ONE_NAME.fullmatch(arguments)
            if one is None:
                raise self.error(
                    opening.start + 1,
                    f"{function}() takes one column name, e.g. {function}(ses); "
                    f"found '{arguments.strip()}'",
                )
            column = one.group(1) or one.group(2)
            kind = ClusterMean if function == "mean" else CentredWithinCluster
            return kind(column, source=source, pos=name.start)
        power = _POWER.fullmatch(arguments) if function == "I" else None
        if power is not None:
            column = power.group(1) or power.group(2)
            return Power(column, int(power.group(3)), source=source, pos=name.start)
        names = _argument_names(function, arguments)
        return Call(function, arguments, names, source=source, pos=name.start)

    def random(self) -> RandomTerm:
        opening = self.tokens.next("'('")
        close, bar = _closing(self.text, opening.start)
        if close < 0:
            raise self.error(opening.start, "this '(' is never closed")
        source = self.text[opening.start : close + 1]
        if not bar:
            raise self.error(
                opening.start,
                "parentheses can only hold a random term such as (1 + x | g); write grouped "
                "terms out (a:c + b:c for (a + b):c)",
            )
        empty = self.tokens.at("|")
        if empty:
            group = self.text[empty.end : close].strip()
            raise self.error(
                opening.start,
                f"the random term '{source}' is empty; write (1 | {group}) for a random intercept",
            )
        pieces = self.sum("|", "random")
        self.tokens.expect_op("|")
        double = self.tokens.at("|")
        if double:
            raise self.error(double.start, "'||' (uncorrelated effects) is not supported")
        group_tok = self.tokens.next("the grouping factor")
        after = self.tokens.peek()
        if group_tok.kind not in ("name", "quoted"):
            after = group_tok
        if after is None or after.kind != "op" or after.value != ")":
            found = "the end" if after is None else f"'{after.value}'"
            raise self.error(
                group_tok.start if after is None else after.start,
                f"the grouping factor after '|' must be one column name, found {found}; "
                "for nested (g/h) or crossed (g:h) groups, add a column that combines them",
            )
        self.tokens.next("')'")
        intercept, effects = _collect(pieces)
        if not effects and not intercept:
            raise self.error(opening.start, f"the random term '{source}' has no effects left")
        return RandomTerm(
            effects, intercept, group_tok.value, pieces, source=source, pos=opening.start
        )


def parse_terms(text: str) -> ParsedFormula:
    """Parse a formula into its terms, whatever model it is for.

    Parameters
    ----------
    text : str
        For example ``"y ~ 1 + x*z + I(x**2) + mean(x) + (1 + x | sch)"``.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    FormulaError
        With the formula and a pointer at the offending position.

    Examples
    --------
    >>> f = parse_terms("y ~ x*z + (1|g)")
    >>> [t.source for t in f.fixed], f.random[0].group
    (['x', 'z', 'x:z'], 'g')
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula must be a string, got {type(text).__name__}: {text!r}")
    if text.count("~") != 1:
        raise FormulaError(
            text,
            text.find("~", text.find("~") + 1) if "~" in text else len(text),
            "a formula needs exactly one '~' between the modelled variables and the predictors",
        )
    parser = _Parser(text)
    lhs = () if parser.tokens.at("~") else parser.sum("~", "lhs")
    parser.tokens.expect_op("~")
    rhs = parser.sum(None, "rhs")
    intercept, fixed = _collect(rhs)
    random = tuple(t for p in rhs for t in p.terms if isinstance(t, RandomTerm))
    return ParsedFormula(text, lhs, rhs, fixed, intercept, random)
