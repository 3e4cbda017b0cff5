"""The processor: one pure step function over events, one over the host's clock.

    step(state, event) -> (state, new events)     what an event implies, now
    tick(state, now)   -> (state, new events)     what the passage of time implies

No I/O, no awaits, no clock reads: the host decodes and verifies records, calls
these, and writes what they return. The new events are already applied to the state
(a revocation marks its credential), so when the host later reads them back from the
log they are no-ops. Replaying the same log gives the same state and the same derived
events with the same ids (invariant 8).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ledger.events import (
    ApprovalRecorded,
    BrokerRegistered,
    ControlPlaneRegistered,
    CredentialIssued,
    CredentialRequested,
    CredentialRevoked,
    CredentialUsed,
    Event,
    IssuerKeyRegistered,
    PolicyEvaluated,
    PolicyPublished,
    ResourceRegistered,
    TaskCompleted,
    TaskStarted,
    WorkflowRegistered,
)

from . import findings, revocation
from .state import Credential, State

DEFAULT_GRACE = timedelta(seconds=5)


@dataclass
class Processor:
    """Revocation enforcement and governance findings over one state.

    ``grace`` is how long a rule waits for a late event (an approval recorded a moment
    after the issuance, a workflow registered late) before it reports the gap.
    """

    grace: timedelta = DEFAULT_GRACE
    state: State = field(default_factory=State)

    # ------------------------------------------------------------ step

    def step(self, event: Event) -> list[Event]:
        s = self.state
        match event:
            case CredentialIssued():
                return self._issued(event)
            case CredentialUsed():
                f = findings.check_use(s, event, final=False, waited=None)
                if f.gaps:
                    s.schedule_check(event.occurred_at + self.grace, "use", event)
                return list(f.out)
            case CredentialRevoked():
                return list(revocation.on_revoked(s, event))
            case TaskCompleted():
                return list(revocation.on_task_completed(s, event))
            case TaskStarted():
                if event.task_id:
                    s.tasks.setdefault(event.task_id, event)
            case CredentialRequested():
                s.requests.setdefault(event.request_id, event)
            case PolicyEvaluated():
                s.decisions[event.request_id] = event
            case ApprovalRecorded():
                return list(findings.on_approval(s, event))
            case WorkflowRegistered():
                s.workflows[event.workflow_id or ""] = event
            case ControlPlaneRegistered():
                s.control_planes[event.control_plane_id] = event
            case ResourceRegistered():
                s.resources[event.resource_id] = event
            case PolicyPublished():
                s.policies[(event.policy_id, event.version)] = event
            case BrokerRegistered():
                s.brokers[event.broker_id] = event
            case IssuerKeyRegistered():
                s.issuers.add(event.issuer_id)
        return []

    def _issued(self, event: CredentialIssued) -> list[Event]:
        s = self.state
        existing = s.credentials.get(event.credential_id)
        if existing is not None:
            return []  # the first issuance of an id wins; a re-read is a no-op
        cred = Credential(
            credential_id=event.credential_id, chain_id=event.chain_id or "", task_id=event.task_id,
            workflow_id=event.workflow_id, parent_id=event.parent_credential_id, depth=event.depth, kind=event.kind,
            scopes=frozenset(event.scopes), resources=frozenset(event.resources), actions=frozenset(event.actions),
            issued_at=event.occurred_at, expires_at=event.expires_at, issued_event_id=event.event_id,
            request_id=event.request_id, fingerprint=event.token_fingerprint, trust_domain=event.trust_domain,
            broker_id=event.broker_id, subject=event.subject,
        )
        s.credentials[cred.credential_id] = cred
        if cred.task_id:
            s.by_task.setdefault(cred.task_id, []).append(cred.credential_id)
        if cred.request_id:
            s.by_request.setdefault(cred.request_id, cred.credential_id)
        if cred.parent_id is not None:
            parent = s.credentials.get(cred.parent_id)
            if parent is not None:
                parent.children.append(cred.credential_id)
            else:
                s.orphans.setdefault(cred.parent_id, []).append(cred.credential_id)
        cred.children.extend(s.orphans.pop(cred.credential_id, ()))
        f = findings.check_issuance(s, event, cred, final=False, waited=None)
        if f.gaps:
            s.schedule_check(event.occurred_at + self.grace, "issued", event)
        out: list[Event] = list(f.out)
        out += revocation.on_issued(s, cred)
        if cred.revoked and cred.children:  # a late parent, born revoked, takes its early children along
            out += revocation.cascade(s, cred)
        return out

    # ------------------------------------------------------------ tick

    def tick(self, now: datetime) -> list[Event]:
        """Fire what is due at ``now`` (the host's clock): expiries, oldest first, then
        grace-period checks whose deadline has passed."""
        out: list[Event] = list(revocation.expire(self.state, now))
        s = self.state
        limit = now.timestamp()
        waited = self.grace.total_seconds()
        while s.deadlines and s.deadlines[0].due <= limit:
            d = heapq.heappop(s.deadlines)
            event = s.pending.pop(d.event_id, None)
            if isinstance(event, CredentialIssued):
                cred = s.credentials.get(event.credential_id)
                if cred is not None and cred.issued_event_id == event.event_id:
                    out += findings.check_issuance(s, event, cred, final=True, waited=waited).out
            elif isinstance(event, CredentialUsed):
                out += findings.check_use(s, event, final=True, waited=waited).out
        return out

    def next_due(self) -> datetime | None:
        """When ``tick`` next has something to do, so a host can sleep until then."""
        s = self.state
        times = [t for t in (s.expiries[0][0] if s.expiries else None, s.deadlines[0].due if s.deadlines else None) if t is not None]
        return datetime.fromtimestamp(min(times), timezone.utc) if times else None

    def reject(self, *, topic: str, partition: int, offset: int, reason: str, error: str, at: datetime,
               chain_id: str | None = None) -> list[Event]:
        """A record the host could not decode or verify: report it (it goes to the dead-letter topic)."""
        return list(findings.unverifiable(self.state, topic=topic, partition=partition, offset=offset, reason=reason,
                                          error=error, at=at, chain_id=chain_id))


def step(state: State, event: Event, grace: timedelta = DEFAULT_GRACE) -> tuple[State, list[Event]]:
    """The functional face: ``(state, event) -> (state, new events)``."""
    p = Processor(grace, state)
    return p.state, p.step(event)


def tick(state: State, now: datetime, grace: timedelta = DEFAULT_GRACE) -> tuple[State, list[Event]]:
    p = Processor(grace, state)
    return p.state, p.tick(now)
