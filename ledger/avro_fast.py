"""Specialized Avro binary encoders and decoders, generated once per record schema.

fastavro interprets a parsed schema for every datum, and on our records (dozens of
``["null", X]`` unions, nested records, enums) that interpretation costs more than
the bytes it writes. Here the schema is walked once, at start, into Python source
for one encoder and one decoder per event type, which is then ``compile``d: each
field's type is known statically, so a null union is one ``is None`` test, a short
string is ``.encode()`` plus a one-byte length, an enum is a dict lookup.

The encoder reads the model's attributes directly (no ``model_dump``) and writes
exactly the bytes ``fastavro.schemaless_writer`` writes for ``model_dump()``; the
decoder returns exactly the dict ``fastavro.schemaless_reader`` returns with no
reader schema, so ``model_validate`` sees the same input either way
(tests/unit/test_avro_fast.py holds both equal on every event type). fastavro stays
the reference, and the only reader of *other* writer schemas (schema resolution).

The decoder is stricter than fastavro on malformed input: it refuses negative union
and enum indexes (fastavro indexes Python lists with them), negative lengths and
varints longer than 64 bits (fastavro wraps them). Bytes written by any conforming
Avro writer never contain those. Every failure raises MalformedRecord.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import MalformedRecord

__all__ = ["FastRecord", "Unsupported", "compile_record", "encode_long"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class Unsupported(TypeError):
    """A schema shape this generator does not specialize; use fastavro for it."""


def encode_long(n: int) -> bytes:
    """Avro long: zig-zag, then base-128 varint. OverflowError outside 64 bits, as
    fastavro raises."""
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise OverflowError(f"{n} does not fit an Avro long")
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_N = 1024
_SMALL = tuple(encode_long(n) for n in range(_SMALL_N))  # varints of 0..1023: lengths, counts, small longs
_BRANCH_SMALL = tuple(b"\x02" + b for b in _SMALL)  # the same behind a union's non-null branch


def _timestamp_micros(value: Any) -> int:
    """What fastavro's timestamp-micros writer computes (naive: local time via mktime)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            delta = value - _EPOCH
            return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return int(time.mktime(value.timetuple())) * 1_000_000 + value.microsecond
    return value  # type: ignore[no-any-return]


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    """Varint at ``pos`` (any length up to 10 bytes); returns (value, next position)."""
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise MalformedRecord("varint longer than 10 bytes")
    if n >> 64:
        raise MalformedRecord("varint beyond 64 bits")
    return (n >> 1) ^ -(n & 1), pos


