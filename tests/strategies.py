"""Hypothesis strategies for every event type, derived from the models' annotations,
so a new field is covered by the property tests without anyone remembering to."""

from __future__ import annotations

import string
import types
import typing
from datetime import datetime, timezone
from enum import Enum

from hypothesis import strategies as st
from pydantic import BaseModel

from ledger.events import Event, Record
from ledger.tokens import fingerprint

_SAFE = string.ascii_lowercase + string.digits + "-_:/.@ "
text_values = st.text(alphabet=_SAFE, max_size=24)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)
fingerprints = st.binary(min_size=1, max_size=16).map(lambda b: fingerprint(b, b"test key"))


def _for_annotation(annotation: typing.Any, name: str, meta: list[typing.Any]) -> st.SearchStrategy[typing.Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)][0]
        return st.none() | _for_annotation(inner, name, meta)
    if origin is list:
        return st.lists(_for_annotation(args[0], name, []), max_size=4)
    if origin is typing.Literal:
        return st.just(args[0])
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return st.sampled_from(list(annotation))
        if issubclass(annotation, Record):
            return model_strategy(annotation)
        if issubclass(annotation, bool):
            return st.booleans()
        if issubclass(annotation, int):
            lo = next((m.gt + 1 for m in meta if getattr(m, "gt", None) is not None), 0)
            return st.integers(min_value=lo, max_value=2**40)
        if issubclass(annotation, float):
            return st.floats(min_value=0, max_value=1e6, allow_nan=False)
        if issubclass(annotation, bytes):
            lo = next((m.min_length for m in meta if getattr(m, "min_length", None) is not None), 0)
            hi = next((m.max_length for m in meta if getattr(m, "max_length", None) is not None), 48)
            return st.binary(min_size=lo, max_size=hi)
        if issubclass(annotation, datetime):
            return times
        if issubclass(annotation, str):
            if name == "token_fingerprint":
                return fingerprints
            return text_values.filter(bool) if name in ("event_id",) else text_values
    raise TypeError(f"no strategy for {annotation!r}")


def model_strategy(cls: type[BaseModel]) -> st.SearchStrategy[typing.Any]:
    fields = {}
    for name, info in cls.model_fields.items():
        if name == "type":
            continue
        fields[name] = _for_annotation(info.annotation, name, list(info.metadata))
    strategy = st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))
    if issubclass(cls, Event):
        # lifecycle events need a chain; workflows need their id
        def fill(kw: dict[str, typing.Any]) -> dict[str, typing.Any]:
            kw["chain_id"] = kw.get("chain_id") or "chain-1"
            kw["workflow_id"] = kw.get("workflow_id") or "wf-1"
            return kw

        strategy = st.fixed_dictionaries(fields).map(fill).map(lambda kw: cls(**kw))
    return strategy
