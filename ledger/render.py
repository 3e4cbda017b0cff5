"""One-line human summaries of events, for tables in the terminal."""

from __future__ import annotations

from .events import (
    ApprovalRecorded,
    BrokerRegistered,
    Checkpoint,
    ControlPlaneRegistered,
    CredentialIssued,
    CredentialRequested,
    CredentialRevoked,
    CredentialUsed,
    Event,
    GovernanceFinding,
    IssuerKeyRegistered,
    PolicyEvaluated,
    PolicyPublished,
    ResourceRegistered,
    TaskCompleted,
    TaskStarted,
    WorkflowRegistered,
)


def _list(items: list[str]) -> str:
    return ",".join(items) if items else "-"


def summary(e: Event) -> str:
    match e:
        case ControlPlaneRegistered():
            return f"control plane {e.control_plane_id} owned by {e.owner}"
        case WorkflowRegistered():
            mint = "may mint" if e.may_mint else "may not mint"
            return f"workflow {e.workflow_id} owned by {e.owner}; {mint}; max ttl {e.max_ttl_seconds}s, depth {e.max_delegation_depth}"
        case ResourceRegistered():
            return f"resource {e.resource_id} ({e.system}, {e.trust_domain}) owned by {e.owner}"
        case PolicyPublished():
            return f"policy {e.policy_id} v{e.version} by {e.author} ({e.digest[:19]})"
        case BrokerRegistered():
            return f"broker {e.broker_id} operated by {e.operator}, product owner {e.product_owner}"
        case IssuerKeyRegistered():
            return f"issuer {e.issuer_id} key {e.key_id[:20]}"
        case TaskStarted():
            return f"task {e.task_id} for {e.principal} by {e.agent_id}: {e.purpose}"
        case CredentialRequested():
            parent = f" from {e.parent_credential_id}" if e.parent_credential_id else ""
            return f"{e.agent_id} asks {e.kind.value}{parent}: scopes {_list(e.scopes)} on {_list(e.resources)}"
        case PolicyEvaluated():
            return f"{e.decision.value} by {e.policy_id} v{e.policy_version} for {e.request_id}"
        case ApprovalRecorded():
            return f"{e.approval_kind.value} approved by {e.approver_type.value.lower()} {e.approver} for {e.request_id}"
        case CredentialIssued():
            exp = e.expires_at.strftime("%H:%M:%S") if e.expires_at else "never"
            parent = f" child of {e.parent_credential_id}" if e.parent_credential_id else ""
            return f"{e.credential_id} ({e.kind.value}) to {e.subject}{parent}, depth {e.depth}, expires {exp}"
        case CredentialUsed():
            return f"{e.credential_id} {e.action} at {e.resource_id} via {e.system}: {e.outcome.value}"
        case TaskCompleted():
            return f"task {e.task_id} {e.outcome.value.lower()}"
        case CredentialRevoked():
            return f"{e.credential_id} revoked: {e.reason.value.lower()}"
        case GovernanceFinding():
            owners = ", ".join(f"{p.role}={p.party_id}" for p in e.accountable[:3])
            return f"{e.severity.value} {e.kind}: {e.summary} [{owners}]"
        case Checkpoint():
            return f"{e.topic}[{e.partition}] size {e.tree_size} root {e.root_hash.hex()[:16]}"
    return e.type
