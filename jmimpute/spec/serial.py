"""The specification as JSON and back (its dataclass fields, nested), for result files."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from jmimpute.spec.model import ImputationSpec


def to_plain(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists, nested: what JSON can hold."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    return value


def _from_plain(hint: Any, value: Any) -> Any:
    """Rebuild a value of type ``hint`` (dataclasses, tuples, unions of them) from JSON."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        classes = [a for a in options if dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and classes:
            return _from_plain(classes[0], value)
        return _from_plain(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_from_plain(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        return hint(**{k: _from_plain(hints[k], v) for k, v in value.items() if k in known})
    return value


def spec_to_json(spec: ImputationSpec) -> str:
    """The specification as JSON (its dataclass fields, nested)."""
    return json.dumps(to_plain(spec))


def spec_from_json(text: str) -> ImputationSpec:
    """Rebuild the specification written by :func:`spec_to_json`."""
    spec: ImputationSpec = _from_plain(ImputationSpec, json.loads(text))
    return spec
