"""Avro binary codec for events, framed so a reader knows the writer schema.

Two framings:
- Avro single-object encoding (the default): ``C3 01`` + the writer schema's 8-byte
  CRC-64-AVRO fingerprint (little-endian) + the Avro body.
- Confluent wire format, when a schema registry is configured: ``00`` + the 4-byte
  big-endian schema id + the Avro body.

Whatever the framing, the bytes a producer signs are the *canonical* form: the
single-object encoding of the event with a null signature. Because ``signature`` is
every record's last field, the canonical body is the encoded body with the signature
union cut off, so signing needs one encoding, and so does verifying.

Readers resolve old writer schemas against the current models (Avro schema
resolution: fields added with defaults are filled in; see schemas/README.md).
"""

from __future__ import annotations

import functools
import io
import json
import struct
from dataclasses import dataclass
from typing import Any, Protocol

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from .avro_fast import FastRecord, Unsupported, compile_record
from .avro_fast import _SMALL as _SMALL_LONGS
from .avro_fast import encode_long as _long
from .avro_schema import SIGNATURE_FIELD, schema_for
from .errors import MalformedRecord, UnknownSchema
from .events import EVENT_TYPES, EVENTS_BY_TYPE, Event, Producer, Signature

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"

_ENCODE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, OverflowError)


def _avro_bytes(b: bytes) -> bytes:
    return _long(len(b)) + b


def encode_signature(sig: bytes, tree_size: int, leaf_index: int, audit_path: list[bytes]) -> bytes:
    """The Avro encoding of the ``["null", Signature]`` union's Signature branch.

    Written by hand because it sits on the publish hot path and is a fixed shape; a
    test checks it byte for byte against fastavro.
    """
    parts = [b"\x02", _avro_bytes(sig), _long(tree_size), _long(leaf_index)]
    if audit_path:
        parts.append(_long(len(audit_path)))
        parts.extend(_HASH_PREFIX + p if len(p) == 32 else _avro_bytes(p) for p in audit_path)
    parts.append(b"\x00")
    return b"".join(parts)


_HASH_PREFIX = _long(32)  # every audit path entry is a SHA-256 hash


def encode_group_signatures(sig: bytes, paths: list[list[bytes]]) -> list[bytes]:
    """``encode_signature`` for every event of one signed group (tree_size = len(paths),
    leaf_index = position), given the paths ``IssuerKey.sign_group`` returns (32-byte
    hashes): the shared prefix is encoded once."""
    head = b"\x02" + _avro_bytes(sig) + _long(len(paths))
    hashes = _HASH_PREFIX
    small = _SMALL_LONGS
    return [
        b"".join((head, small[i], small[len(path)], hashes, hashes.join(path), b"\x00"))
        if path and i < len(small) else encode_signature(sig, len(paths), i, path)
        for i, path in enumerate(paths)
    ]


