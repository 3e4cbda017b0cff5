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

import io
import json
import struct
from dataclasses import dataclass
from typing import Any, Protocol

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from .avro_schema import schema_for
from .errors import MalformedRecord, UnknownSchema
from .events import EVENT_TYPES, EVENTS_BY_TYPE, Event, Producer, Signature

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"



def _long(n: int) -> bytes:
    """Avro long: zig-zag, then base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


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
        self._by_fingerprint: dict[bytes, tuple[Any, type[Event], Any]] = {}
        self._by_registry_id: dict[int, bytes] = {}
        self._registry_ids: dict[type[Event], int] = {}
        for cls in EVENT_TYPES:
            schema = schema_for(cls)
            parsed = fastavro.parse_schema(schema)
            fp = schema_fingerprint(schema)
            self._writers[cls] = _Writer(cls, parsed, SINGLE_OBJECT_MAGIC + fp)
            self._by_fingerprint[fp] = (parsed, cls, None)

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
            self._by_fingerprint[fp] = (fastavro.parse_schema(schema), cls, self._writers[cls].parsed)
        return fp

    # ------------------------------------------------------------ encoding

    def _body(self, writer: _Writer, event: Event, producer: Producer | None = None) -> bytes:
        buf = io.BytesIO()
        datum = event.model_dump()
        datum["signature"] = None
        if producer is not None:
            datum["producer"] = {"issuer_id": producer.issuer_id, "key_id": producer.key_id}
        try:
            fastavro.schemaless_writer(buf, writer.parsed, datum)
        except (ValueError, TypeError, AttributeError) as exc:
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
        body = canonical[len(SINGLE_OBJECT_MAGIC) + 8 : -1] + sig
        return self._frame(type(event), body)

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
        fp, offset = self._writer_fingerprint(data)
        try:
            writer, cls, reader = self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchema(f"no writer schema with fingerprint {fp.hex()}") from None
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
