"""Property tests: any arrival order, any tick times.

1. No revocation without a reason: every revoked credential expired (by the host
   clock), belongs to a completed task, or descends from a revoked credential; none is
   revoked twice; and every expired credential is revoked.
2. A valid, complete chain yields no finding, whatever order its events arrive in
   (within the grace period).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.events import CredentialRevoked, Event, GovernanceFinding, RevocationReason
from processors.engine import Processor
from processors.scenario import Scenario

S = Scenario()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[Event], dict[str, tuple[str | None, float]], float | None]:
    """A delegation tree in one task: credentials with attenuated scopes and lifetimes."""
    n = draw(st.integers(1, 6))
    creds: dict[str, tuple[str | None, float]] = {}  # id -> (parent, expires at)
    events: list[Event] = [S.task("c", "t")]
    for i in range(n):
        cid = f"K{i}"
        parent = draw(st.sampled_from([None, *creds])) if creds else None
        depth = 0
        p = parent
        while p is not None:
            depth += 1
            p = creds[p][0]
        if depth > 3:
            parent, depth = None, 0
        at = 1 + i
        limit = creds[parent][1] - at if parent else 300
        if limit < 2:
            parent, depth, limit = None, 0, 300
        ttl = draw(st.integers(1, int(limit)))
        creds[cid] = (parent, at + ttl)
        events += S.grant("c", "t", cid, at=at, ttl=ttl, parent=parent, depth=depth)
        if draw(st.booleans()):
            events.append(S.use("c", "t", cid, at=at + min(ttl, 1) / 2))
    completed = draw(st.one_of(st.none(), st.integers(1, 400)))
    if completed is not None:
        events.append(S.complete("c", "t", at=completed))
    return events, creds, completed


@SETTINGS
@given(tree=trees(), data=st.data())
def test_property__no_random_order_revokes_without_cause(tree, data) -> None:  # type: ignore[no-untyped-def]
    events, creds, completed = tree
    order = data.draw(st.permutations(events))
    ticks = data.draw(st.lists(st.integers(0, 500), max_size=5))
    stream: list[Event | int] = list(order)
    for t in ticks:
        stream.insert(data.draw(st.integers(0, len(stream))), t)
    p = Processor()
    clock = 0
    seen_completion = False
    revoked: dict[str, CredentialRevoked] = {}
    for item in S.registry() + stream:
        if isinstance(item, int):
            clock = max(clock, item)
            out = p.tick(S.t(item))
        else:
            seen_completion |= item.type == "TaskCompleted"
            out = p.step(item)
        for e in out:
            if not isinstance(e, CredentialRevoked):
                continue
            assert e.credential_id not in revoked, "revoked twice"
            revoked[e.credential_id] = e
            parent, expires = creds[e.credential_id]
            if e.reason is RevocationReason.EXPIRED:
                assert expires <= clock
            elif e.reason is RevocationReason.TASK_COMPLETED:
                assert seen_completion
            else:
                assert e.reason is RevocationReason.PARENT_REVOKED and parent in revoked
    for e in p.tick(S.t(clock)):  # a host ticks after every batch it reads
        if isinstance(e, CredentialRevoked):
            assert e.credential_id not in revoked, "revoked twice"
            revoked[e.credential_id] = e
    for cid, (_, expires) in creds.items():
        if expires <= clock:
            assert cid in revoked, f"{cid} expired at {expires} but is live at {clock}"


@SETTINGS
@given(tree=trees(), data=st.data())
def test_property__valid_complete_chain_yields_no_finding(tree, data) -> None:  # type: ignore[no-untyped-def]
    events, _, _ = tree
    events = [e for e in events if e.type != "TaskCompleted"] + [S.complete("c", "t", at=400)]  # after every use
    order = data.draw(st.permutations(events))
    p = Processor(grace=timedelta(seconds=5))
    out: list[Event] = []
    for e in S.registry() + list(order):
        out += p.step(e)
    out += p.tick(S.t(10_000))
    assert [f.summary for f in out if isinstance(f, GovernanceFinding)] == []
