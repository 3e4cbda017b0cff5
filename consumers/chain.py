"""The chain of delegation: from a credential, an identity or a use back to the
principal, with every missing link marked.

A link is complete when the credential was issued, its request is known, a policy
decided ALLOW with a published policy version and digest, the approval its kind
needs was recorded (MINT for a minted identity, ACT otherwise: invariant 6), its
parent (if any) is itself known, and the task that names the principal is known.
Anything else is a gap (invariant 4), reported with the credential or task it
belongs to, even when the token itself was valid.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .common import one, rows, ts, utc_now

# gap kinds, in the order a chain is read
MISSING_ISSUANCE = "missing_issuance"
MISSING_REQUEST = "missing_request"
MISSING_DECISION = "missing_decision"
DENIED_DECISION = "denied_decision"
UNKNOWN_POLICY = "unknown_policy"
POLICY_DIGEST_MISMATCH = "policy_digest_mismatch"
MISSING_ACT_APPROVAL = "missing_act_approval"
MISSING_MINT_APPROVAL = "missing_mint_approval"
MISSING_TASK = "missing_task"
GAP_KINDS = (MISSING_ISSUANCE, MISSING_REQUEST, MISSING_DECISION, DENIED_DECISION, UNKNOWN_POLICY,
             POLICY_DIGEST_MISMATCH, MISSING_ACT_APPROVAL, MISSING_MINT_APPROVAL, MISSING_TASK)

MAX_DEPTH = 64


@dataclass(frozen=True)
class Gap:
    kind: str
    ref: str  # the credential id (or task id, for missing_task) the gap belongs to
    detail: str


@dataclass
class Link:
    credential_id: str
    issued: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    uses: list[dict[str, Any]] = field(default_factory=list)
    revocation: dict[str, Any] | None = None
    live: bool = False
    gaps: list[Gap] = field(default_factory=list)


@dataclass
class Chain:
    query: str
    resolved_as: str  # credential | identity | use | unknown
    task: dict[str, Any] | None = None
    links: list[Link] = field(default_factory=list)  # root first, the queried credential last
    use: dict[str, Any] | None = None
    gaps: list[Gap] = field(default_factory=list)
    at: str | None = None

    @property
    def complete(self) -> bool:
        return not self.gaps

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["complete"] = self.complete
        d["principal"] = self.task["principal"] if self.task else None
        return d


def _credential(conn: sqlite3.Connection, credential_id: str) -> dict[str, Any] | None:
    return one(conn.execute("SELECT * FROM credentials WHERE credential_id = ?", (credential_id,)))


def _json_cols(d: dict[str, Any] | None, *cols: str) -> dict[str, Any] | None:
    if d is not None:
        for c in cols:
            if isinstance(d.get(c), str):
                d[c] = json.loads(d[c])
    return d


def _link(conn: sqlite3.Connection, credential_id: str, now: str) -> Link:
    link = Link(credential_id)
    cred = _json_cols(_credential(conn, credential_id), "scopes", "resources", "actions", "actor_chain")
    link.uses = rows(conn.execute(
        "SELECT event_id, resource_id, action, outcome, system, used_at FROM uses WHERE credential_id = ?"
        " ORDER BY used_at, event_id", (credential_id,)))
    link.revocation = one(conn.execute(
        "SELECT event_id, reason, revoked_by, causation_id, revoked_at FROM revocations WHERE credential_id = ?"
        " ORDER BY revoked_at, event_id LIMIT 1", (credential_id,)))
    if cred is None:
        link.gaps.append(Gap(MISSING_ISSUANCE, credential_id, f"no CredentialIssued for {credential_id}"))
        return link
    link.issued = cred
    link.live = (link.revocation is None and (cred["expires_at"] is None or cred["expires_at"] > now)
                 and (cred["not_before"] is None or cred["not_before"] <= now))
    request_id = cred["request_id"]
    link.request = _json_cols(one(conn.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,))),
                              "scopes", "resources", "actions") if request_id else None
    if link.request is None:
        link.gaps.append(Gap(MISSING_REQUEST, credential_id,
                             f"no CredentialRequested {request_id}" if request_id else "issued without a request id"))
    if request_id:
        link.decisions = rows(conn.execute(
            "SELECT d.event_id, d.decision, d.policy_id, d.policy_version, d.policy_digest, d.decided_at,"
            " p.digest AS published_digest, p.author AS policy_author, p.policy_id IS NOT NULL AS policy_known"
            " FROM decisions d LEFT JOIN policies p ON p.policy_id = d.policy_id AND p.version = d.policy_version"
            " WHERE d.request_id = ? ORDER BY d.decided_at, d.event_id", (request_id,)))
        link.approvals = rows(conn.execute(
            "SELECT event_id, approval_kind, approver_type, approver, reason, approved_at FROM approvals"
            " WHERE request_id = ? ORDER BY approved_at, event_id", (request_id,)))
    allow = [d for d in link.decisions if d["decision"] == "ALLOW"]
    if not link.decisions:
        link.gaps.append(Gap(MISSING_DECISION, credential_id, "no PolicyEvaluated for its request"))
    elif not allow:
        link.gaps.append(Gap(DENIED_DECISION, credential_id, "issued although policy decided DENY"))
    for d in allow:
        if not d["policy_known"]:
            link.gaps.append(Gap(UNKNOWN_POLICY, credential_id,
                                 f"policy {d['policy_id']} v{d['policy_version']} was never published"))
        elif d["published_digest"] != d["policy_digest"]:
            link.gaps.append(Gap(POLICY_DIGEST_MISMATCH, credential_id,
                                 f"decision digest {d['policy_digest']} differs from published {d['published_digest']}"))
    needed = "MINT" if cred["kind"] == "MINT" else "ACT"
    if not any(a["approval_kind"] == needed for a in link.approvals):
        kind = MISSING_MINT_APPROVAL if needed == "MINT" else MISSING_ACT_APPROVAL
        link.gaps.append(Gap(kind, credential_id, f"no {needed} approval recorded for its request"))
    return link


def _resolve(conn: sqlite3.Connection, ident: str) -> tuple[str, list[str], dict[str, Any] | None]:
    """What ``ident`` names: (kind, credential ids to chain, the use if it is one)."""
    if _credential(conn, ident) is not None:
        return "credential", [ident], None
    use = one(conn.execute("SELECT * FROM uses WHERE event_id = ?", (ident,)))
    if use is not None:
        return "use", [use["credential_id"]], use
    subjects = [r[0] for r in conn.execute(
        "SELECT credential_id FROM credentials WHERE subject = ? ORDER BY issued_at, credential_id", (ident,))]
    if subjects:
        return "identity", subjects, None
    referenced = conn.execute(
        "SELECT 1 FROM uses WHERE credential_id = ? UNION ALL SELECT 1 FROM revocations WHERE credential_id = ?"
        " UNION ALL SELECT 1 FROM credentials WHERE parent_credential_id = ? LIMIT 1", (ident, ident, ident)).fetchone()
    return ("credential" if referenced else "unknown"), [ident], None


def chain_of(conn: sqlite3.Connection, credential_id: str, *, now: datetime | None = None,
             query: str | None = None, resolved_as: str = "credential") -> Chain:
    now_s = ts(now or utc_now())
    chain = Chain(query or credential_id, resolved_as)
    seen: set[str] = set()
    cur: str | None = credential_id
    while cur is not None and cur not in seen and len(seen) < MAX_DEPTH:
        seen.add(cur)
        link = _link(conn, cur, now_s)
        chain.links.insert(0, link)
        cur = link.issued["parent_credential_id"] if link.issued else None
    tasks_checked: set[str] = set()
    for link in chain.links:
        task_id = link.issued["task_id"] if link.issued else None
        if link.issued is None or task_id in tasks_checked:
            continue
        tasks_checked.add(task_id or "")
        task = one(conn.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,))) if task_id else None
        if task is None:
            link.gaps.append(Gap(MISSING_TASK, task_id or link.credential_id,
                                 f"no TaskStarted for task {task_id}: the principal is unknown" if task_id
                                 else "issued outside any task: the principal is unknown"))
        elif chain.task is None:
            chain.task = task
    chain.gaps = [g for link in chain.links for g in link.gaps]
    return chain


def chains(conn: sqlite3.Connection, ident: str, *, now: datetime | None = None) -> list[Chain]:
    """Every chain ``ident`` names (one, except for an identity with several credentials)."""
    kind, credential_ids, use = _resolve(conn, ident)
    out = []
    for cid in credential_ids:
        c = chain_of(conn, cid, now=now, query=ident, resolved_as=kind)
        c.use = use
        c.at = ts(now) if now else None
        out.append(c)
    return out
