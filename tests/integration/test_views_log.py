"""Views on both logs: live projection, rebuild, restart, replay, point in time, CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from consumers.chain import chains
from consumers.history import views_at
from consumers.projection import digest
from consumers.projector import Projector, ViewsDB, project_once
from consumers.queries import blast_radius
from consumers.replay import Bound, Selection, replay
from ledger.cli import main
from ledger.demo import DemoWorld
from ledger.events import CredentialRevoked, GovernanceFinding, PartyRef, RevocationReason, Severity, StandardRef
from ledger.publisher import Publisher
from ledger.store import EventStore

START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


def scenario() -> tuple[DemoWorld, list, list, list]:
    """(world, control-plane events, gateway events, processor-style events)"""
    world = DemoWorld(start=START)
    cp, gw = world.vendor_onboarding()
    cp2, gw2 = world.invoice_triage()
    chain = "chain-onboard-globex"
    derived = [
        CredentialRevoked(chain_id=chain, task_id="task-onboard-globex", occurred_at=world.at(100),
                          credential_id="cred-act-1", reason=RevocationReason.COMPROMISED, revoked_by="oncall@acme"),
        GovernanceFinding(chain_id=chain, occurred_at=world.at(101), kind="use_after_revocation",
                          severity=Severity.CRITICAL, summary="delegated credential used after its root was revoked",
                          credential_id="cred-delegated-1", evidence_event_ids=[gw[1].event_id],
                          accountable=[PartyRef(role="workflow_owner", party_id="procurement-lead@acme")],
                          standards=[StandardRef(framework="OWASP NHI Top 10 2025", ref="NHI1")]),
    ]
    return world, cp + cp2, gw + gw2, derived


async def publish_all(store: EventStore, world: DemoWorld, cp: list, gw: list, derived: list,
                      registry: list | None = None) -> None:
    async with Publisher(store, world.control_plane) as p, Publisher(store, world.gateway) as g:
        await p.publish_many(world.registry() if registry is None else registry)
        await p.publish_many(cp)
        await g.publish_many(gw)
        await p.publish_many(derived)


async def until_caught_up(projector: Projector, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await projector.backlog():
        assert asyncio.get_running_loop().time() < deadline, "projector did not catch up"
        await asyncio.sleep(0.05)


async def test_views__live_projection_equals_rebuild_and_full_replay(store: EventStore, tmp_path: Path) -> None:
    world, cp, gw, derived = scenario()
    async with ViewsDB(tmp_path / "live.db") as live:
        projector = Projector(store, live, batch_size=7)
        following = asyncio.create_task(projector.run())
        try:
            await publish_all(store, world, cp, gw, derived)  # arrives while the projector follows
            await until_caught_up(projector)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
        live_digest = await live.run(digest)
        (c,) = await live.run(chains, "cred-delegated-1")

    await project_once(store, tmp_path / "rebuilt.db")
    async with ViewsDB(tmp_path / "rebuilt.db") as rebuilt:
        assert await rebuilt.run(digest) == live_digest
    full = await replay(store, tmp_path / "replay.db")
    assert full.digest == live_digest and full.events_applied == len(world.registry() + cp + gw + derived)
    assert c.complete and c.task["principal"] == "bob@acme" and c.links[0].revocation["reason"] == "COMPROMISED"


async def test_views__restart_resumes_where_it_stopped_without_duplicates(store: EventStore, tmp_path: Path) -> None:
    world, cp, gw, derived = scenario()
    views = tmp_path / "views.db"
    registry = world.registry()
    async with Publisher(store, world.control_plane) as p:
        await p.publish_many(registry + cp[:5])
    first = await project_once(store, views)
    await publish_all(store, world, cp[5:], gw, derived, registry)  # registry again: same ids, new offsets
    second = await project_once(store, views)
    third = await project_once(store, views)

    assert first.applied == len(registry) + 5
    assert second.duplicates == len(registry) and third.applied == third.duplicates == 0
    await project_once(store, tmp_path / "fresh.db")
    async with ViewsDB(views) as a, ViewsDB(tmp_path / "fresh.db") as b:
        assert await a.run(digest) == await b.run(digest)


async def test_views__replay_of_a_range_is_deterministic(store: EventStore, tmp_path: Path) -> None:
    world, cp, gw, derived = scenario()
    await publish_all(store, world, cp, gw, derived)
    sel = Selection(Bound.parse("1"), Bound.parse((START + timedelta(seconds=15)).isoformat()))

    one = await replay(store, tmp_path / "one.db", sel)
    two = await replay(store, tmp_path / "two.db", sel)
    task = await replay(store, tmp_path / "task.db", Selection(task="task-invoice-4711"))
    cred = await replay(store, tmp_path / "cred.db", Selection(credential="cred-mint-1"))

    assert one.digest == two.digest and 0 < one.events_applied < len(cp + gw + derived)
    lifecycle = cp + gw + derived
    assert task.events_applied == len(world.registry()) + sum(e.task_id == "task-invoice-4711" for e in lifecycle)
    assert cred.events_applied == len(world.registry()) + sum(e.chain_id == "chain-onboard-globex" for e in lifecycle)


async def test_views__at_time_is_answered_from_the_log(store: EventStore) -> None:
    world, cp, gw, derived = scenario()
    await publish_all(store, world, cp, gw, derived)
    before = START + timedelta(seconds=30)
    after = derived[0].occurred_at + timedelta(seconds=1)

    then = await views_at(store, before)
    now = await views_at(store, after)
    try:
        (was,) = chains(then, "cred-act-1", now=before)
        (became,) = chains(now, "cred-act-1", now=after)
        radius = blast_radius(then, "cred-act-1", now=before)
        early = blast_radius(await views_at(store, START + timedelta(seconds=6)), "cred-act-1",
                             now=START + timedelta(seconds=6))
    finally:
        then.close()
        now.close()
    assert was.links[0].live and was.links[0].revocation is None
    assert not became.links[0].live and became.links[0].revocation["reason"] == "COMPROMISED"
    assert radius["live"] == ["cred-act-1", "cred-mint-1", "cred-delegated-1"]
    assert early["live"] == ["cred-act-1"], "children not yet issued at that time"


async def test_cli__query_commands_print_json(store: EventStore, log_url: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    world, cp, gw, derived = scenario()
    await publish_all(store, world, cp, gw, derived)
    common = ["--log", log_url, "--views", str(tmp_path / "v.db"), "--json"]

    def run(*argv: str) -> object:
        code = main([*argv, *common])
        out = capsys.readouterr().out
        assert code in (0, 1), out
        return json.loads(out)

    (c,) = await asyncio.to_thread(run, "chain", "cred-delegated-1")
    assert c["complete"] and c["principal"] == "bob@acme"
    timeline = await asyncio.to_thread(run, "timeline", "--task", "task-invoice-4711")
    assert [e["type"] for e in timeline][0] == "TaskStarted" and all("offset" in e for e in timeline)
    radius = await asyncio.to_thread(run, "blast-radius", "cred-act-1", "--at", (START + timedelta(seconds=30)).isoformat())
    assert radius["live"] == ["cred-act-1", "cred-mint-1", "cred-delegated-1"]
    owner = await asyncio.to_thread(run, "owners", "--workflow", "wf-vendor-onboarding")
    assert owner["owner"] == "procurement-lead@acme" and owner["credentials_issued"] == 3
    (finding,) = await asyncio.to_thread(run, "findings", "--owner", "procurement-lead@acme")
    assert finding["severity"] == "CRITICAL"
    report = await asyncio.to_thread(run, "report", "--standard", "owasp-nhi")
    assert report["findings_total"] == 1
