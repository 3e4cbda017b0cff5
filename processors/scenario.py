"""A small world of registered entities and well-formed chains, built event by event.

Used by the processors' tests, property tests and benchmark: every helper returns
unsigned events with explicit times, and a chain built with the defaults is valid
and complete (no finding). A test breaks exactly one thing and names it.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    TaskCompleted,
    TaskStarted,
    UseOutcome,
    WorkflowRegistered,
)
from ledger.tokens import fingerprint

FP_KEY = b"scenario fingerprint key"
DIGEST = "sha256:" + "0" * 64
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def fp(credential_id: str) -> str:
    return fingerprint(f"token-{credential_id}", FP_KEY)


@dataclass
class Scenario:
    start: datetime = T0
    workflow: str = "wf-main"
    resource: str = "res-a"
    system: str = "sys-a"
    domain: str = "td-a"

    def t(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def registry(self) -> list[Event]:
        return [
            ControlPlaneRegistered(control_plane_id="cp", name="control plane", owner="cp-owner", occurred_at=self.t(0)),
            WorkflowRegistered(workflow_id="wf-main", control_plane_id="cp", owner="wf-owner", may_mint=True,
                               max_ttl_seconds=3600, max_delegation_depth=3, occurred_at=self.t(0)),
            WorkflowRegistered(workflow_id="wf-nomint", control_plane_id="cp", owner="wf-nomint-owner", may_mint=False,
                               max_ttl_seconds=600, max_delegation_depth=1, occurred_at=self.t(0)),
            ResourceRegistered(resource_id="res-a", owner="res-a-owner", system="sys-a", trust_domain="td-a",
                               control_plane_id="cp", occurred_at=self.t(0)),
            ResourceRegistered(resource_id="res-b", owner="res-b-owner", system="sys-b", trust_domain="td-b",
                               control_plane_id="cp", occurred_at=self.t(0)),
            PolicyPublished(policy_id="pol", version="1", digest=DIGEST, author="pol-author", occurred_at=self.t(0)),
        ]

    def task(self, chain: str, task: str, *, at: float = 0, workflow: str | None = None) -> TaskStarted:
        return TaskStarted(chain_id=chain, task_id=task, workflow_id=workflow or self.workflow, occurred_at=self.t(at),
                           principal="principal@corp", purpose="test", agent_id=f"agent-{task}")

    def grant(
        self,
        chain: str,
        task: str,
        cred: str,
        *,
        at: float = 1,
        ttl: float | None = 60,
        parent: str | None = None,
        depth: int = 0,
        kind: CredentialKind = CredentialKind.ACT,
        scopes: tuple[str, ...] = ("read",),
        resources: tuple[str, ...] = ("res-a",),
        actions: tuple[str, ...] = ("read",),
        workflow: str | None = None,
        decision: Decision | None = Decision.ALLOW,
        approvals: tuple[tuple[ApprovalKind, ApproverType, str, float], ...] | None = None,
        request: bool = True,
        domain: str | None = None,
        token_of: str | None = None,
    ) -> list[Event]:
        """Request, decision and approvals (a second apart, before ``at``), then the issuance at ``at``."""
        env = {"chain_id": chain, "task_id": task, "workflow_id": workflow or self.workflow}
        rid = f"req-{cred}"
        agent = f"agent-{task}"
        out: list[Event] = []
        if request:
            out.append(CredentialRequested(**env, occurred_at=self.t(at - 0.3), request_id=rid, agent_id=agent,
                                           workload_identity=f"spiffe://td-a/{agent}", kind=kind,
                                           parent_credential_id=parent, scopes=list(scopes), resources=list(resources),
                                           actions=list(actions), ttl_seconds=int(ttl) if ttl else None))
        if decision is not None:
            out.append(PolicyEvaluated(**env, occurred_at=self.t(at - 0.2), request_id=rid, decision=decision,
                                       policy_id="pol", policy_version="1", policy_digest=DIGEST))
        if approvals is None:
            akind = ApprovalKind.MINT if kind is CredentialKind.MINT else ApprovalKind.ACT
            approvals = ((akind, ApproverType.HUMAN, "approver@corp", -0.1),)
        for akind, atype, who, offset in approvals:
            out.append(ApprovalRecorded(**env, occurred_at=self.t(at + offset), request_id=rid, approval_kind=akind,
                                        approver_type=atype, approver=who))
        out.append(CredentialIssued(
            **env, occurred_at=self.t(at), credential_id=cred, request_id=rid, token_fingerprint=fp(token_of or cred),
            subject=f"spiffe://td-a/{cred}", kind=kind, parent_credential_id=parent, depth=depth, scopes=list(scopes),
            resources=list(resources), actions=list(actions),
            expires_at=self.t(at + ttl) if ttl is not None else None, trust_domain=domain or self.domain,
        ))
        return out

    def use(self, chain: str, task: str, cred: str, *, at: float = 2, resource: str = "res-a", action: str = "read",
            system: str = "sys-a", domain: str = "td-a", outcome: UseOutcome = UseOutcome.ACCEPTED,
            token_of: str | None = None, workflow: str | None = None) -> CredentialUsed:
        return CredentialUsed(chain_id=chain, task_id=task, workflow_id=workflow or self.workflow, occurred_at=self.t(at),
                              credential_id=cred, token_fingerprint=fp(token_of or cred), resource_id=resource,
                              action=action, outcome=outcome, system=system, trust_domain=domain)

    def complete(self, chain: str, task: str, *, at: float = 10, workflow: str | None = None) -> TaskCompleted:
        return TaskCompleted(chain_id=chain, task_id=task, workflow_id=workflow or self.workflow, occurred_at=self.t(at))
