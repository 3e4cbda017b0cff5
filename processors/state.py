"""The processors' state: everything the rules remember, derived only from the log.

The state is a fold over the registry and lifecycle topics. It is updated in place
for speed (100 000 live credentials), but only by the rules, and only from events:
the same events in the same order give the same state, so a host can always rebuild
it by re-reading the log (durable state is the truth; timers are derived from it).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime

from ledger.events import (
    ApprovalRecorded,
    BrokerRegistered,
    ControlPlaneRegistered,
    CredentialKind,
    CredentialRequested,
    PolicyEvaluated,
    PolicyPublished,
    ResourceRegistered,
    RevocationReason,
    TaskCompleted,
    TaskStarted,
    WorkflowRegistered,
)


@dataclass
class Credential:
    credential_id: str
    chain_id: str
    task_id: str | None
    workflow_id: str | None
    parent_id: str | None
    depth: int
    kind: CredentialKind
    scopes: frozenset[str]
    resources: frozenset[str]
    actions: frozenset[str]
    issued_at: datetime
    expires_at: datetime | None
    issued_event_id: str
    request_id: str | None
    fingerprint: str
    trust_domain: str | None
    broker_id: str | None
    subject: str
    children: list[str] = field(default_factory=list)
    revoked_at: datetime | None = None
    revocation_id: str | None = None
    revocation_reason: RevocationReason | None = None

    @property
    def revoked(self) -> bool:
        return self.revocation_id is not None


@dataclass(order=True)
class Deadline:
    """A grace-period check: at ``due`` (epoch seconds), look again at ``event_id``."""

    due: float
    seq: int
    check: str = field(compare=False)
    event_id: str = field(compare=False)


@dataclass
class State:
    # registry
    control_planes: dict[str, ControlPlaneRegistered] = field(default_factory=dict)
    workflows: dict[str, WorkflowRegistered] = field(default_factory=dict)
    resources: dict[str, ResourceRegistered] = field(default_factory=dict)
    policies: dict[tuple[str, str], PolicyPublished] = field(default_factory=dict)
    brokers: dict[str, BrokerRegistered] = field(default_factory=dict)
    issuers: set[str] = field(default_factory=set)
    # lifecycle
    tasks: dict[str, TaskStarted] = field(default_factory=dict)
    completed: dict[str, TaskCompleted] = field(default_factory=dict)
    requests: dict[str, CredentialRequested] = field(default_factory=dict)
    decisions: dict[str, PolicyEvaluated] = field(default_factory=dict)
    approvals: dict[str, list[ApprovalRecorded]] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)
    by_task: dict[str, list[str]] = field(default_factory=dict)
    by_request: dict[str, str] = field(default_factory=dict)
    orphans: dict[str, list[str]] = field(default_factory=dict)  # unknown parent id -> children
    early_revocations: dict[str, tuple[str, datetime, RevocationReason]] = field(default_factory=dict)
    fingerprint_sites: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)  # fp -> (system, td) -> use id
    pending: dict[str, object] = field(default_factory=dict)  # event id -> event awaiting a deadline
    # timers, derived from the above
    expiries: list[tuple[float, str]] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    seq: int = 0
    # de-duplication
    reported: set[str] = field(default_factory=set)
    in_log_revoked: set[str] = field(default_factory=set)  # recovery: revoked later in the log, not yet read

    def schedule_expiry(self, at: datetime, credential_id: str) -> None:
        heapq.heappush(self.expiries, (at.timestamp(), credential_id))

    def schedule_check(self, due: datetime, check: str, event: object) -> None:
        self.seq += 1
        event_id = event.event_id  # type: ignore[attr-defined]
        self.pending[event_id] = event
        heapq.heappush(self.deadlines, Deadline(due.timestamp(), self.seq, check, event_id))

    @property
    def live_credentials(self) -> int:
        return sum(1 for c in self.credentials.values() if not c.revoked)
