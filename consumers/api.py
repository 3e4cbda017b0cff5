"""The HTTP API (read-only, OpenAPI at /openapi.json, docs at /docs) and the dashboard.

``create_app(views, log_url)`` serves the views database at ``views``; ``log_url``
is needed only to answer ``at=TIME`` (the past is read from the log, not the views).
The projector that keeps the views current runs beside the app (``dledger serve``),
never inside a request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from ledger.store import EventStore

from . import queries, reports
from .chain import chains
from .common import parse_time
from .dashboard import render
from .history import views_at
from .owners_view import entity_view, parties, party_view
from .projection import digest
from .projector import ViewsDB

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.as_dict() if hasattr(value, "as_dict") else dataclasses.asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def create_app(views_path: str, log_url: str | None = None, *, refresh_seconds: int = 5) -> FastAPI:
    views = ViewsDB(views_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await views.open()
        try:
            yield
        finally:
            await views.close()

    app = FastAPI(title="Delegation Ledger views", version="1", lifespan=lifespan,
                  description="Read-only accountability views: owners, findings, chains of delegation,"
                              " timelines, blast radius, reports. `at` answers from the log.")

    async def ask(fn: Callable[..., T], *args: Any, at: str | None = None, at_kw: str | None = "now",
                  **kwargs: Any) -> T:
        if at:
            if log_url is None:
                raise HTTPException(400, "this server has no log to answer `at` from")
            try:
                when = parse_time(at)
            except ValueError as exc:
                raise HTTPException(422, f"at: {exc}") from exc
            async with EventStore.from_url(log_url) as store:
                conn = await views_at(store, when)
            try:
                return fn(conn, *args, **({at_kw: when} if at_kw else {}), **kwargs)
            finally:
                conn.close()
        return await views.run(fn, *args, **kwargs)

    # ------------------------------------------------------------ JSON API

    @app.get("/api/health", tags=["status"])
    async def health() -> dict[str, Any]:
        return {"ok": True, "views": views_path}

    @app.get("/api/overview", tags=["status"])
    async def api_overview() -> dict[str, Any]:
        return await views.run(queries.overview)

    @app.get("/api/digest", tags=["status"])
    async def api_digest() -> dict[str, str]:
        return {"digest": await views.run(digest)}

    @app.get("/api/owners", tags=["owners"])
    async def api_parties() -> list[dict[str, Any]]:
        return await views.run(parties)

    @app.get("/api/owners/{party}", tags=["owners"])
    async def api_party(party: str, at: str | None = None) -> dict[str, Any]:
        return await ask(party_view, party, at=at)

    @app.get("/api/entities/{kind}/{entity_id}", tags=["owners"])
    async def api_entity(kind: Literal["control_plane", "workflow", "resource", "broker"], entity_id: str,
                         at: str | None = None) -> dict[str, Any]:
        return await ask(entity_view, kind, entity_id, at=at)

    @app.get("/api/findings", tags=["findings"])
    async def api_findings(owner: str | None = None, kind: str | None = None, severity: str | None = None,
                           limit: int = Query(1000, ge=1, le=100_000)) -> list[dict[str, Any]]:
        return await views.run(queries.findings, owner=owner, kind=kind, severity=severity, limit=limit)

    @app.get("/api/chain/{ident}", tags=["queries"])
    async def api_chain(ident: str, at: str | None = None) -> list[dict[str, Any]]:
        return _plain(await ask(chains, ident, at=at))

    @app.get("/api/timeline", tags=["queries"])
    async def api_timeline(task: str | None = None, agent: str | None = None,
                           credential: str | None = None) -> list[dict[str, Any]]:
        if sum(x is not None for x in (task, agent, credential)) != 1:
            raise HTTPException(422, "give exactly one of task, agent, credential")
        return await views.run(queries.timeline, task=task, agent=agent, credential=credential)

    @app.get("/api/blast-radius/{credential_id}", tags=["queries"])
    async def api_blast(credential_id: str, at: str | None = None) -> dict[str, Any]:
        return await ask(queries.blast_radius, credential_id, at=at)

    @app.get("/api/credentials", tags=["queries"])
    async def api_credentials(live: bool = False, limit: int = Query(200, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return await views.run(queries.credentials, live_only=live, limit=limit)

    @app.get("/api/reports/{standard}", tags=["reports"], response_model=None)
    async def api_report(standard: Literal["owasp-nhi", "owasp-asi", "nist-ai-rmf"], owner: str | None = None,
                         format: Literal["json", "md", "html"] = "json") -> Any:
        report = await views.run(reports.build, standard, owner=owner)
        if format == "json":
            return report
        text = reports.render(report, format)
        return HTMLResponse(text) if format == "html" else PlainTextResponse(text, media_type="text/markdown")

    # ------------------------------------------------------------ dashboard

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page_overview() -> str:
        o = await views.run(queries.overview)
        return render("overview.html", o=o, parties=await views.run(parties), refresh=refresh_seconds)

    @app.get("/owners", response_class=HTMLResponse, include_in_schema=False)
    async def page_owners() -> str:
        return render("owners.html", parties=await views.run(parties))

    @app.get("/owners/{party}", response_class=HTMLResponse, include_in_schema=False)
    async def page_party(party: str, at: str | None = None) -> str:
        v = await ask(party_view, party, at=at)
        return render("party.html", v=v, findings=await views.run(queries.findings, owner=party))

    @app.get("/findings", response_class=HTMLResponse, include_in_schema=False)
    async def page_findings(owner: str | None = None, kind: str | None = None) -> str:
        found = await views.run(queries.findings, owner=owner or None, kind=kind or None)
        return render("findings.html", findings=found, owner=owner, kind=kind)

    @app.get("/chain", response_class=HTMLResponse, include_in_schema=False)
    async def page_chain(id: str | None = None, at: str | None = None) -> str:
        found, error = [], None
        if id:
            try:
                found = await ask(chains, id.strip(), at=at or None)
            except HTTPException as exc:
                error = exc.detail
            if not error and all(c.resolved_as == "unknown" for c in found):
                error = f"nothing in the ledger is called {id!r}"
        return render("chain.html", chains=found, ident=id, at=at, error=error)

    @app.get("/credentials", response_class=HTMLResponse, include_in_schema=False)
    async def page_credentials(live: bool = False) -> str:
        return render("credentials.html", creds=await views.run(queries.credentials, live_only=live))

    @app.get("/blast-radius", response_class=HTMLResponse, include_in_schema=False)
    async def page_blast(id: str, at: str | None = None) -> str:
        return render("blast.html", b=await ask(queries.blast_radius, id, at=at or None))

    @app.get("/timeline", response_class=HTMLResponse, include_in_schema=False)
    async def page_timeline(request: Request, task: str | None = None, agent: str | None = None,
                            credential: str | None = None) -> Any:
        if sum(x is not None for x in (task, agent, credential)) != 1:
            return RedirectResponse("/")
        events = await views.run(queries.timeline, task=task, agent=agent, credential=credential)
        return render("timeline.html", events=events, who=task or agent or credential)

    return app