def _read_timestamp(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class _Symbols(dict[str, int]):
    """Enum symbol -> index. A str Enum member hashes by its name, so a member whose
    name differs from its value is looked up again by value."""

    def __missing__(self, key: Any) -> int:
        value = getattr(key, "value", None)
        if isinstance(value, str) and value in self:
            return self[value]
        raise ValueError(f"{key!r} is not a symbol of this enum")


@dataclass(frozen=True)
class FastRecord:
    """One record schema's generated codec.

    ``encode(obj, *overrides)`` returns the Avro body of a model instance.
    ``decode(data, pos)`` (``data`` must be ``bytes``) returns ``(datum, last_field_start)``: the dict fastavro
    would produce, and the offset where the last field's bytes begin (so a caller
    can cut off a trailing field without re-encoding it). It requires the record to
    end exactly at ``len(data)`` and raises MalformedRecord on any bad input.
    """

    encode: Callable[..., bytes]
    decode: Callable[[bytes, int], tuple[dict[str, Any], int]]
    source: str


def compile_record(
    schema: dict[str, Any], *, null_fields: tuple[str, ...] = (), override_fields: tuple[str, ...] = ()
) -> FastRecord:
    """Generate the codec of a record schema (JSON form, self-contained).

    ``null_fields`` are top-level ``["null", X]`` fields the encoder writes as null
    whatever the object holds; ``override_fields`` become extra positional
    arguments of ``encode`` that stand in for the object's attribute when not None.
    Raises Unsupported for shapes it does not know (general unions, maps, fixed,
    recursive records), so the caller can keep fastavro for them.
    """
    if schema.get("type") != "record":
        raise Unsupported("top-level schema must be a record")
    gen = _Generator(schema.get("namespace"))
    source = gen.module(schema, null_fields, override_fields)
    namespace = dict(gen.consts)
    exec(compile(source, f"<avro_fast {schema['name']}>", "exec"), namespace)  # noqa: S102 - our own source
    return FastRecord(namespace["encode"], namespace["decode"], source)


class _Generator:
    def __init__(self, namespace: str | None) -> None:
        self.namespace = namespace
        self.named: dict[str, Any] = {}
        self.consts: dict[str, Any] = {
            "_long": encode_long,
            "_B_long": lambda n: b"\x02" + encode_long(n),
            "_SMALL": _SMALL,
            "_BSMALL": _BRANCH_SMALL,
            "_NULL": b"\x00",
            "_BRANCH": b"\x02",
            "_TRUE": b"\x01",
            "_FALSE": b"\x00",
            "_ts": _timestamp_micros,
            "_read_long": _read_long,
            "_read_ts": _read_timestamp,
            "_Bad": MalformedRecord,
            "_pack_d": struct.Struct("<d").pack,
            "_pack_f": struct.Struct("<f").pack,
            "_unpack_d": struct.Struct("<d").unpack_from,
            "_unpack_f": struct.Struct("<f").unpack_from,
        }
        self.counter = 0
        self.active: set[str] = set()

    def tmp(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def const(self, stem: str, value: Any) -> str:
        name = self.tmp("_" + stem)
        self.consts[name] = value
        return name

    # ------------------------------------------------------------ schema walking

    def _fullname(self, name: str, namespace: str | None) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def resolve(self, schema: Any, namespace: str | None) -> tuple[Any, str | None]:
        """A type's definition (records and enums registered by name) and its namespace."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema, namespace
            for key in (self._fullname(schema, namespace), schema):
                if key in self.named:
                    return self.named[key]
            raise Unsupported(f"unknown named type {schema!r}")
        if isinstance(schema, list):
            return schema, namespace
        kind = schema["type"]
        if kind in ("record", "enum", "fixed", "error"):
            ns = schema.get("namespace", namespace)
            if "." in schema["name"]:
                ns = schema["name"].rsplit(".", 1)[0]
            entry = (schema, ns)
            self.named[self._fullname(schema["name"], ns)] = entry
            self.named.setdefault(schema["name"].rsplit(".", 1)[-1], entry)
            return entry
        return schema, namespace

    # ------------------------------------------------------------ module

    def module(self, schema: dict[str, Any], null_fields: tuple[str, ...], override_fields: tuple[str, ...]) -> str:
        schema, ns = self.resolve(schema, self.namespace)
        names = [f["name"] for f in schema["fields"]]
        for name in (*null_fields, *override_fields):
            if name not in names:
                raise Unsupported(f"no field {name!r} in {schema['name']}")
        enc: list[str] = ["def encode(obj" + "".join(f", {n}=None" for n in override_fields) + "):",
                          "    parts = []", "    put = parts.append"]
        for field in schema["fields"]:
            name = field["name"]
            if name in null_fields:
                if not (isinstance(field["type"], list) and field["type"][0] == "null"):
                    raise Unsupported(f"{name} is not a null union")
                enc.append("    put(_NULL)")
                continue
            var = self.tmp("v")
            if name in override_fields:
                enc.append(f"    {var} = {name} if {name} is not None else obj.{name}")
            else:
                enc.append(f"    {var} = obj.{name}")
            self.encoder(field["type"], ns, var, enc, 1)
        enc.append("    return b''.join(parts)")

        self.named.clear()
        self.resolve(schema, self.namespace)
        dec: list[str] = ["def decode(data, pos):", "    size = len(data)", "    try:"]
        fields: list[str] = []
        mark = "pos"
        for i, field in enumerate(schema["fields"]):
            if i == len(schema["fields"]) - 1:
                mark = self.tmp("mark")
                dec.append(f"        {mark} = pos")
            var = self.tmp("f")
            self.decoder(field["type"], ns, var, dec, 2)
            fields.append(f"{field['name']!r}: {var}")
        dec += [
            "    except _Bad:",
            "        raise",
            "    except (IndexError, ValueError, OverflowError, struct_error) as exc:",
            f"        raise _Bad(f'Avro {schema['name']}: {{exc!r}}') from None",
            "    if pos != size:",
            f"        raise _Bad(f'Avro {schema['name']}: {{size - pos}} trailing bytes')",
            f"    return {{{', '.join(fields)}}}, {mark}",
        ]
        self.consts["struct_error"] = struct.error
        return "\n".join(enc + [""] + dec) + "\n"

    # ------------------------------------------------------------ encoders

    def encoder(self, schema: Any, ns: str | None, v: str, out: list[str], depth: int, tag: str = "") -> None:
        """Emit code appending the encoding of ``v`` to the parts list (through ``put``).
        ``tag`` is a union branch byte to write first: a length or small number
        shares one precomputed bytes object with it."""
        pad = "    " * depth
        schema, ns = self.resolve(schema, ns)
        if isinstance(schema, list):
            if tag or len(schema) != 2 or schema[0] != "null" or self.resolve(schema[1], ns)[0] == "null":
                raise Unsupported(f"union {schema!r}")
            out.append(f"{pad}if {v} is None:")
            out.append(f"{pad}    put(_NULL)")
            out.append(f"{pad}else:")
            self.encoder(schema[1], ns, v, out, depth + 1, tag="_B")
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = None if isinstance(schema, str) else schema.get("logicalType")
        small = f"{tag}SMALL" if tag else "_SMALL"  # precomputed varints, behind the tag
        if kind not in ("int", "long", "string", "bytes", "enum") and tag:
            out.append(f"{pad}put(_BRANCH)")
        if kind == "null":
            return
        if kind == "boolean":
            out.append(f"{pad}put(_TRUE if {v} else _FALSE)")
        elif kind in ("int", "long"):
            if logical == "timestamp-micros" and kind == "long":
                if tag:
                    out.append(f"{pad}put(_BRANCH)")
                out.append(f"{pad}put(_long(_ts({v})))")
            elif logical is not None:
                raise Unsupported(f"logical type {logical}")
            else:
                out.append(f"{pad}put({small}[{v}] if 0 <= {v} < {_SMALL_N} else {tag or ''}_long({v}))")
        elif kind == "double":
            out.append(f"{pad}put(_pack_d({v}))")
        elif kind == "float":
            out.append(f"{pad}put(_pack_f({v}))")
        elif kind in ("string", "bytes"):
            if logical is not None:
                raise Unsupported(f"logical type {logical}")
            b = self.tmp("b")
            n = self.tmp("n")
            out.append(f"{pad}{b} = {v}.encode()" if kind == "string" else f"{pad}{b} = {v}")
            out.append(f"{pad}{n} = len({b})")
            out.append(f"{pad}put({small}[{n}] if {n} < {_SMALL_N} else {tag or ''}_long({n}))")
            out.append(f"{pad}put({b})")
        elif kind == "enum":
            table = self.const("enum", _Symbols((s, i) for i, s in enumerate(schema["symbols"])))
            out.append(f"{pad}put({small}[{table}[{v}]])" if len(schema["symbols"]) <= _SMALL_N
                       else f"{pad}put({tag or ''}_long({table}[{v}]))")
        elif kind == "array":
            item = self.tmp("i")
            out.append(f"{pad}if {v}:")
            out.append(f"{pad}    put(_long(len({v})))")
            out.append(f"{pad}    for {item} in {v}:")
            self.encoder(schema["items"], ns, item, out, depth + 2)
            out.append(f"{pad}put(_NULL)")
        elif kind in ("record", "error"):
            full = self._fullname(schema["name"], ns)
            if full in self.active:
                raise Unsupported(f"recursive record {full}")
            self.active.add(full)
            for field in schema["fields"]:
                var = self.tmp("v")
                out.append(f"{pad}{var} = {v}.{field['name']}")
                self.encoder(field["type"], ns, var, out, depth)
            self.active.discard(full)
        else:
            raise Unsupported(f"type {kind!r}")

    # ------------------------------------------------------------ decoders

    def read_long(self, var: str, out: list[str], pad: str) -> None:
        b = self.tmp("c")
        out.append(f"{pad}{b} = data[pos]")
        out.append(f"{pad}if {b} < 128:")
        out.append(f"{pad}    pos += 1")
        out.append(f"{pad}    {var} = ({b} >> 1) ^ -({b} & 1)")
        out.append(f"{pad}else:")
        out.append(f"{pad}    {var}, pos = _read_long(data, pos)")

    def decoder(self, schema: Any, ns: str | None, var: str, out: list[str], depth: int) -> None:
        pad = "    " * depth
        schema, ns = self.resolve(schema, ns)
        if isinstance(schema, list):
            if len(schema) != 2 or schema[0] != "null" or self.resolve(schema[1], ns)[0] == "null":
                raise Unsupported(f"union {schema!r}")
            b = self.tmp("c")
            out.append(f"{pad}{b} = data[pos]")
            out.append(f"{pad}pos += 1")
            out.append(f"{pad}if {b} == 0:")
            out.append(f"{pad}    {var} = None")
            out.append(f"{pad}elif {b} == 2:")
            self.decoder(schema[1], ns, var, out, depth + 1)
            out.append(f"{pad}else:")
            out.append(f"{pad}    raise _Bad(f'Avro union index byte {{{b}}} at {{pos - 1}}')")
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = None if isinstance(schema, str) else schema.get("logicalType")
        if kind == "null":
            out.append(f"{pad}{var} = None")
        elif kind == "boolean":
            out.append(f"{pad}{var} = data[pos] != 0")
            out.append(f"{pad}pos += 1")
        elif kind in ("int", "long"):
            self.read_long(var, out, pad)
            if logical == "timestamp-micros" and kind == "long":
                out.append(f"{pad}{var} = _read_ts({var})")
            elif logical is not None:
                raise Unsupported(f"logical type {logical}")
        elif kind in ("double", "float"):
            width, unpack = (8, "_unpack_d") if kind == "double" else (4, "_unpack_f")
            out.append(f"{pad}({var},) = {unpack}(data, pos)")
            out.append(f"{pad}pos += {width}")
        elif kind in ("string", "bytes"):
            if logical is not None:
                raise Unsupported(f"logical type {logical}")
            b, end = self.tmp("c"), self.tmp("e")
            out.append(f"{pad}{b} = data[pos]")
            out.append(f"{pad}if {b} < 128 and not {b} & 1:")
            out.append(f"{pad}    {end} = pos + 1 + ({b} >> 1)")
            out.append(f"{pad}    pos += 1")
            out.append(f"{pad}else:")
            out.append(f"{pad}    {end}, pos = _read_long(data, pos)")
            out.append(f"{pad}    if {end} < 0:")
            out.append(f"{pad}        raise _Bad(f'negative length {{{end}}}')")
            out.append(f"{pad}    {end} += pos")
            out.append(f"{pad}if {end} > size:")
            out.append(f"{pad}    raise _Bad(f'{kind} runs {{{end} - size}} bytes past the end')")
            slice_ = f"data[pos:{end}]"
            out.append(f"{pad}{var} = {slice_}.decode()" if kind == "string" else f"{pad}{var} = {slice_}")
            out.append(f"{pad}pos = {end}")
        elif kind == "enum":
            symbols = self.const("symbols", tuple(schema["symbols"]))
            idx = self.tmp("x")
            self.read_long(idx, out, pad)
            out.append(f"{pad}if not 0 <= {idx} < {len(schema['symbols'])}:")
            out.append(f"{pad}    raise _Bad(f'enum index {{{idx}}} outside {schema['name']}')")
            out.append(f"{pad}{var} = {symbols}[{idx}]")
        elif kind == "array":
            count, item = self.tmp("k"), self.tmp("a")
            out.append(f"{pad}{var} = []")
            out.append(f"{pad}while True:")
            self.read_long(count, out, pad + "    ")
            out.append(f"{pad}    if {count} == 0:")
            out.append(f"{pad}        break")
            out.append(f"{pad}    if {count} < 0:")
            out.append(f"{pad}        {count} = -{count}")
            out.append(f"{pad}        _, pos = _read_long(data, pos)")
            out.append(f"{pad}    for _ in range({count}):")
            self.decoder(schema["items"], ns, item, out, depth + 2)
            out.append(f"{pad}        {var}.append({item})")
        elif kind in ("record", "error"):
            full = self._fullname(schema["name"], ns)
            if full in self.active:
                raise Unsupported(f"recursive record {full}")
            self.active.add(full)
            parts = []
            for field in schema["fields"]:
                fv = self.tmp("f")
                self.decoder(field["type"], ns, fv, out, depth)
                parts.append(f"{field['name']!r}: {fv}")
            self.active.discard(full)
            out.append(f"{pad}{var} = {{{', '.join(parts)}}}")
        else:
            raise Unsupported(f"type {kind!r}")