@functools.cache
def _generated(cls: type[Event]) -> tuple[FastRecord | None, FastRecord | None]:
    """The generated codec of ``cls`` and its canonical encoder, built once per process."""
    schema = schema_for(cls)
    try:
        return compile_record(schema), compile_record(schema, null_fields=(SIGNATURE_FIELD,), override_fields=("producer",))
    except Unsupported:  # a shape avro_fast does not specialize: fastavro does it all
        return None, None


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """CRC-64-AVRO fingerprint of a schema's parsing canonical form, as framed."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(fastavro.parse_schema(schema)), "CRC-64-AVRO"))


class SchemaRegistry(Protocol):
    """The part of a Confluent-compatible schema registry the codec needs."""

    def register(self, subject: str, schema: dict[str, Any]) -> int: ...

    def schema(self, schema_id: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Writer:
    cls: type[Event]
    parsed: Any
    header: bytes  # single-object header: magic + fingerprint
    fast: FastRecord | None  # generated codec of this schema (None: fastavro only)
    canonical: FastRecord | None  # its encoder writes signature null and takes the producer


@dataclass(frozen=True)
class _Reader:
    """How to read bytes written with one writer schema."""

    writer: Any  # parsed writer schema (fastavro)
    cls: type[Event]
    reader: Any  # parsed reader schema when it differs from the writer's, else None
    fast: FastRecord | None  # generated decoder, only when writer == reader


@dataclass(frozen=True)
class Decoded:
    """An event read from bytes, with the canonical bytes its signature covers."""

    event: Event
    canonical: bytes


class EventCodec:
    """Encodes events of the catalogue and decodes any writer schema it has seen."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self._registry = registry
        self._writers: dict[type[Event], _Writer] = {}
        self._by_fingerprint: dict[bytes, _Reader] = {}
        self._by_registry_id: dict[int, bytes] = {}
        self._registry_ids: dict[type[Event], int] = {}
        for cls in EVENT_TYPES:
            schema = schema_for(cls)
            parsed = fastavro.parse_schema(schema)
            fp = schema_fingerprint(schema)
            fast, canonical = _generated(cls)
            self._writers[cls] = _Writer(cls, parsed, SINGLE_OBJECT_MAGIC + fp, fast, canonical)
            self._by_fingerprint[fp] = _Reader(parsed, cls, None, fast)

    # ------------------------------------------------------------ writer schemas

    def register_writer_schema(self, schema: dict[str, Any]) -> bytes:
        """Teach this reader an older (or newer) writer schema of a known event type.
        Returns its fingerprint."""
        name = schema["name"].rsplit(".", 1)[-1]
        cls = EVENTS_BY_TYPE.get(name)
        if cls is None:
            raise UnknownSchema(f"writer schema names unknown event type {name!r}")
        fp = schema_fingerprint(schema)
        if fp not in self._by_fingerprint:
            self._by_fingerprint[fp] = _Reader(fastavro.parse_schema(schema), cls, self._writers[cls].parsed, None)
        return fp

    # ------------------------------------------------------------ encoding

    def _body(self, writer: _Writer, event: Event, producer: Producer | None = None) -> bytes:
        if writer.canonical is not None:
            try:
                return writer.canonical.encode(event, producer)
            except _ENCODE_ERRORS as exc:
                raise MalformedRecord(f"encode {event.type} {event.event_id}: {exc}") from exc
        buf = io.BytesIO()
        datum = event.model_dump()
        datum["signature"] = None
        if producer is not None:
            datum["producer"] = {"issuer_id": producer.issuer_id, "key_id": producer.key_id}
        try:
            fastavro.schemaless_writer(buf, writer.parsed, datum)
        except _ENCODE_ERRORS as exc:
            raise MalformedRecord(f"encode {event.type} {event.event_id}: {exc}") from exc
        return buf.getvalue()

    def canonical(self, event: Event, producer: Producer | None = None) -> bytes:
        """The bytes a producer signs: single-object framing, signature null.
        ``producer`` stands in for the event's own when given (saves a model copy)."""
        writer = self._writers[type(event)]
        return writer.header + self._body(writer, event, producer)

    def with_signature(self, event: Event, canonical: bytes, signature: Signature) -> bytes:
        """Framed bytes of ``event`` signed with ``signature``, given its canonical bytes."""
        sig = encode_signature(signature.sig, signature.tree_size, signature.leaf_index, signature.audit_path)
        return self.with_encoded_signature(event, canonical, sig)

    def with_encoded_signature(self, event: Event, canonical: bytes, signature: bytes) -> bytes:
        """``with_signature`` given the signature union's Avro bytes (``encode_signature``)."""
        if self._registry is None:  # the canonical bytes are already framed: swap the null for the signature
            return canonical[:-1] + signature
        return self._frame(type(event), canonical[len(SINGLE_OBJECT_MAGIC) + 8 : -1] + signature)

    def encode(self, event: Event) -> bytes:
        """Framed bytes of ``event`` as it stands (signed or not)."""
        canonical = self.canonical(event)
        if event.signature is None:
            return self._frame(type(event), canonical[len(SINGLE_OBJECT_MAGIC) + 8 :])
        return self.with_signature(event, canonical, event.signature)

    def _frame(self, cls: type[Event], body: bytes) -> bytes:
        if self._registry is None:
            return self._writers[cls].header + body
        schema_id = self._registry_ids.get(cls)
        if schema_id is None:
            schema_id = self._registry.register(f"dledger.{cls.__name__}", schema_for(cls))
            self._registry_ids[cls] = schema_id
            self._by_registry_id[schema_id] = self._writers[cls].header[2:]
        return CONFLUENT_MAGIC + struct.pack(">I", schema_id) + body

    # ------------------------------------------------------------ decoding

    def decode(self, data: bytes) -> Event:
        return self.decode_with_canonical(data).event

    def decode_with_canonical(self, data: bytes) -> Decoded:
        """Decode framed bytes; raise MalformedRecord or UnknownSchema, never anything else."""
        if type(data) is not bytes:
            data = bytes(data)
        fp, offset = self._writer_fingerprint(data)
        try:
            entry = self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchema(f"no writer schema with fingerprint {fp.hex()}") from None
        cls = entry.cls
        if entry.fast is not None:
            try:
                datum, signature_at = entry.fast.decode(data, offset)
                event = cls.model_validate(datum)
            except Exception as exc:  # MalformedRecord from the decoder, ValidationError from the model
                raise MalformedRecord(f"decode {cls.__name__}: {exc}") from exc
            if offset == len(SINGLE_OBJECT_MAGIC) + 8:  # single-object framing: the header is the canonical one
                return Decoded(event, data[:signature_at] + b"\x00")
            return Decoded(event, SINGLE_OBJECT_MAGIC + fp + data[offset:signature_at] + b"\x00")
        writer, reader = entry.writer, entry.reader
        buf = io.BytesIO(data)
        buf.seek(offset)
        try:
            datum = fastavro.schemaless_reader(buf, writer, reader)
            if buf.tell() != len(data):
                raise ValueError(f"{len(data) - buf.tell()} trailing bytes")
            event = cls.model_validate(datum)
        except Exception as exc:  # fastavro raises a zoo of types on bad input
            raise MalformedRecord(f"decode {cls.__name__}: {exc}") from exc
        return Decoded(event, self._canonical_of(data, offset, fp, datum))

    def _writer_fingerprint(self, data: bytes) -> tuple[bytes, int]:
        if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
            return bytes(data[2:10]), 10
        if data[:1] == CONFLUENT_MAGIC and len(data) >= 5:
            (schema_id,) = struct.unpack(">I", data[1:5])
            fp = self._by_registry_id.get(schema_id)
            if fp is None:
                if self._registry is None:
                    raise UnknownSchema(f"schema id {schema_id} (Confluent framing) and no registry configured")
                fp = self.register_writer_schema(self._registry.schema(schema_id))
                self._by_registry_id[schema_id] = fp
            return fp, 5
        raise MalformedRecord(f"not a framed Avro event (starts {bytes(data[:4]).hex() or 'empty'})")

    @staticmethod
    def _canonical_of(data: bytes, offset: int, fp: bytes, datum: dict[str, Any]) -> bytes:
        sig = datum.get("signature")
        if sig is None:
            body = data[offset:]
        else:
            n = len(encode_signature(sig["sig"], sig["tree_size"], sig["leaf_index"], sig["audit_path"]))
            body = data[offset : len(data) - n] + b"\x00"
        return SINGLE_OBJECT_MAGIC + fp + bytes(body)


def schema_json(cls: type[Event]) -> str:
    """The .avsc text of one event type, as committed under schemas/."""
    return json.dumps(schema_for(cls), indent=2) + "\n"
