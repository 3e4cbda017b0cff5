"""The chain query on views built by the pure projection core (no log, no I/O)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import pytest

from consumers import chain as c
from consumers.chain import chains
from consumers.projection import Item, open_views, project_in_transaction
from consumers.workload import generate_chain, registry, workload
from ledger.events import CredentialRevoked, Event, RevocationReason

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def project(events: Iterable[Event], conn: sqlite3.Connection | None = None) -> sqlite3.Connection:
    conn = conn or open_views(":memory:")
    offsets: dict[str, int] = {}
    items = []
    for e in events:
        topic = "registry" if e.family == "registry" else "lifecycle"
        start = offsets.get(topic)
        if start is None:
            start = {t: p for t, p in conn.execute("SELECT topic, next_offset FROM positions")}.get(topic, 0)
        items.append(Item(topic, 0, start, e))
        offsets[topic] = start + 1
    project_in_transaction(conn, items)
    return conn


def test_chain__complete_chain_names_principal_policy_and_approvals() -> None:
    g = generate_chain(1, 3, start=START)
    conn = project(registry(START) + g.events)

    (found,) = chains(conn, g.leaf, now=START + timedelta(minutes=1))

    assert found.complete and found.resolved_as == "credential"
    assert found.task is not None and found.task["principal"] == "user-1@gen"
    assert [link.credential_id for link in found.links] == ["gc-1-0", "gc-1-1", "gc-1-2"]
    assert [a["approval_kind"] for a in found.links[1].approvals] == ["MINT"]
    assert found.links[0].decisions[0]["policy_digest"] == found.links[0].decisions[0]["published_digest"]
    assert all(link.live for link in found.links)


def test_chain__a_use_and_an_identity_resolve_to_their_credentials() -> None:
    g = generate_chain(2, 2, start=START)
    conn = project(registry(START) + g.events)
    use_id = g.events[-1].event_id

    (by_use,) = chains(conn, use_id, now=START)
    (by_identity,) = chains(conn, "spiffe://gen/id-2-1", now=START)

    assert by_use.resolved_as == "use" and by_use.use["event_id"] == use_id
    assert by_identity.resolved_as == "identity" and by_identity.links[-1].credential_id == g.leaf


def test_chain__unknown_policy_and_revocation_are_shown() -> None:
    g = generate_chain(3, 1, start=START)
    revoked = CredentialRevoked(chain_id=g.chain_id, task_id="gt-3", occurred_at=START + timedelta(seconds=5),
                                credential_id=g.leaf, reason=RevocationReason.COMPROMISED)
    conn = project(registry(START)[:3] + g.events + [revoked])  # the policy was never published

    (found,) = chains(conn, g.leaf, now=START + timedelta(seconds=10))

    assert {(x.kind, x.ref) for x in found.gaps} == {(c.UNKNOWN_POLICY, g.leaf)}
    assert found.links[0].revocation["reason"] == "COMPROMISED" and not found.links[0].live


def test_chain__unknown_id_is_one_missing_issuance() -> None:
    (found,) = chains(open_views(":memory:"), "nope")
    assert found.resolved_as == "unknown" and [x.kind for x in found.gaps] == [c.MISSING_ISSUANCE]


def test_chain__ten_thousand_generated_chains_mark_every_gap_and_no_false_one() -> None:
    """10 000 chains of depth 1..4, about 30 % with one to three injected gaps."""
    generated = list(workload(10_000, seed=4242))
    conn = project(registry(START) + [e for g in generated for e in g.events])
    started = time.perf_counter()

    wrong = []
    for g in generated:
        (found,) = chains(conn, g.leaf, now=START)
        got = {(x.kind, x.ref) for x in found.gaps}
        if got != g.expected:
            wrong.append((g.chain_id, sorted(g.expected), sorted(got)))

    assert wrong == []
    with_gaps = sum(1 for g in generated if g.expected)
    kinds = {k for g in generated for k, _ in g.expected}
    assert 2000 < with_gaps < 4000, "the workload must inject gaps into a good share of the chains"
    assert kinds == set(c.GAP_KINDS) - {c.UNKNOWN_POLICY, c.POLICY_DIGEST_MISMATCH}
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("depth", [1, 8, 16])
def test_chain__deep_chains_walk_to_the_root(depth: int) -> None:
    g = generate_chain(9, depth, start=START)
    conn = project(registry(START) + g.events)
    (found,) = chains(conn, g.leaf, now=START)
    assert len(found.links) == depth and found.complete
