"""avro_fast: the generated codecs write and read exactly what fastavro does."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.avro_fast import Unsupported, compile_record, encode_long
from ledger.avro_schema import schema_for
from ledger.codec import SINGLE_OBJECT_MAGIC, EventCodec, schema_fingerprint
from ledger.errors import MalformedRecord, UnknownSchema
from ledger.events import EVENT_TYPES, CredentialIssued, Event, GovernanceFinding, PartyRef, StandardRef
from ledger.signing import IssuerKey
from tests.strategies import model_strategy

FAST = {cls: compile_record(schema_for(cls)) for cls in EVENT_TYPES}
CANONICAL = {
    cls: compile_record(schema_for(cls), null_fields=("signature",), override_fields=("producer",))
    for cls in EVENT_TYPES
}
PARSED = {cls: fastavro.parse_schema(schema_for(cls)) for cls in EVENT_TYPES}
key = IssuerKey.from_seed("issuer-1", b"avro fast tests")
codec = EventCodec()


def _reference_bytes(cls: type[Event], datum: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, PARSED[cls], datum)
    return buf.getvalue()


def _reference_read(cls: type[Event], body: bytes) -> dict[str, Any]:
    buf = io.BytesIO(body)
    datum = fastavro.schemaless_reader(buf, PARSED[cls], None)
    if buf.tell() != len(body):
        raise ValueError("trailing bytes")
    return datum  # type: ignore[no-any-return]


def _signed(event: Event) -> Event:
    """The event as the publisher would leave it: producer set, batch signature with a path."""
    event = event.model_copy(update={"producer": key.producer, "signature": None})
    canonical = codec.canonical(event)
    signature = key.sign_batch([canonical, b"other", b"third"])[0]
    return event.model_copy(update={"signature": signature})


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fast_encoder__writes_fastavros_bytes(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(model_strategy(cls))
    for candidate in (event, _signed(event)):
        assert FAST[cls].encode(candidate) == _reference_bytes(cls, candidate.model_dump())


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fast_decoder__reads_fastavros_dict(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(model_strategy(cls))
    for candidate in (event, _signed(event)):
        body = _reference_bytes(cls, candidate.model_dump())
        datum, signature_at = FAST[cls].decode(body, 0)
        assert datum == _reference_read(cls, body)
        assert body[signature_at:] == _reference_bytes(cls, candidate.model_dump())[signature_at:]
        assert body[:signature_at] + b"\x00" == _reference_bytes(cls, candidate.model_dump() | {"signature": None})


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_canonical_encoder__nulls_the_signature_and_takes_the_producer(cls: type[Event], data: st.DataObject) -> None:
    event = _signed(data.draw(model_strategy(cls)))
    other = IssuerKey.from_seed("issuer-2", b"other").producer
    expected = _reference_bytes(cls, event.model_dump() | {"signature": None, "producer": other.model_dump()})
    assert CANONICAL[cls].encode(event, other) == expected
    assert CANONICAL[cls].encode(event) == _reference_bytes(cls, event.model_dump() | {"signature": None})


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        return "error", exc


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_decoder__bad_bytes_raise_malformed_record_only(cls: type[Event], data: st.DataObject) -> None:
    """Truncated, extended and corrupted bodies: where fastavro fails the fast decoder
    fails with MalformedRecord (and nothing else); where both succeed they agree. The
    fast decoder may refuse more (negative indexes, overlong varints)."""
    body = _reference_bytes(cls, _signed(data.draw(model_strategy(cls))).model_dump())
    cut = data.draw(st.integers(0, len(body)))
    at = data.draw(st.integers(0, max(0, len(body) - 1)))
    flip = data.draw(st.integers(1, 255))
    noise = data.draw(st.binary(max_size=40))
    candidates = [body[:cut], body + noise, noise]
    if body:
        candidates.append(body[:at] + bytes([body[at] ^ flip]) + body[at + 1 :])
        candidates.append(body[:at] + noise + body[at:])
    for bad in candidates:
        fast = _outcome(lambda: FAST[cls].decode(bad, 0)[0])
        ref = _outcome(lambda: _reference_read(cls, bad))
        if fast[0] == "error":
            assert isinstance(fast[1], MalformedRecord), repr(fast[1])
        elif ref[0] == "ok":
            assert fast[1] == ref[1]
        else:
            pytest.fail(f"fastavro refused {bad.hex()} ({ref[1]!r}) but the fast decoder read it")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), cls=st.sampled_from(EVENT_TYPES))
def test_codec__framed_garbage_raises_domain_errors_only(data: bytes, cls: type[Event]) -> None:
    header = SINGLE_OBJECT_MAGIC + schema_fingerprint(schema_for(cls))
    for framed in (header + data, data):
        with pytest.raises((MalformedRecord, UnknownSchema)):
            codec.decode(framed)


def test_fast_encoder__naive_datetime_as_fastavro_writes_it() -> None:
    """Only occurred_at is forced aware by the model; fastavro reads a naive datetime
    as local time (mktime), and so must we."""
    event = CredentialIssued(
        chain_id="c", credential_id="cred", token_fingerprint="hmac-sha256:" + "0" * 64, subject="s",
        not_before=datetime(2030, 5, 6, 7, 8, 9, 123456), expires_at=datetime(1999, 1, 1),
    )
    assert FAST[CredentialIssued].encode(event) == _reference_bytes(CredentialIssued, event.model_dump())


def test_fast_encoder__long_out_of_range_raises_overflow_like_fastavro() -> None:
    event = GovernanceFinding(chain_id="c", kind="k", severity="LOW", summary="s")
    big = event.model_copy(update={"schema_version": 2**63})
    with pytest.raises(OverflowError):
        _reference_bytes(GovernanceFinding, big.model_dump())
    with pytest.raises(OverflowError):
        FAST[GovernanceFinding].encode(big)
    with pytest.raises(MalformedRecord):
        codec.canonical(big)
    assert encode_long(2**63 - 1) == _long_reference(2**63 - 1)
    assert encode_long(-(2**63)) == _long_reference(-(2**63))


def _long_reference(n: int) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema("long"), n)
    return buf.getvalue()


def test_fast_decoder__arrays_in_sized_blocks() -> None:
    """A writer may split an array into blocks with negative counts and byte sizes."""
    schema = {"type": "record", "name": "R", "fields": [{"name": "xs", "type": {"type": "array", "items": "long"}}]}
    body = encode_long(-2) + encode_long(2) + encode_long(5) + encode_long(6) + encode_long(1) + encode_long(7) + b"\x00"
    expected = fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(schema), None)
    assert compile_record(schema).decode(body, 0)[0] == expected == {"xs": [5, 6, 7]}


def test_fast_decoder__refuses_negative_union_index() -> None:
    """fastavro reads union index -1 as the last branch (Python list indexing); we refuse it."""
    schema = {"type": "record", "name": "N", "fields": [{"name": "x", "type": ["null", "string"]}]}
    body = encode_long(-1) + encode_long(1) + b"a"
    assert fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(schema), None) == {"x": "a"}
    with pytest.raises(MalformedRecord):
        compile_record(schema).decode(body, 0)
    assert compile_record(schema).decode(b"\x02\x02a", 0) == ({"x": "a"}, 0)


def test_compile_record__unsupported_shapes_are_named() -> None:
    with pytest.raises(Unsupported):
        compile_record({"type": "record", "name": "U", "fields": [{"name": "u", "type": ["string", "long"]}]})
    with pytest.raises(Unsupported):
        compile_record({"type": "record", "name": "M", "fields": [{"name": "m", "type": {"type": "map", "values": "long"}}]})


def test_fast_encoder__nested_records_by_name_reuse() -> None:
    """GovernanceFinding defines PartyRef and StandardRef once and refers to them by name."""
    finding = GovernanceFinding(
        chain_id="c", kind="k", severity="HIGH", summary="s",
        accountable=[PartyRef(role="workflow_owner", party_id="p1"), PartyRef(role="resource_owner", party_id="p2")],
        standards=[StandardRef(framework="OWASP NHI", ref="NHI1"), StandardRef(framework="NIST", ref="MANAGE 2.4", title="t")],
    )
    body = FAST[GovernanceFinding].encode(finding)
    assert body == _reference_bytes(GovernanceFinding, finding.model_dump())
    assert FAST[GovernanceFinding].decode(body, 0)[0] == _reference_read(GovernanceFinding, body)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 70), seed=st.binary(min_size=1, max_size=8))
def test_group_signatures__encode_as_sign_batch_then_encode_signature(n: int, seed: bytes) -> None:
    """The publisher's path (sign_group + encode_group_signatures) writes the bytes the
    Signature models would."""
    from ledger.codec import encode_group_signatures, encode_signature

    canonical = [seed + bytes([i]) for i in range(n)]
    expected = [encode_signature(s.sig, s.tree_size, s.leaf_index, s.audit_path) for s in key.sign_batch(canonical, group=n)]
    sig, paths = key.sign_group(canonical)
    assert encode_group_signatures(sig, paths) == expected
