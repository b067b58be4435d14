"""Split an lme4-style analysis formula into its fixed part and its random term.

``"lpo ~ iqv + factor(den) + (1 + iqv | sch)"`` becomes the fixed formula
``"lpo ~ iqv + C(den)"`` (patsy/formulae syntax: R's ``factor()`` is spelled ``C()``),
the random-effects formula ``"1 + iqv"`` and the grouping variable ``sch``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

_NAME = re.compile(r"`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*")
_FUNCTIONS = {"C", "I", "Q", "np", "log", "exp", "sqrt", "center", "scale", "standardize"}


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
    """

    text: str
    response: str
    fixed: str
    random: str | None
    group: str | None
    variables: tuple[str, ...]

    @property
    def mixed(self) -> bool:
        """Whether the formula has a random term."""
        return self.group is not None


def _random_terms(rhs: str) -> tuple[str, list[tuple[str, str]]]:
    """Remove top-level ``( ... | g )`` terms from a right-hand side."""
    terms: list[tuple[str, str]] = []
    out, i = [], 0
    while i < len(rhs):
        if rhs[i] == "(":
            depth, j = 1, i + 1
            while j < len(rhs) and depth:
                depth += {"(": 1, ")": -1}.get(rhs[j], 0)
                j += 1
            inner = rhs[i + 1 : j - 1]
            if depth == 0 and "|" in inner and inner.count("(") == inner.count(")"):
                left, _, group = inner.rpartition("|")
                terms.append((left.strip().rstrip("|").strip(), group.strip()))
                i = j
                continue
            out.append(rhs[i:j])
            i = j
            continue
        out.append(rhs[i])
        i += 1
    fixed = re.sub(r"\+\s*(\+\s*)+", "+ ", "".join(out))
    fixed = re.sub(r"^\s*\+|\+\s*$", "", fixed.strip()).strip()
    return fixed, terms


def _names(expr: str) -> list[str]:
    names = []
    for match in _NAME.finditer(expr):
        token = match.group(0)
        after = expr[match.end() :].lstrip()
        if after.startswith("("):  # a function call
            continue
        if token.startswith("`"):
            names.append(token[1:-1])
        elif not keyword.iskeyword(token) and token not in _FUNCTIONS and "." not in token[:1]:
            names.append(token)
    return names


def parse_analysis_formula(text: str) -> AnalysisFormula:
    """Parse an analysis formula with at most one lme4-style random term.

    Parameters
    ----------
    text : str

    Returns
    -------
    AnalysisFormula

    Examples
    --------
    >>> f = parse_analysis_formula("lpo ~ iqv + factor(den) + (1 | sch)")
    >>> f.fixed, f.random, f.group
    ('lpo ~ iqv + C(den)', '1', 'sch')
    """
    if not isinstance(text, str) or text.count("~") != 1:
        raise ValueError(
            f"the analysis formula must be a string with one '~', like 'lpo ~ iqv + (1|sch)'; "
            f"got {text!r}"
        )
    lhs, rhs = (s.strip() for s in text.split("~"))
    response_names = _names(lhs)
    if not lhs or len(response_names) != 1:
        raise ValueError(f"the analysis formula {text!r} needs one response left of '~'")
    rhs = re.sub(r"\bfactor\(", "C(", rhs)
    fixed_rhs, terms = _random_terms(rhs)
    if len(terms) > 1:
        raise ValueError(
            f"the analysis formula {text!r} has {len(terms)} random terms; one is supported"
        )
    if not fixed_rhs:
        fixed_rhs = "1"
    random, group = terms[0] if terms else (None, None)
    if group is not None and not re.fullmatch(r"`[^`]+`|[A-Za-z_.][A-Za-z0-9_.]*", group):
        raise ValueError(f"the grouping term {group!r} in {text!r} must be one column name")
    if random is not None and not random:
        raise ValueError(f"the random term of {text!r} is empty")
    names = response_names + _names(fixed_rhs) + (_names(random) if random else [])
    if group is not None:
        group = group.strip("`")
        names.append(group)
    return AnalysisFormula(
        text=text,
        response=response_names[0],
        fixed=f"{lhs} ~ {fixed_rhs}",
        random=random,
        group=group,
        variables=tuple(dict.fromkeys(names)),
    )
