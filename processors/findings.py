"""Governance findings: every gap in a chain of custody, with who is accountable.

Each rule looks at one event against the state. A rule that needs context which may
still be on its way (a request, decision or approval a moment behind the issuance, a
workflow registered late) runs in two passes: first when the event arrives
(``final=False``: report only what is certain, note what is missing), then once the
grace period has passed (``final=True``: whatever is still missing is a gap, and the
finding says how long it waited). A finding's id is derived from its kind, its cause
event and its subject, so evaluating twice never reports twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from ledger.events import (
    ApprovalKind,
    ApprovalRecorded,
    ApproverType,
    CredentialIssued,
    CredentialKind,
    CredentialUsed,
    Decision,
    Event,
    GovernanceFinding,
    PartyRef,
    RevocationReason,
    Severity,
    TaskCompleted,
    UseOutcome,
)

from .ids import derived_id
from .standards import standards_for
from .state import Credential, State

DEADLETTER_CHAIN = "dledger-deadletter"


class Findings:
    """Collects the findings of one evaluation; ``gaps`` lists context still missing."""

    def __init__(self, state: State, cause: Event, waited: float | None) -> None:
        self.state = state
        self.cause = cause
        self.waited = waited
        self.out: list[GovernanceFinding] = []
        self.gaps = 0

    def add(
        self,
        kind: str,
        severity: Severity,
        summary: str,
        *,
        subject: str = "",
        evidence: Iterable[str] = (),
        parties: list[PartyRef] | Callable[[], list[PartyRef]] | None = None,
        credential_id: str | None = None,
        resource_id: str | None = None,
        waited: bool = False,
        cite_cause: bool = True,
    ) -> None:
        event_id = derived_id(f"finding.{kind}", self.cause.event_id, subject)
        if event_id in self.state.reported:
            return
        self.state.reported.add(event_id)
        if callable(parties):  # resolved only when there is something to report
            parties = parties()
        waited_s = self.waited if waited else None
        if waited_s is not None:
            summary += f" (still missing after a {waited_s:g}s grace period for late events)"
        evidence_ids = list(dict.fromkeys([self.cause.event_id, *evidence] if cite_cause else evidence))
        self.out.append(
            GovernanceFinding(
                event_id=event_id,
                occurred_at=self.cause.occurred_at,
                chain_id=self.cause.chain_id or DEADLETTER_CHAIN,
                task_id=self.cause.task_id,
                workflow_id=self.cause.workflow_id,
                causation_id=self.cause.event_id if cite_cause else None,
                kind=kind,
                severity=severity,
                summary=summary,
                evidence_event_ids=evidence_ids,
                accountable=parties or [],
                standards=standards_for(kind),
                credential_id=credential_id,
                resource_id=resource_id,
                waited_seconds=waited_s,
            )
        )

    def missing(self, final: bool) -> bool:
        """True when a gap should be reported now; otherwise remember to look again."""
        if not final:
            self.gaps += 1
        return final


def parties(
    state: State,
    *,
    workflow_id: str | None = None,
    resources: Iterable[str] = (),
    broker_id: str | None = None,
    request_id: str | None = None,
    human_approvers: bool = True,
) -> list[PartyRef]:
    """The accountable parties, resolved from the registry: control-plane owner,
    workflow owner, resource owners, broker operator and product owner, policy author,
    human approvers. Unknown entities are simply absent (and reported elsewhere)."""
    out: list[PartyRef] = []

    def add(role: str, party: str | None) -> None:
        if party:
            ref = PartyRef(role=role, party_id=party)
            if ref not in out:
                out.append(ref)

    wf = state.workflows.get(workflow_id or "")
    if wf is not None:
        cp = state.control_planes.get(wf.control_plane_id)
        add("control_plane_owner", cp.owner if cp else None)
        add("workflow_owner", wf.owner)
    for rid in resources:
        res = state.resources.get(rid)
        add("resource_owner", res.owner if res else None)
    broker = state.brokers.get(broker_id or "")
    if broker is not None:
        add("broker_operator", broker.operator)
        add("product_owner", broker.product_owner)
    if request_id:
        decision = state.decisions.get(request_id)
        if decision is not None:
            policy = state.policies.get((decision.policy_id, decision.policy_version))
            add("policy_author", policy.author if policy else None)
        if human_approvers:
            for a in state.approvals.get(request_id, ()):
                if a.approver_type is ApproverType.HUMAN:
                    add("human_approver", a.approver)
    return out


def _cred_parties(state: State, cred: Credential, resources: Iterable[str] | None = None) -> list[PartyRef]:
    return parties(state, workflow_id=cred.workflow_id, resources=sorted(cred.resources) if resources is None else resources,
                   broker_id=cred.broker_id, request_id=cred.request_id)


# ---------------------------------------------------------------- issuance


def check_issuance(state: State, event: CredentialIssued, cred: Credential, final: bool, waited: float | None) -> Findings:
    f = Findings(state, event, waited)

    def who() -> list[PartyRef]:
        return _cred_parties(state, cred)

    cid = cred.credential_id

    # the chain back to a principal: task, request, allowing decision, approvals
    if cred.task_id is None or cred.task_id not in state.tasks:
        if f.missing(final):
            f.add("unknown_reference", Severity.HIGH, f"{cid} was issued for unknown task {cred.task_id}",
                  subject="task", parties=who, credential_id=cid, waited=True)
    wf = state.workflows.get(cred.workflow_id or "")
    if wf is None and f.missing(final):
        f.add("unknown_reference", Severity.HIGH, f"{cid} names unknown workflow {cred.workflow_id}",
              subject="workflow", parties=who, credential_id=cid, waited=True)
    for rid in sorted(cred.resources):
        if rid not in state.resources and f.missing(final):
            f.add("unknown_reference", Severity.MEDIUM, f"{cid} grants unknown resource {rid}",
                  subject=f"resource:{rid}", parties=who, credential_id=cid, resource_id=rid, waited=True)
    request = state.requests.get(cred.request_id or "")
    decision = state.decisions.get(cred.request_id or "")
    approvals = state.approvals.get(cred.request_id or "", [])
    if request is None:
        if f.missing(final):
            f.add("broken_chain", Severity.HIGH, f"{cid} was issued without a preceding credential request",
                  subject="request", parties=who, credential_id=cid, waited=True)
    if decision is None:
        if f.missing(final):
            f.add("broken_chain", Severity.HIGH, f"{cid} was issued without a policy decision",
                  subject="decision", parties=who, credential_id=cid, waited=True)
    elif decision.decision is not Decision.ALLOW:
        f.add("broken_chain", Severity.CRITICAL, f"{cid} was issued although policy {decision.policy_id} denied it",
              subject="decision", evidence=[decision.event_id], parties=who, credential_id=cid)
    kinds = {a.approval_kind for a in approvals}
    if cred.kind is CredentialKind.MINT:
        if ApprovalKind.MINT not in kinds and f.missing(final):
            f.add("mint_without_approval", Severity.HIGH,
                  f"{cid} minted identity {cred.subject} without a MINT approval distinct from the ACT approval",
                  subject="approval", evidence=[a.event_id for a in approvals], parties=who, credential_id=cid, waited=True)
        if wf is not None and not wf.may_mint:
            f.add("mint_not_allowed", Severity.HIGH,
                  f"{cid} minted identity {cred.subject} in workflow {wf.workflow_id}, which may not mint",
                  subject="workflow", evidence=[wf.event_id], parties=who, credential_id=cid)
    elif ApprovalKind.ACT not in kinds and f.missing(final):
        f.add("broken_chain", Severity.HIGH, f"{cid} was issued without an ACT approval",
              subject="approval", parties=who, credential_id=cid, waited=True)
    for a in approvals:
        f.out += _check_approval(state, a, cred)

    # lifetime
    if cred.expires_at is None:
        f.add("no_expiry", Severity.HIGH, f"{cid} never expires", subject="ttl", parties=who, credential_id=cid)
    elif wf is not None:
        ttl = (cred.expires_at - cred.issued_at).total_seconds()
        if ttl > wf.max_ttl_seconds:
            f.add("ttl_exceeds_workflow_max", Severity.MEDIUM,
                  f"{cid} lives {ttl:g}s, above workflow {wf.workflow_id}'s maximum of {wf.max_ttl_seconds}s",
                  subject="ttl", evidence=[wf.event_id], parties=who, credential_id=cid)

    # attenuation and depth
    if wf is not None and cred.depth > wf.max_delegation_depth:
        f.add("delegation_too_deep", Severity.HIGH,
              f"{cid} is delegated {cred.depth} deep; workflow {wf.workflow_id} allows {wf.max_delegation_depth}",
              subject="depth", evidence=[wf.event_id], parties=who, credential_id=cid)
    if cred.parent_id is not None:
        parent = state.credentials.get(cred.parent_id)
        if parent is None:
            if f.missing(final):
                f.add("unknown_reference", Severity.HIGH, f"{cid} names unknown parent credential {cred.parent_id}",
                      subject="parent", parties=who, credential_id=cid, waited=True)
        else:
            wider = []
            for name in ("scopes", "resources", "actions"):
                extra = sorted(getattr(cred, name) - getattr(parent, name))
                if extra:
                    wider.append(f"{name} {','.join(extra)}")
            if parent.expires_at is not None and (cred.expires_at is None or cred.expires_at > parent.expires_at):
                wider.append("a later expiry")
            if wider:
                f.add("attenuation_broken", Severity.HIGH,
                      f"{cid} is wider than its parent {parent.credential_id}: " + "; ".join(wider),
                      subject="parent", evidence=[parent.issued_event_id], parties=who, credential_id=cid)

    # the same token known in another trust domain
    _check_fingerprint_issuance(f, state, cred)
    return f


def _check_approval(state: State, a: ApprovalRecorded, cred: Credential | None) -> list[GovernanceFinding]:
    """Findings about one approval; their cause is the approval, whichever event triggered the check."""
    f = Findings(state, a, None)
    if cred is not None and a.approver_type is ApproverType.HUMAN and a.occurred_at > cred.issued_at:
        f.add("approval_after_action", Severity.MEDIUM,
              f"{a.approver} approved {a.approval_kind.value} for {cred.credential_id} at {a.occurred_at:%H:%M:%S},"
              f" after it was issued at {cred.issued_at:%H:%M:%S}",
              subject=f"late:{a.event_id}", evidence=[a.event_id, cred.issued_event_id],
              parties=_cred_parties(state, cred), credential_id=cred.credential_id)
    req = state.requests.get(a.request_id)
    if req is not None and a.approver in (req.agent_id, req.workload_identity):
        f.add("self_approval", Severity.HIGH,
              f"{a.approver} approved its own {a.approval_kind.value} request {a.request_id}",
              subject=f"self:{a.event_id}", evidence=[a.event_id, req.event_id],
              parties=parties(state, workflow_id=req.workflow_id, resources=req.resources, broker_id=req.broker_id,
                              request_id=req.request_id, human_approvers=False),
              credential_id=cred.credential_id if cred else None)
    return f.out


def _check_fingerprint_issuance(f: Findings, state: State, cred: Credential) -> None:
    for (system, domain), use_id in state.fingerprint_sites.get(cred.fingerprint, {}).items():
        if cred.trust_domain and domain and domain != cred.trust_domain:
            f.add("cross_domain_token_reuse", Severity.CRITICAL,
                  f"{cred.credential_id} in {cred.trust_domain} carries a token already used in {domain} ({system})",
                  subject=f"fp:{domain}", evidence=[use_id], parties=_cred_parties(state, cred), credential_id=cred.credential_id)


def on_approval(state: State, event: ApprovalRecorded) -> list[GovernanceFinding]:
    state.approvals.setdefault(event.request_id, []).append(event)
    cred_id = state.by_request.get(event.request_id)
    cred = state.credentials.get(cred_id) if cred_id else None
    return _check_approval(state, event, cred)


# ---------------------------------------------------------------- use


def check_use(state: State, event: CredentialUsed, final: bool, waited: float | None) -> Findings:
    f = Findings(state, event, waited)
    cred = state.credentials.get(event.credential_id)
    rid = event.resource_id
    if event.resource_id not in state.resources and f.missing(final):
        f.add("unknown_reference", Severity.MEDIUM, f"{event.credential_id} was used at unknown resource {rid}",
              subject="resource", parties=parties(state, workflow_id=event.workflow_id), resource_id=rid, waited=True)
    _check_fingerprint_use(f, state, event, cred)
    if cred is None:
        if f.missing(final):
            f.add("unknown_reference", Severity.HIGH, f"unknown credential {event.credential_id} was used at {rid}",
                  subject="credential", parties=parties(state, workflow_id=event.workflow_id, resources=[rid]),
                  credential_id=event.credential_id, resource_id=rid, waited=True)
        return f
    def who() -> list[PartyRef]:
        return _cred_parties(state, cred, resources=[rid])

    accepted = event.outcome is UseOutcome.ACCEPTED
    sev = Severity.CRITICAL if accepted else Severity.MEDIUM
    outcome = "accepted" if accepted else "rejected"
    expired = cred.expires_at is not None and event.occurred_at > cred.expires_at
    if expired:
        f.add("use_after_expiry", sev,
              f"{cred.credential_id} was used at {rid} after it expired at {cred.expires_at:%H:%M:%S} ({outcome})",
              subject="use", evidence=[cred.issued_event_id], parties=who, credential_id=cred.credential_id, resource_id=rid)
    elif cred.revoked and cred.revoked_at is not None and event.occurred_at > cred.revoked_at:
        reason = cred.revocation_reason.value.lower() if cred.revocation_reason else "revoked"
        f.add("use_after_revocation", sev,
              f"{cred.credential_id} was used at {rid} after it was revoked ({reason}) ({outcome})",
              subject="use", evidence=[cred.revocation_id or ""], parties=who, credential_id=cred.credential_id,
              resource_id=rid)
    outside = []
    if rid not in cred.resources:
        outside.append(f"resource {rid}")
    if event.action not in cred.actions:
        outside.append(f"action {event.action}")
    if outside:
        f.add("use_out_of_scope", Severity.HIGH if accepted else Severity.LOW,
              f"{cred.credential_id} was used outside its grant: {' and '.join(outside)} ({outcome})",
              subject="scope", evidence=[cred.issued_event_id], parties=who, credential_id=cred.credential_id,
              resource_id=rid)
    return f


def _check_fingerprint_use(f: Findings, state: State, event: CredentialUsed, cred: Credential | None) -> None:
    site = (event.system, event.trust_domain or "")
    sites = state.fingerprint_sites.setdefault(event.token_fingerprint, {})
    if site in sites:
        return
    others = [(s, u) for s, u in sites.items()]
    sites[site] = event.event_id
    def who() -> list[PartyRef]:
        if cred is not None:
            return _cred_parties(state, cred, resources=[event.resource_id])
        return parties(state, workflow_id=event.workflow_id, resources=[event.resource_id])

    if others:
        (system, domain), first_use = others[0]
        where = f"{system} in {domain}" if domain else system
        f.add("cross_domain_token_reuse", Severity.CRITICAL,
              f"token of {event.credential_id} used from {event.system} in {event.trust_domain or '?'}"
              f" after use from {where}",
              subject=f"site:{site[0]}|{site[1]}", evidence=[first_use], parties=who,
              credential_id=event.credential_id, resource_id=event.resource_id)
    elif cred is not None and cred.trust_domain and event.trust_domain and event.trust_domain != cred.trust_domain:
        f.add("cross_domain_token_reuse", Severity.CRITICAL,
              f"token of {cred.credential_id}, issued in {cred.trust_domain}, used from {event.system} in {event.trust_domain}",
              subject=f"site:{site[0]}|{site[1]}", evidence=[cred.issued_event_id], parties=who,
              credential_id=cred.credential_id, resource_id=event.resource_id)


# ---------------------------------------------------------------- unverifiable records


def unverifiable(state: State, *, topic: str, partition: int, offset: int, reason: str, error: str,
                 at: datetime, chain_id: str | None) -> list[GovernanceFinding]:
    """A record that could not be decoded or verified was dead-lettered."""
    position = f"{topic}/{partition}/{offset}"
    # a synthetic envelope: the record has no readable event of its own
    cause = TaskCompleted(event_id=f"record:{position}", chain_id=chain_id or DEADLETTER_CHAIN, occurred_at=at)
    f = Findings(state, cause, None)
    f.add("unverifiable_record", Severity.HIGH, f"record {position} was dead-lettered: {error}: {reason}",
          subject=position, cite_cause=False)
    return f.out


__all__ = ["check_issuance", "check_use", "on_approval", "parties", "unverifiable", "RevocationReason"]
