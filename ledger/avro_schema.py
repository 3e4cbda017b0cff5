"""Derive each event's Avro schema from its pydantic model.

The models in ``ledger.events`` are the single source of truth; the ``.avsc`` files
under ``schemas/`` are this module's output, committed so that producers in other
languages share the contract (``dledger schemas export`` rewrites them; a test holds
them equal). Mapping:

    str -> string, int -> long, float -> double, bool -> boolean, bytes -> bytes,
    datetime -> long/timestamp-micros, Enum -> enum, list[X] -> array<X>,
    X | None -> ["null", X] default null, nested model -> record.

Every record lists the envelope fields first, in the same order, and ``signature``
last: the canonical bytes a producer signs are the encoding with a null signature,
so the signature can be appended without encoding the event twice.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .events import Event, Record

NAMESPACE = "dledger"
ENVELOPE_FIELDS: tuple[str, ...] = tuple(n for n in Event.model_fields if n != "signature")
SIGNATURE_FIELD = "signature"


def schema_for(cls: type[Event]) -> dict[str, Any]:
    """The Avro schema (JSON form, self-contained) of one event type."""
    defined: set[str] = set()
    names = [n for n in cls.model_fields if n != SIGNATURE_FIELD] + [SIGNATURE_FIELD]
    return {
        "type": "record",
        "name": cls.__name__,
        "namespace": NAMESPACE,
        "doc": (cls.__doc__ or cls.__name__).strip().splitlines()[0],
        "fields": [_field(cls, name, defined) for name in names],
    }


def record_schema(cls: type[Record], defined: set[str] | None = None) -> dict[str, Any] | str:
    defined = set() if defined is None else defined
    if cls.__name__ in defined:
        return cls.__name__
    defined.add(cls.__name__)
    return {
        "type": "record",
        "name": cls.__name__,
        "fields": [_field(cls, name, defined) for name in cls.model_fields],
    }


def _field(cls: type[BaseModel], name: str, defined: set[str]) -> dict[str, Any]:
    info = cls.model_fields[name]
    field: dict[str, Any] = {"name": name, "type": _type(info.annotation, defined)}
    if info.default is not PydanticUndefined:
        field["default"] = _json_default(info.default)
    elif info.default_factory is not None and name not in ("event_id", "occurred_at"):
        field["default"] = _json_default(info.default_factory())  # type: ignore[call-arg]
    return field


def _json_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _type(annotation: Any, defined: set[str]) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return ["null", _type(inner[0], defined)]
    if origin is list:
        return {"type": "array", "items": _type(args[0], defined)}
    if origin is typing.Literal:
        return "string"
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            if annotation.__name__ in defined:
                return annotation.__name__
            defined.add(annotation.__name__)
            return {"type": "enum", "name": annotation.__name__, "symbols": [m.value for m in annotation]}
        if issubclass(annotation, Record):
            return record_schema(annotation, defined)
        if issubclass(annotation, bool):
            return "boolean"
        if issubclass(annotation, int):
            return "long"
        if issubclass(annotation, float):
            return "double"
        if issubclass(annotation, str):
            return "string"
        if issubclass(annotation, bytes):
            return "bytes"
        if issubclass(annotation, datetime):
            return {"type": "long", "logicalType": "timestamp-micros"}
    raise TypeError(f"no Avro mapping for {annotation!r}")
