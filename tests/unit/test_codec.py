"""Codec: every event type round-trips; framing; schema evolution; bad bytes."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import avro.io
import avro.schema
import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.avro_schema import ENVELOPE_FIELDS, schema_for
from ledger.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, EventCodec, encode_signature, schema_json
from ledger.errors import MalformedRecord, UnknownSchema
from ledger.events import EVENT_TYPES, CredentialUsed, Event, UseOutcome
from ledger.signing import IssuerKey
from ledger.tokens import fingerprint
from tests.strategies import model_strategy

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
codec = EventCodec()
key = IssuerKey.from_seed("issuer-1", b"codec tests")


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_schema_file__equals_model(cls: type[Event]) -> None:
    committed = (SCHEMA_DIR / f"{cls.__name__}.avsc").read_text()
    assert committed == schema_json(cls), f"run `dledger schemas export`: {cls.__name__}.avsc is stale"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_schema_file__agrees_with_model_field_for_field(cls: type[Event]) -> None:
    schema = json.loads((SCHEMA_DIR / f"{cls.__name__}.avsc").read_text())
    avro_fields = {f["name"]: f for f in schema["fields"]}
    assert set(avro_fields) == set(cls.model_fields)
    assert [f["name"] for f in schema["fields"]][: len(ENVELOPE_FIELDS)] == list(ENVELOPE_FIELDS)
    assert schema["fields"][-1]["name"] == "signature"
    for name, info in cls.model_fields.items():
        optional = type(None) in getattr(info.annotation, "__args__", ())
        is_union = isinstance(avro_fields[name]["type"], list)
        assert optional == is_union, f"{cls.__name__}.{name}: optional in one, required in the other"
        required_in_model = info.is_required() or name in ("event_id", "occurred_at")
        assert required_in_model == ("default" not in avro_fields[name]), f"{cls.__name__}.{name}: default differs"
    avro.schema.parse(json.dumps(schema))  # the reference implementation accepts it


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_codec__round_trips_every_event_type(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(model_strategy(cls))
    encoded = codec.encode(event)
    assert encoded[:2] == SINGLE_OBJECT_MAGIC
    assert codec.decode(encoded) == event


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_codec__body_decodes_with_reference_avro(cls: type[Event], data: st.DataObject) -> None:
    """An independent implementation (Apache avro) reads what fastavro wrote."""
    event = data.draw(model_strategy(cls))
    body = codec.encode(event)[10:]
    reader = avro.io.DatumReader(avro.schema.parse(json.dumps(schema_for(cls))))
    datum = reader.read(avro.io.BinaryDecoder(io.BytesIO(body)))
    assert datum["event_id"] == event.event_id
    assert datum["type"] == cls.__name__


@settings(max_examples=50, deadline=None)
@given(
    sig=st.binary(min_size=64, max_size=64),
    size=st.integers(1, 2**31),
    index=st.integers(0, 2**31),
    path=st.lists(st.binary(min_size=32, max_size=32), max_size=20),
)
def test_encode_signature__matches_fastavro(sig: bytes, size: int, index: int, path: list[bytes]) -> None:
    union = schema_for(CredentialUsed)["fields"][-1]["type"]
    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf, fastavro.parse_schema(union), {"sig": sig, "tree_size": size, "leaf_index": index, "audit_path": path}
    )
    assert encode_signature(sig, size, index, path) == buf.getvalue()


def _used(**kw: object) -> CredentialUsed:
    base = dict(
        chain_id="c", credential_id="cred", token_fingerprint=fingerprint("t", b"k"), resource_id="r",
        action="read", outcome=UseOutcome.ACCEPTED, system="s",
    )
    return CredentialUsed(**(base | kw))


def test_signed_event__canonical_bytes_survive_the_round_trip() -> None:
    event = _used(producer=key.producer)
    canonical = codec.canonical(event)
    (signature,) = key.sign_batch([canonical])
    framed = codec.with_signature(event, canonical, signature)
    decoded = codec.decode_with_canonical(framed)
    assert decoded.canonical == canonical
    assert decoded.event.signature == signature
    assert codec.encode(decoded.event) == framed


def test_old_writer__decodes_with_new_reader() -> None:
    """A producer still on the previous CredentialUsed schema (no trust_domain field)."""
    old = schema_for(CredentialUsed)
    old["fields"] = [f for f in old["fields"] if f["name"] != "trust_domain"]
    parsed = fastavro.parse_schema(old)
    event = _used(trust_domain="ignored")
    datum = event.model_dump()
    datum.pop("trust_domain")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, datum)
    reader = EventCodec()
    with pytest.raises(UnknownSchema):
        reader.decode(SINGLE_OBJECT_MAGIC + _fp(old) + buf.getvalue())
    fp = reader.register_writer_schema(old)
    decoded = reader.decode(SINGLE_OBJECT_MAGIC + fp + buf.getvalue())
    assert isinstance(decoded, CredentialUsed)
    assert decoded.trust_domain is None  # the new field's default
    assert decoded.credential_id == event.credential_id


def _fp(schema: dict) -> bytes:
    from ledger.codec import schema_fingerprint

    return schema_fingerprint(schema)


class InProcessRegistry:
    """A real (if small) schema registry: ids by schema text, as Confluent assigns them."""

    def __init__(self) -> None:
        self.schemas: dict[int, dict] = {}

    def register(self, subject: str, schema: dict) -> int:
        for sid, s in self.schemas.items():
            if s == schema:
                return sid
        sid = len(self.schemas) + 1
        self.schemas[sid] = schema
        return sid

    def schema(self, schema_id: int) -> dict:
        return self.schemas[schema_id]


def test_confluent_framing__magic_byte_and_schema_id() -> None:
    registry = InProcessRegistry()
    writer = EventCodec(registry)
    framed = writer.encode(_used())
    assert framed[:1] == CONFLUENT_MAGIC
    (schema_id,) = struct.unpack(">I", framed[1:5])
    assert registry.schema(schema_id)["name"] == "CredentialUsed"
    # a fresh reader resolves the id through the registry
    assert EventCodec(registry).decode(framed) == writer.decode(framed)
    with pytest.raises(UnknownSchema):
        EventCodec().decode(framed)


def test_confluent_framing__signature_covers_single_object_form() -> None:
    registry = InProcessRegistry()
    writer = EventCodec(registry)
    event = _used(producer=key.producer)
    canonical = writer.canonical(event)
    (signature,) = key.sign_batch([canonical])
    framed = writer.with_signature(event, canonical, signature)
    assert framed[:1] == CONFLUENT_MAGIC
    assert EventCodec(registry).decode_with_canonical(framed).canonical == canonical


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_decode__bad_bytes_raise_domain_errors_only(data: bytes) -> None:
    with pytest.raises((MalformedRecord, UnknownSchema)):
        codec.decode(data)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=1, max_value=60), flip=st.integers(min_value=10, max_value=200))
def test_decode__truncated_or_flipped_bytes_never_crash(cut: int, flip: int) -> None:
    good = codec.encode(_used())
    for bad in (good[:-cut], good[:flip] + bytes([good[flip % len(good)] ^ 0xFF]) + good[flip + 1 :]):
        try:
            codec.decode(bad)
        except (MalformedRecord, UnknownSchema):
            pass


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_json_form__round_trips_every_event_type(cls: type[Event], data: st.DataObject) -> None:
    """The JSON lines `dledger publish` reads are the same models."""
    from ledger.events import event_from_json

    event = data.draw(model_strategy(cls))
    assert event_from_json(event.model_dump_json()) == event
