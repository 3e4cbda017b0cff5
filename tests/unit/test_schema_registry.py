"""The registry client against a registry speaking Confluent's REST API (in-process,
through httpx's MockTransport: the same requests and responses, no network)."""

from __future__ import annotations

import json

import httpx
import pytest

from ledger.codec import CONFLUENT_MAGIC, EventCodec
from ledger.errors import SchemaRegistryError
from ledger.events import TaskStarted
from ledger.schema_registry import HttpSchemaRegistry


class ConfluentApi:
    def __init__(self) -> None:
        self.by_text: dict[str, int] = {}
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.method == "POST" and request.url.path.startswith("/subjects/"):
            text = json.loads(request.content)["schema"]
            sid = self.by_text.setdefault(text, len(self.by_text) + 1)
            return httpx.Response(200, json={"id": sid})
        if request.method == "GET" and request.url.path.startswith("/schemas/ids/"):
            sid = int(request.url.path.rsplit("/", 1)[-1])
            for text, known in self.by_text.items():
                if known == sid:
                    return httpx.Response(200, json={"schema": text})
            return httpx.Response(404, json={"error_code": 40403, "message": "Schema not found"})
        return httpx.Response(405)


def test_registry__frames_with_ids_and_resolves_them() -> None:
    api = ConfluentApi()
    writer = EventCodec(HttpSchemaRegistry("http://registry:8081", transport=httpx.MockTransport(api)))
    event = TaskStarted(chain_id="c", task_id="t", principal="p", purpose="x", agent_id="a")
    framed = writer.encode(event)
    assert framed[:1] == CONFLUENT_MAGIC
    assert api.requests == ["POST /subjects/dledger.TaskStarted/versions"]
    reader = EventCodec(HttpSchemaRegistry("http://registry:8081", transport=httpx.MockTransport(api)))
    assert reader.decode(framed) == event
    assert api.requests[-1] == "GET /schemas/ids/1"


def test_registry__errors_are_translated() -> None:
    api = ConfluentApi()
    registry = HttpSchemaRegistry("http://registry:8081", transport=httpx.MockTransport(api))
    with pytest.raises(SchemaRegistryError, match="HTTP 404"):
        registry.schema(99)
