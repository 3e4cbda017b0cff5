"""The demo world: a realistic delegation scenario on the embedded log.

A control plane, two workflows (one may mint identities, one may not), three
resources with owners and a published policy. An agent starts a task, is granted an
ACT credential after a policy decision, mints a downstream identity with its own
MINT approval, delegates a narrower credential, uses them at resources, and
completes the task. ``DemoWorld`` holds the helpers so later scenes can add steps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .events import (
    ApprovalKind,
    ApprovalRecorded,
    ApproverType,
    ControlPlaneRegistered,
    CredentialIssued,
    CredentialKind,
    CredentialRequested,
    CredentialRevoked,
    CredentialUsed,
    DataSensitivity,
    Decision,
    Event,
    PolicyEvaluated,
    PolicyPublished,
    RequestContext,
    ResourceRegistered,
    RevocationReason,
    TaskCompleted,
    TaskStarted,
    UseOutcome,
    WorkflowRegistered,
)
from .signing import IssuerKey
from .tokens import fingerprint

FINGERPRINT_KEY = b"demo deployment fingerprint key"
POLICY_DIGEST = "sha256:" + hashlib.sha256(b"package agent.access\nallow { input.scopes <= data.allowed }").hexdigest()


@dataclass
class DemoWorld:
    """Builds the scenario's events in order; every event is unsigned until published."""

    start: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0))
    control_plane: IssuerKey = field(default_factory=lambda: IssuerKey.from_seed("cp-acme-sts", b"demo control plane"))
    gateway: IssuerKey = field(default_factory=lambda: IssuerKey.from_seed("gw-acme", b"demo resource gateway"))
    clock: float = 0.0

    def at(self, seconds: float | None = None) -> datetime:
        """A timestamp in the scenario; without an argument, one second after the last."""
        self.clock = self.clock + 1 if seconds is None else seconds
        return self.start + timedelta(seconds=self.clock)

    def registry(self) -> list[Event]:
        cp = "cp-acme"
        return [
            self.control_plane.registration(control_plane_id=cp, system="acme-sts", trust_domain="acme.corp"),
            self.gateway.registration(control_plane_id=cp, system="api-gateway", trust_domain="acme.corp"),
            ControlPlaneRegistered(control_plane_id=cp, name="ACME agent control plane", owner="platform-security@acme"),
            WorkflowRegistered(
                workflow_id="wf-vendor-onboarding", control_plane_id=cp, owner="procurement-lead@acme",
                description="onboard a vendor end to end", may_mint=True, max_ttl_seconds=1800, max_delegation_depth=2,
            ),
            WorkflowRegistered(
                workflow_id="wf-invoice-triage", control_plane_id=cp, owner="finance-ops@acme",
                description="triage inbound invoices", may_mint=False, max_ttl_seconds=900, max_delegation_depth=1,
            ),
            ResourceRegistered(resource_id="res-vendor-db", owner="data-platform@acme", system="postgres-vendors",
                               trust_domain="acme.corp", control_plane_id=cp),
            ResourceRegistered(resource_id="res-erp-ledger", owner="finance-systems@acme", system="sap-erp",
                               trust_domain="acme.corp", control_plane_id=cp),
            ResourceRegistered(resource_id="res-crm", owner="sales-ops@acme", system="salesforce",
                               trust_domain="acme.salesforce.com", control_plane_id=cp),
            PolicyPublished(policy_id="pol-agent-access", version="3", digest=POLICY_DIGEST, author="alice@acme",
                            control_plane_id=cp),
        ]

    def grant(
        self,
        *,
        chain: str,
        task: str,
        workflow: str,
        agent: str,
        credential: str,
        kind: CredentialKind = CredentialKind.ACT,
        subject: str,
        scopes: list[str],
        resources: list[str],
        actions: list[str],
        ttl: int,
        parent: str | None = None,
        depth: int = 0,
        approvals: tuple[tuple[ApprovalKind, ApproverType, str], ...] = (),
        sensitivity: DataSensitivity = DataSensitivity.INTERNAL,
    ) -> list[Event]:
        """Request -> policy decision -> approvals -> issuance of one credential."""
        env = {"chain_id": chain, "task_id": task, "workflow_id": workflow}
        request_id = f"req-{credential}"
        req = CredentialRequested(
            **env, occurred_at=self.at(), request_id=request_id, agent_id=agent,
            workload_identity=f"spiffe://acme.corp/agents/{agent}", attestation="sha256:" + "ab" * 32,
            kind=kind, parent_credential_id=parent, scopes=scopes, resources=resources, actions=actions,
            ttl_seconds=ttl, context=RequestContext(tool="vendor-sync", target=resources[0], data_sensitivity=sensitivity),
        )
        decision = PolicyEvaluated(
            **env, occurred_at=self.at(), causation_id=req.event_id, request_id=request_id, decision=Decision.ALLOW,
            policy_id="pol-agent-access", policy_version="3", policy_digest=POLICY_DIGEST,
            determining_policies=["pol-agent-access/allow-scoped"], obligations=["revoke-on-completion"],
        )
        out: list[Event] = [req, decision]
        for approval_kind, approver_type, approver in approvals:
            out.append(ApprovalRecorded(
                **env, occurred_at=self.at(), causation_id=decision.event_id, request_id=request_id,
                approval_kind=approval_kind, approver_type=approver_type, approver=approver,
            ))
        issued_at = self.at()
        out.append(CredentialIssued(
            **env, occurred_at=issued_at, causation_id=out[-1].event_id, credential_id=credential,
            request_id=request_id, token_fingerprint=fingerprint(f"token-of-{credential}", FINGERPRINT_KEY),
            subject=subject, kind=kind, parent_credential_id=parent, depth=depth, scopes=scopes,
            resources=resources, actions=actions, not_before=issued_at, expires_at=issued_at + timedelta(seconds=ttl),
            actor_chain=[agent] if parent is None else [agent, parent], trust_domain="acme.corp",
        ))
        return out

    def use(self, *, chain: str, task: str, workflow: str, credential: str, resource: str, action: str,
            system: str, outcome: UseOutcome = UseOutcome.ACCEPTED, trust_domain: str = "acme.corp") -> CredentialUsed:
        return CredentialUsed(
            chain_id=chain, task_id=task, workflow_id=workflow, occurred_at=self.at(), credential_id=credential,
            token_fingerprint=fingerprint(f"token-of-{credential}", FINGERPRINT_KEY), resource_id=resource,
            action=action, outcome=outcome, system=system, trust_domain=trust_domain,
        )

    def vendor_onboarding(self) -> tuple[list[Event], list[Event]]:
        """The main story. Returns (control-plane events, gateway events)."""
        chain, task, wf, agent = "chain-onboard-globex", "task-onboard-globex", "wf-vendor-onboarding", "agent-procure-7"
        env = {"chain": chain, "task": task, "workflow": wf}
        cp: list[Event] = [TaskStarted(chain_id=chain, task_id=task, workflow_id=wf, occurred_at=self.at(),
                                       principal="bob@acme", purpose="onboard vendor Globex", agent_id=agent,
                                       control_plane_id="cp-acme")]
        cp += self.grant(**env, agent=agent, credential="cred-act-1", subject=f"spiffe://acme.corp/agents/{agent}",
                         scopes=["vendor:read", "vendor:write"], resources=["res-vendor-db"], actions=["read", "write"],
                         ttl=900, approvals=((ApprovalKind.ACT, ApproverType.POLICY, "pol-agent-access@3"),))
        cp += self.grant(**env, agent=agent, credential="cred-mint-1", kind=CredentialKind.MINT,
                         subject="spiffe://acme.corp/svc/globex-sync", scopes=["vendor:read"],
                         resources=["res-vendor-db"], actions=["read"], ttl=600, parent="cred-act-1", depth=1,
                         approvals=((ApprovalKind.MINT, ApproverType.HUMAN, "carol@acme"),))
        cp += self.grant(**env, agent=agent, credential="cred-delegated-1", subject="spiffe://acme.corp/svc/globex-sync",
                         scopes=["vendor:read"], resources=["res-vendor-db"], actions=["read"], ttl=300,
                         parent="cred-mint-1", depth=2,
                         approvals=((ApprovalKind.ACT, ApproverType.POLICY, "pol-agent-access@3"),))
        gw: list[Event] = [
            self.use(**env, credential="cred-act-1", resource="res-vendor-db", action="write", system="postgres-vendors"),
            self.use(**env, credential="cred-delegated-1", resource="res-vendor-db", action="read", system="postgres-vendors"),
        ]
        done = [TaskCompleted(chain_id=chain, task_id=task, workflow_id=wf, occurred_at=self.at())]
        return cp + done, gw

    def invoice_triage(self) -> tuple[list[Event], list[Event]]:
        """The second workflow: acts, may not mint."""
        chain, task, wf, agent = "chain-invoice-4711", "task-invoice-4711", "wf-invoice-triage", "agent-finance-2"
        env = {"chain": chain, "task": task, "workflow": wf}
        cp: list[Event] = [TaskStarted(chain_id=chain, task_id=task, workflow_id=wf, occurred_at=self.at(),
                                       principal="dana@acme", purpose="triage invoice 4711", agent_id=agent,
                                       control_plane_id="cp-acme")]
        cp += self.grant(**env, agent=agent, credential="cred-invoice-1", subject=f"spiffe://acme.corp/agents/{agent}",
                         scopes=["ledger:read"], resources=["res-erp-ledger"], actions=["read"], ttl=600,
                         approvals=((ApprovalKind.ACT, ApproverType.HUMAN, "erin@acme"),),
                         sensitivity=DataSensitivity.CONFIDENTIAL)
        gw = [self.use(**env, credential="cred-invoice-1", resource="res-erp-ledger", action="read", system="sap-erp")]
        return cp, gw

    def risky_shortcuts(self) -> tuple[list[Event], list[Event]]:
        """Third story: an invoice agent cuts corners and the processors notice. It mints an
        identity in a workflow that may not mint, delegates a credential wider than its own,
        and its token turns up at Salesforce, another trust domain; security revokes it as
        compromised and the revocation cascades to everything delegated from it."""
        chain, task, wf, agent = "chain-invoice-4712", "task-invoice-4712", "wf-invoice-triage", "agent-finance-2"
        env = {"chain": chain, "task": task, "workflow": wf}
        cp: list[Event] = [TaskStarted(chain_id=chain, task_id=task, workflow_id=wf, occurred_at=self.at(),
                                       principal="dana@acme", purpose="triage invoice 4712", agent_id=agent,
                                       control_plane_id="cp-acme")]
        cp += self.grant(**env, agent=agent, credential="cred-invoice-2", subject=f"spiffe://acme.corp/agents/{agent}",
                         scopes=["ledger:read"], resources=["res-erp-ledger"], actions=["read"], ttl=600,
                         approvals=((ApprovalKind.ACT, ApproverType.HUMAN, "erin@acme"),))
        cp += self.grant(**env, agent=agent, credential="cred-invoice-bot", kind=CredentialKind.MINT,
                         subject="spiffe://acme.corp/svc/invoice-bot", scopes=["ledger:read"],
                         resources=["res-erp-ledger"], actions=["read"], ttl=300, parent="cred-invoice-2", depth=1,
                         approvals=((ApprovalKind.MINT, ApproverType.HUMAN, "erin@acme"),))
        cp += self.grant(**env, agent=agent, credential="cred-invoice-wide", subject="spiffe://acme.corp/svc/invoice-bot",
                         scopes=["ledger:read", "ledger:write"], resources=["res-erp-ledger"], actions=["read", "write"],
                         ttl=300, parent="cred-invoice-2", depth=1,
                         approvals=((ApprovalKind.ACT, ApproverType.POLICY, "pol-agent-access@3"),))
        gw: list[Event] = [
            self.use(**env, credential="cred-invoice-2", resource="res-erp-ledger", action="read", system="sap-erp"),
            self.use(**env, credential="cred-invoice-2", resource="res-crm", action="export", system="salesforce",
                     trust_domain="acme.salesforce.com"),
        ]
        cp.append(CredentialRevoked(chain_id=chain, task_id=task, workflow_id=wf, occurred_at=self.at(),
                                    credential_id="cred-invoice-2", reason=RevocationReason.COMPROMISED,
                                    revoked_by="secops@acme"))
        return cp, gw

    def short_lived(self, now: datetime, ttl: int = 2) -> list[Event]:
        """Fourth story: a quote lookup gets a credential that lives ``ttl`` seconds from
        ``now`` (real time), so the expiry happens while the demo watches."""
        chain, task, wf, agent = "chain-quote-9", "task-quote-9", "wf-vendor-onboarding", "agent-procure-7"
        self.clock = (now - self.start).total_seconds() - 5
        cp: list[Event] = [TaskStarted(chain_id=chain, task_id=task, workflow_id=wf, occurred_at=self.at(),
                                       principal="bob@acme", purpose="look up a vendor quote", agent_id=agent,
                                       control_plane_id="cp-acme")]
        self.clock -= 0.9
        cp += self.grant(chain=chain, task=task, workflow=wf, agent=agent, credential="cred-quote-1",
                         subject=f"spiffe://acme.corp/agents/{agent}", scopes=["vendor:read"], resources=["res-vendor-db"],
                         actions=["read"], ttl=ttl, approvals=((ApprovalKind.ACT, ApproverType.POLICY, "pol-agent-access@3"),))
        return cp
