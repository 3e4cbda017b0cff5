"""Generated delegation chains with injected gaps: the workload of the chain-query
tests and of ``dledger bench views``.

Each chain is a task, then ``depth`` credentials each delegated from the one before
(odd levels are MINT, others ACT), each with its request, ALLOW decision and the
approval its kind needs, then a use of the last one. A gap drops or spoils one link
and the generator returns, beside the events, the gaps a correct chain query must
report: exactly those, no more.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ledger.events import (
    ApprovalKind,
    ApprovalRecorded,
    ApproverType,
    ControlPlaneRegistered,
    CredentialIssued,
    CredentialKind,
    CredentialRequested,
    CredentialUsed,
    Decision,
    Event,
    PolicyEvaluated,
    PolicyPublished,
    ResourceRegistered,
    TaskStarted,
    UseOutcome,
    WorkflowRegistered,
)

from . import chain as c

FP = "hmac-sha256:" + "0" * 64
DIGEST = "sha256:" + "1" * 64
LINK_GAPS = ("request", "decision", "deny", "approval", "issuance")


@dataclass
class GeneratedChain:
    chain_id: str
    leaf: str
    events: list[Event]
    expected: set[tuple[str, str]] = field(default_factory=set)


def registry(start: datetime) -> list[Event]:
    return [
        ControlPlaneRegistered(control_plane_id="cp-gen", name="generated", owner="cp-owner@gen", occurred_at=start),
        WorkflowRegistered(workflow_id="wf-gen", control_plane_id="cp-gen", owner="wf-owner@gen", may_mint=True,
                           max_ttl_seconds=86400, max_delegation_depth=32, occurred_at=start),
        ResourceRegistered(resource_id="res-gen", owner="res-owner@gen", system="gen-db", trust_domain="gen",
                           control_plane_id="cp-gen", occurred_at=start),
        PolicyPublished(policy_id="pol-gen", version="1", digest=DIGEST, author="author@gen", occurred_at=start),
    ]


def generate_chain(i: int, depth: int, gaps: dict[int, str] | None = None, drop_task: bool = False, *,
                   start: datetime, ttl: int = 86400, prefix: str = "g") -> GeneratedChain:
    """One chain; ``gaps`` maps a level (0 = root) to one of LINK_GAPS."""
    gaps = gaps or {}
    chain_id, task_id = f"{prefix}ch-{i}", f"{prefix}t-{i}"
    env = {"chain_id": chain_id, "task_id": task_id, "workflow_id": "wf-gen"}
    t = start
    out: list[Event] = []
    expected: set[tuple[str, str]] = set()
    if drop_task:
        expected.add((c.MISSING_TASK, task_id))
    else:
        out.append(TaskStarted(**env, occurred_at=t, principal=f"user-{i}@gen", purpose="generated", agent_id=f"agent-{i}"))
    creds = [f"{prefix}c-{i}-{k}" for k in range(depth)]
    lowest_missing = max((k for k, g in gaps.items() if g == "issuance"), default=-1)
    for k, cred in enumerate(creds):
        kind = CredentialKind.MINT if k % 2 == 1 else CredentialKind.ACT
        parent = creds[k - 1] if k else None
        gap = gaps.get(k)
        reachable = k >= lowest_missing  # the walk up from the leaf stops at the first missing issuance
        req_id = f"{prefix}r-{i}-{k}"
        t += timedelta(milliseconds=1)
        if gap != "request":
            out.append(CredentialRequested(**env, occurred_at=t, request_id=req_id, agent_id=f"agent-{i}",
                                           workload_identity=f"spiffe://gen/agent-{i}", kind=kind,
                                           parent_credential_id=parent, scopes=["s"], resources=["res-gen"],
                                           actions=["read"], ttl_seconds=ttl))
        if gap != "decision":
            out.append(PolicyEvaluated(**env, occurred_at=t, request_id=req_id,
                                       decision=Decision.DENY if gap == "deny" else Decision.ALLOW,
                                       policy_id="pol-gen", policy_version="1", policy_digest=DIGEST))
        if gap != "approval":
            out.append(ApprovalRecorded(**env, occurred_at=t, request_id=req_id,
                                        approval_kind=ApprovalKind.MINT if kind == CredentialKind.MINT else ApprovalKind.ACT,
                                        approver_type=ApproverType.POLICY, approver="pol-gen@1"))
        if gap != "issuance":
            out.append(CredentialIssued(**env, occurred_at=t, credential_id=cred, request_id=req_id,
                                        token_fingerprint=FP, subject=f"spiffe://gen/id-{i}-{k}", kind=kind,
                                        parent_credential_id=parent, depth=k, scopes=["s"], resources=["res-gen"],
                                        actions=["read"], not_before=t, expires_at=t + timedelta(seconds=ttl)))
        if gap and reachable:
            kind_of = {"request": c.MISSING_REQUEST, "decision": c.MISSING_DECISION, "deny": c.DENIED_DECISION,
                       "issuance": c.MISSING_ISSUANCE,
                       "approval": c.MISSING_MINT_APPROVAL if kind == CredentialKind.MINT else c.MISSING_ACT_APPROVAL}
            expected.add((kind_of[gap], cred))
    if drop_task and lowest_missing == depth - 1:
        expected.discard((c.MISSING_TASK, task_id))  # nothing issued is reachable to name the task
    out.append(CredentialUsed(**env, occurred_at=t + timedelta(milliseconds=1), credential_id=creds[-1],
                              token_fingerprint=FP, resource_id="res-gen", action="read",
                              outcome=UseOutcome.ACCEPTED, system="gen-db"))
    return GeneratedChain(chain_id, creds[-1], out, expected)


def workload(n: int, *, seed: int = 7, gap_rate: float = 0.3, max_depth: int = 4, min_depth: int = 1,
             start: datetime | None = None) -> Iterator[GeneratedChain]:
    """``n`` chains of depth 1..max_depth; about ``gap_rate`` of them with one to three gaps."""
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        depth = rng.randint(min_depth, max_depth)
        gaps: dict[int, str] = {}
        drop_task = False
        if rng.random() < gap_rate:
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.15:
                    drop_task = True
                else:
                    gaps[rng.randrange(depth)] = rng.choice(LINK_GAPS)
        yield generate_chain(i, depth, gaps, drop_task, start=start + timedelta(seconds=i))
