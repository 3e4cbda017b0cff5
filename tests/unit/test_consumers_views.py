"""The projection core and the views it keeps: exactly-once application, owners,
blast radius, findings and reports, on in-memory SQLite."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from consumers import owners_view, queries, reports
from consumers.projection import Item, apply_event, digest, open_views, positions, project_in_transaction
from consumers.workload import generate_chain, registry
from ledger.events import (
    CredentialRevoked,
    CredentialUsed,
    GovernanceFinding,
    PartyRef,
    RevocationReason,
    Severity,
    StandardRef,
    UseOutcome,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATER = START + timedelta(minutes=5)


def items(events, topic="lifecycle", first=0):
    return [Item(topic, 0, first + i, e) for i, e in enumerate(events)]


def finding(chain_id: str, credential_id: str, **kw) -> GovernanceFinding:
    return GovernanceFinding(
        chain_id=chain_id, occurred_at=START + timedelta(seconds=30), kind=kw.get("kind", "use_after_revocation"),
        severity=kw.get("severity", Severity.HIGH), summary="used after revocation", credential_id=credential_id,
        evidence_event_ids=["ev-1", "ev-2"],
        accountable=[PartyRef(role="workflow_owner", party_id="wf-owner@gen"),
                     PartyRef(role="resource_owner", party_id="res-owner@gen")],
        standards=[StandardRef(framework="OWASP NHI Top 10 2025", ref="NHI1", title="Improper Offboarding"),
                   StandardRef(framework="OWASP Top 10 for Agentic Applications 2026", ref="ASI03"),
                   StandardRef(framework="NIST AI RMF 1.0", ref="MANAGE 2.4")],
    )


def world():
    """Two chains; the first is compromised: its root revoked, a child used after."""
    a = generate_chain(1, 3, start=START)
    b = generate_chain(2, 1, start=START)
    revoke = CredentialRevoked(chain_id=a.chain_id, task_id="gt-1", occurred_at=START + timedelta(seconds=10),
                               credential_id="gc-1-0", reason=RevocationReason.COMPROMISED)
    late_use = CredentialUsed(chain_id=a.chain_id, task_id="gt-1", occurred_at=START + timedelta(seconds=20),
                              credential_id="gc-1-2", token_fingerprint="hmac-sha256:" + "0" * 64,
                              resource_id="res-gen", action="write", outcome=UseOutcome.REJECTED, system="gen-db")
    return a, b, registry(START), a.events + b.events + [revoke, late_use, finding(a.chain_id, "gc-1-2")]


def build():
    a, b, reg, life = world()
    conn = open_views(":memory:")
    project_in_transaction(conn, items(reg, "registry"))
    project_in_transaction(conn, items(life))
    return conn, a, b


def test_projection__redelivered_records_and_duplicate_events_are_applied_once() -> None:
    _, _, reg, life = world()
    conn = open_views(":memory:")
    first = project_in_transaction(conn, items(life[:10]))

    again = project_in_transaction(conn, items(life[:15]))  # a redelivery after a restart overlaps
    dup = project_in_transaction(conn, [Item("lifecycle", 0, 15, life[3])])  # the same event appended twice

    assert (first.applied, again.applied, again.redelivered) == (10, 5, 10)
    assert (dup.applied, dup.duplicates) == (0, 1)
    assert positions(conn) == {"lifecycle": {0: 16}}
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 15


def test_projection__undecodable_record_is_skipped_and_remembered() -> None:
    conn = open_views(":memory:")
    result = project_in_transaction(conn, [Item("lifecycle", 2, 0, None, "MalformedRecord: bad magic")])
    assert result.undecodable == 1 and positions(conn) == {"lifecycle": {2: 1}}
    assert conn.execute("SELECT reason FROM skipped").fetchone()[0].startswith("MalformedRecord")


def test_digest__does_not_depend_on_topic_interleaving() -> None:
    _, _, reg, life = world()
    registry_first, lifecycle_first = open_views(":memory:"), open_views(":memory:")
    project_in_transaction(registry_first, items(reg, "registry"))
    project_in_transaction(registry_first, items(life))
    project_in_transaction(lifecycle_first, items(life))
    project_in_transaction(lifecycle_first, items(reg, "registry"))
    assert digest(registry_first) == digest(lifecycle_first)
    apply_event(lifecycle_first, finding("other", "x"))
    assert digest(registry_first) != digest(lifecycle_first)


def test_owners__workflow_owner_sees_issued_live_revoked_uses_findings() -> None:
    conn, a, b = build()

    view = owners_view.entity_view(conn, "workflow", "wf-gen", now=LATER)
    party = owners_view.party_view(conn, "wf-owner@gen", now=LATER)

    assert view["owner"] == "wf-owner@gen"
    assert (view["credentials_issued"], view["live_now"]) == (4, 3)
    assert view["revoked_by_reason"] == {"COMPROMISED": 1}
    assert (view["uses_accepted"], view["uses_rejected"]) == (2, 1)
    assert view["open_findings_by_severity"] == {"HIGH": 1}
    assert view["governance_failures"] == 0
    assert party["roles"]["workflow_owner"]["credentials_issued"] == 4
    assert party["roles"]["workflow_owner"]["open_findings_by_severity"] == {"HIGH": 1}


def test_owners__every_role_is_listed_and_failures_counted() -> None:
    conn = open_views(":memory:")
    broken = generate_chain(5, 2, {1: "approval"}, start=START)
    project_in_transaction(conn, items(registry(START), "registry"))
    project_in_transaction(conn, items(broken.events))

    roles = {p["party"]: p["roles"] for p in owners_view.parties(conn)}
    view = owners_view.party_view(conn, "cp-owner@gen", now=LATER)

    assert roles["author@gen"] == ["policy_author"] and roles["res-owner@gen"] == ["resource_owner"]
    assert view["roles"]["control_plane_owner"]["governance_failures"] == 1
    assert owners_view.party_view(conn, "author@gen", now=LATER)["roles"]["policy_author"]["credentials_issued"] == 2


def test_blast_radius__descendants_resources_and_what_is_still_live() -> None:
    conn, a, _ = build()

    br = queries.blast_radius(conn, "gc-1-0", now=LATER)
    before = queries.blast_radius(conn, "gc-1-0", now=START + timedelta(seconds=5))

    assert [c["credential_id"] for c in br["credentials"]] == ["gc-1-0", "gc-1-1", "gc-1-2"]
    assert br["live"] == ["gc-1-1", "gc-1-2"]  # the root is revoked; nothing revoked its children
    assert br["resources"][0]["resource_id"] == "res-gen" and br["resources"][0]["owner"] == "res-owner@gen"
    assert br["resources"][0]["uses"] == 2
    assert {i["identity"] for i in br["identities"]} == {f"spiffe://gen/id-1-{k}" for k in range(3)}
    assert before["live"] == ["gc-1-0", "gc-1-1", "gc-1-2"]


def test_timeline__a_credential_includes_its_request_uses_and_findings() -> None:
    conn, *_ = build()
    types = [e["type"] for e in queries.timeline(conn, credential="gc-1-2")]
    assert types == ["CredentialRequested", "PolicyEvaluated", "ApprovalRecorded", "CredentialIssued",
                     "CredentialUsed", "CredentialUsed", "GovernanceFinding"]
    assert [e["offset"] for e in queries.timeline(conn, task="gt-2")] == sorted(
        e["offset"] for e in queries.timeline(conn, task="gt-2"))


def test_findings__filter_by_owner_and_kind() -> None:
    conn, *_ = build()
    (f,) = queries.findings(conn, owner="res-owner@gen")
    assert f["evidence_event_ids"] == ["ev-1", "ev-2"] and len(f["standards"]) == 3
    assert queries.findings(conn, owner="nobody") == [] and queries.findings(conn, kind="other") == []


def test_reports__each_standard_groups_findings_by_its_own_references() -> None:
    conn, *_ = build()
    for standard, ref in (("owasp-nhi", "NHI1"), ("owasp-asi", "ASI03"), ("nist-ai-rmf", "MANAGE 2.4")):
        report = reports.build(conn, standard, owner="wf-owner@gen")
        hit = [c for c in report["controls"] if c["findings"]]
        assert [c["ref"] for c in hit] == [ref]
        assert hit[0]["by_owner"] == {"res-owner@gen": 1, "wf-owner@gen": 1}
        assert f"| {ref} |" in reports.render(report, "md")
        assert json.loads(reports.render(report, "json"))["findings_total"] == 1
        assert "ev-1" in reports.render(report, "html")
    assert reports.build(conn, "owasp-nhi", owner="nobody")["findings_total"] == 0
