"""Parse mitml-style imputation formulas into plain specifications.

Grammar (a subset of R's, as pan/jomo/mitml use it)::

    formula  := targets "~" rhs
    targets  := name ("+" name)*
    rhs      := term (("+" | "-") term)*
    term     := "1" | "0" | name | "(" effects "|" name ")"
    effects  := ("1" | "0" | name) (("+" | "-") ("1" | "0" | name))*

As in R, the fixed intercept is implied unless ``0`` or ``- 1`` removes it, and a random
term ``(x | g)`` carries a random intercept unless ``0`` or ``- 1`` appears inside it.
Names are column names made of letters, digits, ``_`` and ``.``; any other column name
can be written between backticks, as in R.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|([A-Za-z_.][A-Za-z0-9_.]*)|(\d+)|(\S))")


class FormulaError(ValueError):
    """A formula string that cannot be parsed, with the position of the problem."""

    def __init__(self, text: str, pos: int, message: str) -> None:
        pointer = " " * (pos + 4) + "^"
        super().__init__(f"{message}\n    {text}\n{pointer}")


@dataclass(frozen=True)
class Formula:
    """One parsed imputation formula.

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


class _Tokens:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[tuple[str, str, int]] = []  # (kind, value, position)
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                break
            start = m.start(m.lastindex or 0)
            if m.group(1):
                self.items.append(("name", m.group(1)[1:-1], start))
            elif m.group(2):
                self.items.append(("name", m.group(2), start))
            elif m.group(3):
                self.items.append(("number", m.group(3), start))
            elif m.group(4):
                self.items.append(("op", m.group(4), start))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.items[self.i] if self.i < len(self.items) else None

    def next(self, what: str) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise FormulaError(self.text, len(self.text), f"formula ends where {what} was expected")
        self.i += 1
        return tok

    def expect_op(self, op: str) -> None:
        kind, value, pos = self.next(f"'{op}'")
        if kind != "op" or value != op:
            raise FormulaError(self.text, pos, f"expected '{op}' but found '{value}'")


def _effect_list(
    tokens: _Tokens, stop: set[str], *, allow_random: bool
) -> tuple[list[str], bool | None, list[tuple[list[str], bool | None, str, int]]]:
    """Parse ``term (+|- term)*`` until an op in ``stop`` (not consumed) or the end.

    Returns the names, the explicit intercept setting (None if not given) and the random
    terms found.
    """
    names: list[str] = []
    intercept: bool | None = None
    randoms: list[tuple[list[str], bool | None, str, int]] = []
    sign = "+"
    expect_term = True
    text = tokens.text
    while True:
        tok = tokens.peek()
        if tok is None or (tok[0] == "op" and tok[1] in stop):
            if expect_term:
                pos = tok[2] if tok else len(text)
                raise FormulaError(text, pos, "a term is missing here")
            return names, intercept, randoms
        kind, value, pos = tokens.next("a term")
        if not expect_term:
            if kind == "op" and value in "+-":
                sign = value
                expect_term = True
                continue
            raise FormulaError(text, pos, f"expected '+' between terms, found '{value}'")
        if kind == "number":
            if value not in ("0", "1"):
                raise FormulaError(text, pos, f"only 0 and 1 can stand alone, found '{value}'")
            intercept = (value == "1") == (sign == "+")
        elif kind == "name":
            if sign == "-":
                raise FormulaError(text, pos, "removing a variable with '-' is not supported")
            if value in names:
                raise FormulaError(text, pos, f"'{value}' appears twice")
            names.append(value)
        elif kind == "op" and value in "+-~|)":
            raise FormulaError(text, pos, "a term is missing here")
        elif kind == "op" and value == "(":
            if not allow_random:
                raise FormulaError(text, pos, "random-effect terms cannot be nested here")
            if sign == "-":
                raise FormulaError(text, pos, "a random term cannot be removed with '-'")
            eff, eff_int, _ = _effect_list(tokens, {"|"}, allow_random=False)
            tokens.expect_op("|")
            gkind, group, gpos = tokens.next("the cluster variable")
            if gkind != "name":
                raise FormulaError(text, gpos, f"expected the cluster variable, found '{group}'")
            nxt = tokens.peek()
            if nxt is not None and nxt[0] == "op" and nxt[1] == "|":
                raise FormulaError(text, nxt[2], "'||' (uncorrelated effects) is not supported")
            tokens.expect_op(")")
            randoms.append((eff, eff_int, group, pos))
        else:
            raise FormulaError(text, pos, f"unexpected '{value}'")
        expect_term = False
        sign = "+"


def parse_formula(text: str) -> Formula:
    """Parse one formula string.

    Parameters
    ----------
    text : str
        For example ``"lpo + iqv ~ 1 + ses + (1 + ses | sch)"`` or ``"den ~ 1"``.

    Returns
    -------
    Formula

    Raises
    ------
    FormulaError
        With the formula and a pointer at the offending position.

    Examples
    --------
    >>> f = parse_formula("lpo + iqv ~ 1 + (1|sch)")
    >>> f.targets, f.cluster, f.random_intercept
    (('lpo', 'iqv'), 'sch', True)
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula must be a string, got {type(text).__name__}: {text!r}")
    if text.count("~") != 1:
        raise FormulaError(
            text,
            text.find("~", text.find("~") + 1) if "~" in text else len(text),
            "a formula needs exactly one '~' between the targets and the predictors",
        )
    tokens = _Tokens(text)
    targets, t_int, t_rand = _effect_list(tokens, {"~"}, allow_random=False)
    if t_int is not None or t_rand:
        raise FormulaError(text, 0, "only variable names can stand left of '~'")
    tokens.expect_op("~")
    fixed, intercept, randoms = _effect_list(tokens, set(), allow_random=True)
    if len(randoms) > 1:
        raise FormulaError(text, randoms[1][3], "only one random-effect term is supported")
    overlap = set(targets) & set(fixed)
    if overlap:
        name = sorted(overlap)[0]
        raise FormulaError(
            text, text.rfind(name), f"'{name}' is both imputed (left of '~') and a predictor"
        )
    if randoms:
        eff, eff_int, group, pos = randoms[0]
        both = set(targets) & set(eff)
        if both:
            name = sorted(both)[0]
            raise FormulaError(text, pos, f"'{name}' is imputed and cannot have a random slope")
        random_intercept = True if eff_int is None else eff_int
        if not eff and not random_intercept:
            raise FormulaError(text, pos, "the random term has no effects left")
        return Formula(
            text=text,
            targets=tuple(targets),
            fixed=tuple(fixed),
            intercept=True if intercept is None else intercept,
            random=tuple(eff),
            random_intercept=random_intercept,
            cluster=group,
        )
    return Formula(
        text=text,
        targets=tuple(targets),
        fixed=tuple(fixed),
        intercept=True if intercept is None else intercept,
    )
