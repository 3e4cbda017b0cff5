"""A client for Confluent-compatible schema registries (Confluent, Redpanda, Apicurio's
ccompat API). With one configured, the codec frames events with the registry's
schema id instead of the single-object fingerprint, so tools that expect Confluent
framing can read the ledger's topics."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .errors import SchemaRegistryError

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class HttpSchemaRegistry:
    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, transport=transport, timeout=timeout,
                                  headers={"Accept": _CONTENT_TYPE})
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its global id."""
        text = json.dumps(schema, sort_keys=True)
        if text in self._ids:
            return self._ids[text]
        body = self._call("POST", f"/subjects/{subject}/versions", json={"schema": text, "schemaType": "AVRO"})
        self._ids[text] = int(body["id"])
        self._schemas[int(body["id"])] = schema
        return int(body["id"])

    def schema(self, schema_id: int) -> dict[str, Any]:
        if schema_id not in self._schemas:
            body = self._call("GET", f"/schemas/ids/{schema_id}")
            self._schemas[schema_id] = json.loads(body["schema"])
        return self._schemas[schema_id]

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, headers={"Content-Type": _CONTENT_TYPE}, **kwargs)
        except httpx.HTTPError as exc:
            raise SchemaRegistryError(f"{method} {self.url}{path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise SchemaRegistryError(f"{method} {self.url}{path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def close(self) -> None:
        self._http.close()
