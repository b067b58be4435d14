"""Variable kinds as data: one registry entry per kind of target.

:data:`KINDS` maps a kind's name to its entry (:class:`~jmimpute.kinds.base.VariableKind`):
what the model and the results need to know about a continuous, binary, nominal or ordinal
target. A new kind is a new module here with its entry, registered below, and its tests
(docs/architecture.md, "Where to add").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from jmimpute.kinds.base import COVARIANCE_ROLES, VariableKind
from jmimpute.kinds.binary import BINARY
from jmimpute.kinds.continuous import CONTINUOUS
from jmimpute.kinds.nominal import NOMINAL
from jmimpute.kinds.ordinal import ORDINAL

KINDS: Mapping[str, VariableKind] = MappingProxyType(
    {kind.name: kind for kind in (CONTINUOUS, BINARY, NOMINAL, ORDINAL)}
)
"""Every kind by name."""


def kind(name: str) -> VariableKind:
    """The registry entry of the kind called ``name``.

    Raises
    ------
    ValueError
        Naming the unknown kind and the known ones.
    """
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown variable kind {name!r}; the kinds are {', '.join(map(repr, KINDS))}"
        ) from None


__all__ = ["COVARIANCE_ROLES", "KINDS", "VariableKind", "kind"]
