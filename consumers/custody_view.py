"""Custody view: tasks, requests, policy decisions, approvals, credentials (and the
identities they are issued to), delegation edges, uses and revocations.

Rows are facts, written once: state that depends on time ("live now") or on facts
from another topic (who owns the workflow) is derived when asked, so the view is the
same whatever order the registry and lifecycle topics were read in.
"""

from __future__ import annotations

import sqlite3

from ledger.events import (
    ApprovalRecorded,
    CredentialIssued,
    CredentialRequested,
    CredentialRevoked,
    CredentialUsed,
    Event,
    PolicyEvaluated,
    TaskCompleted,
    TaskStarted,
)

from .common import jlist, ts

TABLES = ("tasks", "task_completions", "requests", "decisions", "approvals", "credentials", "credential_resources",
          "uses", "revocations")

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, chain_id TEXT, workflow_id TEXT, principal TEXT, purpose TEXT, agent_id TEXT,
    control_plane_id TEXT, started_at TEXT, event_id TEXT);
CREATE INDEX IF NOT EXISTS tasks_agent ON tasks(agent_id);
CREATE TABLE IF NOT EXISTS task_completions (
    event_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, outcome TEXT, completed_at TEXT);
CREATE INDEX IF NOT EXISTS task_completions_task ON task_completions(task_id);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY, event_id TEXT, chain_id TEXT, task_id TEXT, workflow_id TEXT, agent_id TEXT,
    workload_identity TEXT, attestation TEXT, kind TEXT, parent_credential_id TEXT, scopes TEXT, resources TEXT,
    actions TEXT, ttl_seconds INTEGER, tool TEXT, target TEXT, data_sensitivity TEXT, broker_id TEXT,
    target_trust_domain TEXT, requested_at TEXT);
CREATE TABLE IF NOT EXISTS decisions (
    event_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, decision TEXT, policy_id TEXT, policy_version TEXT,
    policy_digest TEXT, determining_policies TEXT, obligations TEXT, decided_at TEXT);
CREATE INDEX IF NOT EXISTS decisions_request ON decisions(request_id);
CREATE INDEX IF NOT EXISTS decisions_policy ON decisions(policy_id, policy_version);
CREATE TABLE IF NOT EXISTS approvals (
    event_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, approval_kind TEXT, approver_type TEXT, approver TEXT,
    reason TEXT, approved_at TEXT);
CREATE INDEX IF NOT EXISTS approvals_request ON approvals(request_id);
CREATE INDEX IF NOT EXISTS approvals_approver ON approvals(approver);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id TEXT PRIMARY KEY, event_id TEXT, chain_id TEXT, task_id TEXT, workflow_id TEXT, request_id TEXT,
    subject TEXT, kind TEXT, parent_credential_id TEXT, depth INTEGER, scopes TEXT, resources TEXT, actions TEXT,
    not_before TEXT, expires_at TEXT, issued_at TEXT, trust_domain TEXT, broker_id TEXT, token_fingerprint TEXT,
    actor_chain TEXT);
CREATE INDEX IF NOT EXISTS credentials_parent ON credentials(parent_credential_id);
CREATE INDEX IF NOT EXISTS credentials_subject ON credentials(subject);
CREATE INDEX IF NOT EXISTS credentials_workflow ON credentials(workflow_id);
CREATE INDEX IF NOT EXISTS credentials_request ON credentials(request_id);
CREATE INDEX IF NOT EXISTS credentials_broker ON credentials(broker_id);
CREATE TABLE IF NOT EXISTS credential_resources (
    credential_id TEXT NOT NULL, resource_id TEXT NOT NULL, PRIMARY KEY (credential_id, resource_id));
CREATE INDEX IF NOT EXISTS credential_resources_resource ON credential_resources(resource_id);
CREATE TABLE IF NOT EXISTS uses (
    event_id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, resource_id TEXT, action TEXT, outcome TEXT,
    system TEXT, trust_domain TEXT, used_at TEXT, chain_id TEXT);
CREATE INDEX IF NOT EXISTS uses_credential ON uses(credential_id);
CREATE INDEX IF NOT EXISTS uses_resource ON uses(resource_id);
CREATE TABLE IF NOT EXISTS revocations (
    event_id TEXT PRIMARY KEY, credential_id TEXT NOT NULL, reason TEXT, revoked_by TEXT, causation_id TEXT,
    revoked_at TEXT);
CREATE INDEX IF NOT EXISTS revocations_credential ON revocations(credential_id, revoked_at);
"""

def apply(conn: sqlite3.Connection, e: Event) -> None:
    at = ts(e.occurred_at)
    match e:
        case TaskStarted():
            conn.execute("INSERT OR IGNORE INTO tasks VALUES (?,?,?,?,?,?,?,?,?)",
                         (e.task_id, e.chain_id, e.workflow_id, e.principal, e.purpose, e.agent_id,
                          e.control_plane_id, at, e.event_id))
        case TaskCompleted():
            conn.execute("INSERT OR IGNORE INTO task_completions VALUES (?,?,?,?)",
                         (e.event_id, e.task_id or "", e.outcome.value, at))
        case CredentialRequested():
            c = e.context
            conn.execute("INSERT OR IGNORE INTO requests VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (e.request_id, e.event_id, e.chain_id, e.task_id, e.workflow_id, e.agent_id,
                          e.workload_identity, e.attestation, e.kind.value, e.parent_credential_id, jlist(e.scopes),
                          jlist(e.resources), jlist(e.actions), e.ttl_seconds, c.tool, c.target,
                          c.data_sensitivity.value, e.broker_id, e.target_trust_domain, at))
        case PolicyEvaluated():
            conn.execute("INSERT OR IGNORE INTO decisions VALUES (?,?,?,?,?,?,?,?,?)",
                         (e.event_id, e.request_id, e.decision.value, e.policy_id, e.policy_version,
                          e.policy_digest, jlist(e.determining_policies), jlist(e.obligations), at))
        case ApprovalRecorded():
            conn.execute("INSERT OR IGNORE INTO approvals VALUES (?,?,?,?,?,?,?)",
                         (e.event_id, e.request_id, e.approval_kind.value, e.approver_type.value, e.approver,
                          e.reason, at))
        case CredentialIssued():
            conn.execute("INSERT OR IGNORE INTO credentials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (e.credential_id, e.event_id, e.chain_id, e.task_id, e.workflow_id, e.request_id,
                          e.subject, e.kind.value, e.parent_credential_id, e.depth, jlist(e.scopes),
                          jlist(e.resources), jlist(e.actions), ts(e.not_before), ts(e.expires_at), at,
                          e.trust_domain, e.broker_id, e.token_fingerprint, jlist(e.actor_chain)))
            conn.executemany("INSERT OR IGNORE INTO credential_resources VALUES (?,?)",
                             [(e.credential_id, r) for r in e.resources])
        case CredentialUsed():
            conn.execute("INSERT OR IGNORE INTO uses VALUES (?,?,?,?,?,?,?,?,?)",
                         (e.event_id, e.credential_id, e.resource_id, e.action, e.outcome.value, e.system,
                          e.trust_domain, at, e.chain_id))
        case CredentialRevoked():
            conn.execute("INSERT OR IGNORE INTO revocations VALUES (?,?,?,?,?,?)",
                         (e.event_id, e.credential_id, e.reason.value, e.revoked_by, e.causation_id, at))
