"""Revocation rules, table-driven: TTL, task completion, cascade, one per credential."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.events import CredentialRevoked, Event, RevocationReason
from processors.engine import Processor, step, tick
from processors.ids import derived_id
from processors.scenario import Scenario
from processors.state import State

S = Scenario()
R = RevocationReason


def run(events: list[Event | float], now: float | None = None) -> list[Event]:
    """Step through events; a number in the list is a tick of the host clock at that second."""
    p = Processor()
    out: list[Event] = []
    for e in events:
        out += p.tick(S.t(e)) if isinstance(e, (int, float)) else p.step(e)
    if now is not None:
        out += p.tick(S.t(now))
    return out


def revocations(out: list[Event]) -> list[tuple[str, RevocationReason]]:
    return [(e.credential_id, e.reason) for e in out if isinstance(e, CredentialRevoked)]


BASE = S.registry() + [S.task("c", "t")]
TREE = BASE + S.grant("c", "t", "A", ttl=60) + S.grant("c", "t", "B", parent="A", depth=1, at=2, ttl=30) \
    + S.grant("c", "t", "C", parent="B", depth=2, at=3, ttl=20)

CASES = [
    ("nothing is due before expiry", TREE, 10, []),
    ("expiry revokes oldest first", TREE, 100, [("C", R.EXPIRED), ("B", R.EXPIRED), ("A", R.EXPIRED)]),
    ("expiry of a parent cascades", BASE + S.grant("c", "t", "A", ttl=5) + S.grant("c", "t", "B", parent="A", depth=1, at=2, ttl=30),
     7, [("A", R.EXPIRED), ("B", R.PARENT_REVOKED)]),
    ("task completion revokes the whole tree", TREE + [S.complete("c", "t", at=5)], None,
     [("A", R.TASK_COMPLETED), ("B", R.PARENT_REVOKED), ("C", R.PARENT_REVOKED)]),
    ("completion of another task revokes nothing", TREE + [S.complete("c2", "t2", at=5)], None, []),
    ("expiry then completion: one revocation each", TREE + [100, S.complete("c", "t", at=200)], None,
     [("C", R.EXPIRED), ("B", R.EXPIRED), ("A", R.EXPIRED)]),
    ("issued after completion is revoked at once", BASE + [S.complete("c", "t", at=1)] + S.grant("c", "t", "A", at=2), None,
     [("A", R.TASK_COMPLETED)]),
    ("child issued under a revoked parent is revoked at once",
     BASE + S.grant("c", "t", "A", ttl=5) + S.grant("c", "t", "B", parent="A", depth=1, at=2, ttl=3)[:-1], 6,
     [("A", R.EXPIRED)]),
    ("child seen before its parent joins the cascade",
     BASE + S.grant("c", "t", "B", parent="A", depth=1, at=2, ttl=30) + S.grant("c", "t", "A", ttl=60)
     + [S.complete("c", "t", at=5)], None, [("A", R.TASK_COMPLETED), ("B", R.PARENT_REVOKED)]),
    ("no expiry, no revocation", BASE + S.grant("c", "t", "A", ttl=None), 10**6, []),
]


@pytest.mark.parametrize("name, events, now, expected", CASES, ids=[c[0] for c in CASES])
def test_revocation__table(name: str, events: list[Event], now: float | None, expected: list) -> None:
    assert revocations(run(events, now)) == expected


def test_revocation__manual_revocation_cascades_with_its_cause() -> None:
    manual = CredentialRevoked(chain_id="c", task_id="t", credential_id="A", reason=R.MANUAL, occurred_at=S.t(4))
    out = run(TREE + [manual])
    assert revocations(out) == [("B", R.PARENT_REVOKED), ("C", R.PARENT_REVOKED)]
    b, c = out
    assert b.causation_id == manual.event_id and c.causation_id == b.event_id


def test_revocation__reading_own_output_back_is_a_no_op() -> None:
    p = Processor()
    for e in TREE:
        p.step(e)
    first = p.step(S.complete("c", "t", at=5))
    again = [o for e in first for o in p.step(e)]
    assert len(first) == 3 and again == []


def test_revocation__ids_and_times_are_deterministic() -> None:
    events = TREE + [S.complete("c", "t", at=5)]
    one, two = run(events), run(events)
    assert [e.event_id for e in one] == [e.event_id for e in two]
    assert one[0].event_id == derived_id("revoke.task_completed", events[-1].event_id, "A")
    assert one[0].occurred_at == S.t(5)


def test_revocation__expiry_time_is_the_expiry_not_the_tick() -> None:
    out = run(BASE + S.grant("c", "t", "A", ttl=5), now=1000)
    assert out[0].occurred_at == S.t(6)


def test_processor__functional_step_and_tick() -> None:
    state = State()
    for e in BASE + S.grant("c", "t", "A", ttl=5):
        state, _ = step(state, e)
    state, out = tick(state, S.t(100))
    assert revocations(out) == [("A", R.EXPIRED)]
    assert state.credentials["A"].revoked


def test_processor__next_due_is_the_earliest_expiry() -> None:
    p = Processor(grace=timedelta(seconds=5))
    for e in BASE + S.grant("c", "t", "A", ttl=50):
        p.step(e)
    assert p.next_due() == S.t(51)
