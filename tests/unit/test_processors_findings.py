"""Governance findings, table-driven: each case breaks one thing in a valid chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.events import (
    ApprovalKind as AK,
    ApproverType as AT,
    CredentialKind,
    Decision,
    Event,
    GovernanceFinding,
    UseOutcome,
)
from processors.engine import Processor
from processors.scenario import Scenario
from processors.standards import FINDING_KINDS, standards_for

S = Scenario()
GRACE = timedelta(seconds=5)
BASE = S.registry() + [S.task("c", "t")]
ROOT = BASE + S.grant("c", "t", "A", ttl=60, scopes=("read", "write"), actions=("read", "write"))


def run(events: list[Event | float], now: float | None = 1000) -> list[GovernanceFinding]:
    p = Processor(grace=GRACE)
    out: list[Event] = []
    for e in events:
        out += p.tick(S.t(e)) if isinstance(e, (int, float)) else p.step(e)
    if now is not None:
        out += p.tick(S.t(now))
    return [e for e in out if isinstance(e, GovernanceFinding)]


def kinds(events: list[Event | float], now: float | None = 1000) -> list[str]:
    return sorted(f.kind for f in run(events, now))


def child(**kw) -> list[Event]:  # type: ignore[no-untyped-def]
    args = {"parent": "A", "depth": 1, "at": 2, "ttl": 30}
    args.update(kw)
    return S.grant("c", "t", "B", **args)


CASES = [
    ("a valid chain with uses and completion", ROOT + child() + [S.use("c", "t", "A"), S.use("c", "t", "B", at=3),
                                                                   S.complete("c", "t")], []),
    ("use after revocation", ROOT + [S.complete("c", "t", at=5), S.use("c", "t", "A", at=6)], ["use_after_revocation"]),
    ("use after expiry", ROOT + [S.use("c", "t", "A", at=62)], ["use_after_expiry"]),
    ("use at a resource outside the grant", ROOT + [S.use("c", "t", "A", resource="res-b")], ["use_out_of_scope"]),
    ("use with an action outside the grant", ROOT + [S.use("c", "t", "A", action="delete")], ["use_out_of_scope"]),
    ("child with a wider scope", ROOT + child(scopes=("read", "admin")), ["attenuation_broken"]),
    ("child with a wider resource", ROOT + child(resources=("res-a", "res-b")), ["attenuation_broken"]),
    ("child outliving its parent", ROOT + child(ttl=600), ["attenuation_broken"]),
    ("delegation deeper than the workflow allows",
     BASE + S.grant("c", "t", "A", workflow="wf-nomint") + S.grant("c", "t", "B", parent="A", depth=2, at=2, ttl=30,
                                                                   workflow="wf-nomint"), ["delegation_too_deep"]),
    ("mint without a MINT approval",
     ROOT + child(kind=CredentialKind.MINT, approvals=((AK.ACT, AT.HUMAN, "approver@corp", -0.1),)),
     ["mint_without_approval"]),
    ("mint in a workflow that may not mint",
     BASE + S.grant("c", "t", "A", workflow="wf-nomint", kind=CredentialKind.MINT), ["mint_not_allowed"]),
    ("issuance without a request", BASE + S.grant("c", "t", "A", request=False), ["broken_chain"]),
    ("issuance without a decision", BASE + S.grant("c", "t", "A", decision=None), ["broken_chain"]),
    ("issuance despite a denial", BASE + S.grant("c", "t", "A", decision=Decision.DENY), ["broken_chain"]),
    ("issuance without an approval", BASE + S.grant("c", "t", "A", approvals=()), ["broken_chain"]),
    ("approval arriving within the grace period", BASE + _late if (_late := S.grant("c", "t", "A", approvals=(
        (AK.ACT, AT.POLICY, "pol@1", 2),))) else [], []),
    ("unknown parent", BASE + child(), ["unknown_reference"]),
    ("unknown task", S.registry() + S.grant("c", "t-none", "A"), ["unknown_reference"]),
    ("unknown workflow", BASE + S.grant("c", "t", "A", workflow="wf-none"), ["unknown_reference"]),
    ("unknown resource in the grant", BASE + S.grant("c", "t", "A", resources=("res-none",)), ["unknown_reference"]),
    ("use of an unknown credential", BASE + [S.use("c", "t", "Z")], ["unknown_reference"]),
    ("TTL above the workflow maximum", BASE + S.grant("c", "t", "A", ttl=7200), ["ttl_exceeds_workflow_max"]),
    ("no expiry", BASE + S.grant("c", "t", "A", ttl=None), ["no_expiry"]),
    ("token used from two trust domains", ROOT + [S.use("c", "t", "A"), S.use("c", "t", "A", at=3, system="sys-x",
                                                                            domain="td-x")],
     ["cross_domain_token_reuse"]),
    ("token issued in one domain used from another", ROOT + [S.use("c", "t", "A", domain="td-x")],
     ["cross_domain_token_reuse"]),
    ("token fingerprint of another domain reissued",
     ROOT + [S.use("c", "t", "A")] + S.grant("c2", "t", "X", at=3, domain="td-x", token_of="A"),
     ["cross_domain_token_reuse"]),
    ("human approval after the action", BASE + S.grant("c", "t", "A", approvals=((AK.ACT, AT.HUMAN, "h@corp", 1),)),
     ["approval_after_action"]),
    ("agent approving itself", BASE + S.grant("c", "t", "A", approvals=((AK.ACT, AT.HUMAN, "agent-t", -0.1),)),
     ["self_approval"]),
]


@pytest.mark.parametrize("name, events, expected", CASES, ids=[c[0] for c in CASES])
def test_findings__table(name: str, events: list[Event], expected: list[str]) -> None:
    assert kinds(events) == expected


def test_findings__every_kind_has_standards_from_all_three_frameworks_or_two() -> None:
    for kind in FINDING_KINDS:
        frameworks = {s.framework for s in standards_for(kind)}
        assert len(frameworks) >= 2, kind
        assert any("NIST" in f for f in frameworks), kind


def test_findings__missing_approval_waits_for_the_grace_period_and_says_so() -> None:
    events = BASE + S.grant("c", "t", "A", approvals=())
    assert kinds(events, now=1 + 4) == []  # still within grace
    (f,) = run(events, now=1 + 5)
    assert f.kind == "broken_chain" and f.waited_seconds == 5.0
    assert "grace period" in f.summary


def test_findings__accountable_parties_resolved_from_registry() -> None:
    (f,) = run(ROOT + [S.use("c", "t", "A", resource="res-b")])
    roles = {(p.role, p.party_id) for p in f.accountable}
    assert {("control_plane_owner", "cp-owner"), ("workflow_owner", "wf-owner"), ("resource_owner", "res-b-owner"),
            ("policy_author", "pol-author"), ("human_approver", "approver@corp")} <= roles
    assert {s.ref for s in f.standards} >= {"NHI5"}


def test_findings__use_after_revocation_is_critical_only_when_accepted() -> None:
    rejected = run(ROOT + [S.complete("c", "t", at=5), S.use("c", "t", "A", at=6, outcome=UseOutcome.REJECTED)])
    accepted = run(ROOT + [S.complete("c", "t", at=5), S.use("c", "t", "A", at=6)])
    assert rejected[0].severity.value == "MEDIUM" and accepted[0].severity.value == "CRITICAL"


def test_findings__evaluating_twice_reports_once() -> None:
    p = Processor(grace=GRACE)
    events = BASE + S.grant("c", "t", "A", ttl=None)
    out = [o for e in events for o in p.step(e)]
    out += p.tick(S.t(100)) + p.tick(S.t(200))
    assert [f.kind for f in out if isinstance(f, GovernanceFinding)] == ["no_expiry"]


def test_findings__unverifiable_record() -> None:
    p = Processor()
    (f,) = p.reject(topic="x.lifecycle", partition=1, offset=7, reason="bad bytes", error="MalformedRecord", at=S.t(0))
    assert f.kind == "unverifiable_record" and "x.lifecycle/1/7" in f.summary
    assert p.reject(topic="x.lifecycle", partition=1, offset=7, reason="bad bytes", error="MalformedRecord", at=S.t(0)) == []
