"""Dataclasses to and from JSON-shaped dicts by one rule, so every part of run.json is written and read by
the same class.

Why one generic rule rather than a hand-written pair of methods per class: run.json holds some sixty fields
in a dozen nested parts, and hand-written pairs drift apart (a field written and never read back, or read
under another name). Here a class's fields are its schema: written under their names, read back by their
declared types (nested records, lists, tuples, optionals), and ``type(x).from_dict(x.to_dict()) == x``.

- ``field(metadata=FLAT)``: a nested record whose keys sit beside its owner's. A step's latency summary,
  resources and stability are one flat mapping in run.json (as in schema 1), so steps.csv and anyone
  reading ``step["p99_ms"]`` keep working. An optional part that is None writes no keys, and reads back as
  None when none of its keys are present.
- ``field(metadata=SKIP)``: kept in memory, never written (a step's HDR histogram goes to histograms.json).
- Reading refuses keys the class does not declare (a renamed or misspelt field fails loudly instead of
  vanishing); missing keys take the field's default, and a missing required field is an error.
- numpy scalars and arrays are written as Python numbers and lists. NaN is left to ``json.dumps``, which
  writes the bare token ``NaN`` as run.json always has; Python's json (the report) reads it back.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Self, Union, get_args, get_origin

FLAT: Mapping[str, bool] = types.MappingProxyType({"flat": True})
SKIP: Mapping[str, bool] = types.MappingProxyType({"skip": True})


class Record:
    """Mixin for dataclasses: ``to_dict()`` and ``from_dict()`` by the rules of this module."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.metadata.get("skip"):
                continue
            value = getattr(self, f.name)
            if f.metadata.get("flat"):
                if value is not None:
                    out.update(value.to_dict())
                continue
            out[f.name] = to_json(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        unknown = set(data) - json_keys(cls)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.metadata.get("skip") or not f.init:
                continue
            if f.metadata.get("flat"):
                part = _record_type(hints[f.name])
                sub = {k: data[k] for k in json_keys(part) if k in data}
                if sub or not _is_optional(hints[f.name]):
                    kwargs[f.name] = part.from_dict(sub)
            elif f.name in data:
                kwargs[f.name] = from_json(hints[f.name], data[f.name], f"{cls.__name__}.{f.name}")
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"{cls.__name__}: {exc}") from None


def read_field(cls: type[Record], name: str, value: Any) -> Any:
    """``value`` (JSON-shaped) read as the type of field ``name`` of ``cls``."""
    hints = _hints(cls)
    if name not in hints or name not in {f.name for f in dataclasses.fields(cls)}:  # type: ignore[arg-type]
        raise ValueError(f"{cls.__name__} has no field {name!r}")
    return from_json(hints[name], value, f"{cls.__name__}.{name}")


@cache
def json_keys(cls: type[Record]) -> frozenset[str]:
    """Every key a record writes, its flat parts' included; parts that would share a key are refused."""
    keys: set[str] = set()
    hints = _hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.metadata.get("skip"):
            continue
        own = json_keys(_record_type(hints[f.name])) if f.metadata.get("flat") else {f.name}
        if keys & own:
            raise TypeError(f"{cls.__name__}: key(s) {sorted(keys & own)} written twice")
        keys |= own
    return frozenset(keys)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _options(tp: Any) -> list[Any]:
    """The types of a union other than None (one element for anything else)."""
    if get_origin(tp) in (Union, types.UnionType):
        return [a for a in get_args(tp) if a is not type(None)]
    return [tp]


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp)


def _record_type(tp: Any) -> type[Record]:
    options = _options(tp)
    if len(options) != 1 or not (isinstance(options[0], type) and issubclass(options[0], Record)):
        raise TypeError(f"a flat field must hold one Record type, not {tp}")
    return options[0]


def to_json(value: Any) -> Any:
    """A value as JSON holds it: records as dicts, tuples as lists, numpy numbers as Python numbers."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if type(value).__module__ == "numpy":
        return to_json(value.tolist())
    return value


def from_json(tp: Any, value: Any, where: str = "value") -> Any:
    """``value`` read as type ``tp``: nested records, lists and tuples rebuilt, anything else as it is."""
    if value is None:
        return None
    options = _options(tp)
    if len(options) != 1:  # e.g. int | float: JSON already says which
        return value
    tp = options[0]
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_dict(value)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
        args = get_args(tp)
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            items = [from_json(args[0], v, where) for v in value]
            return items if origin is list else tuple(items)
        if len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(from_json(a, v, where) for a, v in zip(args, value, strict=True))
    return value
