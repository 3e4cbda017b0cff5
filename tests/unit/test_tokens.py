"""No event field can carry a raw token (invariant 3)."""

from __future__ import annotations

import types
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ledger.events import EVENT_TYPES, CredentialIssued, Event
from ledger.tokens import FINGERPRINT_RE, find_secret, fingerprint
from tests.strategies import model_strategy

RAW_TOKENS = [
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZ2VudC03In0.c2lnbmF0dXJlLWJ5dGVz",
    "Bearer 8f1e0c3b9d2a47e6b5c4d3e2f1a0b9c8",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-263594206564-2343525646-lVeUG4DRrRfF6cZE9fT3nJxy",
    "AKIAIOSFODNN7EXAMPLE",
    "sk-proj-4f9Qd8mZ2xLk7RtY1wV3bN6cH0pJ5sU8",
    "ya29.a0AfH6SMBx3Vd2Lq9Kp7Rt5Yw8Zc1Nv4Mb6Xj0",
    "-----BEGIN PRIVATE KEY-----MC4CAQAwBQYDK2VwBCIEI",
    "Zk9vV2x4QmFyOTg3NjU0MzIxcXdlcnR5dWlvcGFzZGZn",  # an opaque random-looking secret
]

BENIGN = [
    "spiffe://acme.corp/agents/agent-procure-7",
    "sha256:" + "ab" * 32,
    "onboard vendor Globex for the EMEA procurement team",
    "pol-agent-access/allow-scoped",
    "9b2f6c1e-7d44-4b8a-9a51-0c2d3e4f5a6b",
    "platform-security@acme",
]


def _unoptional(ann: typing.Any) -> typing.Any:
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(ann) if a is not type(None)][0]
    return ann


def _string_paths(cls: type[BaseModel]) -> list[tuple[tuple[str, ...], bool]]:
    """(field path, is list) of every str field reachable in ``cls``, nested records included."""
    out: list[tuple[tuple[str, ...], bool]] = []
    for name, info in cls.model_fields.items():
        inner = _unoptional(info.annotation)
        is_list = typing.get_origin(inner) is list
        if is_list:
            inner = typing.get_args(inner)[0]
        if inner is str and name != "type":
            out.append(((name,), is_list))
        elif isinstance(inner, type) and issubclass(inner, BaseModel) and not is_list:
            out.extend(((name, *path), lst) for path, lst in _string_paths(inner))
    return out


def _with_text(cls: type[BaseModel], event: Event, path: tuple[str, ...], is_list: bool, text: str) -> dict:
    data = event.model_dump()
    node, model = data, cls
    for name in path[:-1]:
        if node.get(name) is None:  # fill an absent optional record with its smallest valid value
            inner = _unoptional(model.model_fields[name].annotation)
            node[name] = {f: "x" for f, i in inner.model_fields.items() if i.is_required()}
        model = _unoptional(model.model_fields[name].annotation)
        node = node[name]
    node[path[-1]] = [text] if is_list else text
    return data


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=5, deadline=None)
@given(data=st.data(), token=st.sampled_from(RAW_TOKENS))
def test_every_text_field__refuses_a_raw_token(cls: type[Event], data: st.DataObject, token: str) -> None:
    event = data.draw(model_strategy(cls))
    paths = _string_paths(cls)
    assert any(p == ("producer", "issuer_id") for p, _ in paths)  # nested records are covered
    for path, is_list in paths:
        with pytest.raises(ValidationError):
            cls.model_validate(_with_text(cls, event, path, is_list, f"prefix {token} suffix"))


def test_token_fingerprint__must_be_a_fingerprint() -> None:
    ok = fingerprint("the-token", b"deployment key")
    assert FINGERPRINT_RE.match(ok)
    base = dict(chain_id="c", credential_id="x", subject="s", token_fingerprint=ok)
    CredentialIssued(**base)
    with pytest.raises(ValidationError, match="fingerprint"):
        CredentialIssued(**(base | {"token_fingerprint": "the-token"}))


def test_fingerprint__is_keyed_and_deterministic() -> None:
    assert fingerprint("t", b"k1") == fingerprint("t", b"k1")
    assert fingerprint("t", b"k1") != fingerprint("t", b"k2")
    assert "t" not in fingerprint("t", b"k1").removeprefix("hmac-sha256:")
    with pytest.raises(ValueError):
        fingerprint("t", b"")


@pytest.mark.parametrize("text", RAW_TOKENS)
def test_find_secret__names_known_shapes(text: str) -> None:
    assert find_secret(text)


@pytest.mark.parametrize("text", BENIGN)
def test_find_secret__leaves_identifiers_and_digests_alone(text: str) -> None:
    assert find_secret(text) is None
