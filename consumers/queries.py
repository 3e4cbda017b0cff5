"""Queries over the views: timelines, blast radius, findings, credentials, overview.

Every function takes a ``sqlite3.Connection`` (the live views, or a scratch database
rebuilt from the log for ``--at``) and returns plain data, so the CLI, the HTTP API
and the dashboard all print the same answer.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from .common import rows, ts, utc_now
from .projection import positions


def timeline(conn: sqlite3.Connection, *, task: str | None = None, agent: str | None = None,
             credential: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
    """Events of a task, an agent or a credential in time order, with their positions."""
    if sum(x is not None for x in (task, agent, credential)) != 1:
        raise ValueError("timeline needs exactly one of task, agent, credential")
    cols = "topic, partition, offset, occurred_at, type, event_id, chain_id, task_id, causation_id, issuer_id, summary"
    if task is not None:
        where, params = "task_id = ?", (task,)
    elif agent is not None:
        where, params = "agent_id = ? OR task_id IN (SELECT task_id FROM tasks WHERE agent_id = ?)", (agent, agent)
    else:
        where = ("credential_id = ? OR request_id IN (SELECT request_id FROM credentials WHERE credential_id = ?)"
                 " OR event_id IN (SELECT event_id FROM findings WHERE credential_id = ?)")
        params = (credential, credential, credential)
    return rows(conn.execute(
        f"SELECT {cols} FROM events WHERE {where} ORDER BY occurred_at, topic, partition, offset LIMIT ?",
        (*params, limit)))


def _live(cred: dict[str, Any], revoked_at: str | None, now: str) -> bool:
    return (revoked_at is None and (cred["expires_at"] is None or cred["expires_at"] > now)
            and (cred["not_before"] is None or cred["not_before"] <= now))


def blast_radius(conn: sqlite3.Connection, credential_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Every descendant credential and identity of ``credential_id``, every resource each
    touched with first and last use, and which are still live."""
    now_s = ts(now or utc_now())
    creds = rows(conn.execute(
        "WITH RECURSIVE tree(credential_id, generation) AS ("
        "  SELECT ?, 0 UNION"
        "  SELECT c.credential_id, tree.generation + 1 FROM credentials c JOIN tree"
        "    ON c.parent_credential_id = tree.credential_id WHERE tree.generation < 64)"
        " SELECT tree.credential_id, tree.generation, c.parent_credential_id, c.kind, c.subject, c.depth,"
        "  c.issued_at, c.not_before, c.expires_at, c.task_id, c.workflow_id, c.event_id IS NOT NULL AS issued,"
        "  (SELECT MIN(revoked_at) FROM revocations v WHERE v.credential_id = tree.credential_id"
        "     AND v.revoked_at <= ?) AS revoked_at,"
        "  (SELECT reason FROM revocations v WHERE v.credential_id = tree.credential_id AND v.revoked_at <= ?"
        "     ORDER BY revoked_at, event_id LIMIT 1) AS revoked_reason"
        " FROM tree LEFT JOIN credentials c ON c.credential_id = tree.credential_id"
        " ORDER BY tree.generation, c.issued_at, tree.credential_id", (credential_id, now_s, now_s)))
    ids = [c["credential_id"] for c in creds]
    for c in creds:
        c["issued"] = bool(c["issued"])
        c["live"] = c["issued"] and _live(c, c["revoked_at"], now_s)
    touched: list[dict[str, Any]] = []
    if ids:
        marks = ",".join("?" * len(ids))
        touched = rows(conn.execute(
            f"SELECT credential_id, resource_id, MIN(used_at) AS first_used, MAX(used_at) AS last_used,"
            f" SUM(outcome = 'ACCEPTED') AS accepted, SUM(outcome = 'REJECTED') AS rejected, COUNT(*) AS uses"
            f" FROM uses WHERE credential_id IN ({marks}) AND used_at <= ?"
            f" GROUP BY credential_id, resource_id ORDER BY resource_id, first_used", (*ids, now_s)))
    resources: dict[str, dict[str, Any]] = {}
    for t in touched:
        r = resources.setdefault(t["resource_id"], {"resource_id": t["resource_id"], "first_used": t["first_used"],
                                                    "last_used": t["last_used"], "credentials": [], "uses": 0})
        r["first_used"] = min(r["first_used"], t["first_used"])
        r["last_used"] = max(r["last_used"], t["last_used"])
        r["credentials"].append(t["credential_id"])
        r["uses"] += t["uses"]
    owners = {r: o for r, o in conn.execute(
        f"SELECT resource_id, owner FROM resources WHERE resource_id IN ({','.join('?' * len(resources))})",
        tuple(resources))} if resources else {}
    for r in resources.values():
        r["owner"] = owners.get(r["resource_id"])
    identities: dict[str, dict[str, Any]] = {}
    for c in creds:
        if c["subject"] is None:
            continue
        i = identities.setdefault(c["subject"], {"identity": c["subject"], "minted_by": None, "credentials": [],
                                                 "live": False})
        i["credentials"].append(c["credential_id"])
        i["live"] = i["live"] or c["live"]
        if c["kind"] == "MINT":
            i["minted_by"] = c["parent_credential_id"]
    return {
        "credential_id": credential_id,
        "at": now_s,
        "known": bool(creds and creds[0]["issued"]),
        "credentials": creds,
        "identities": list(identities.values()),
        "resources": list(resources.values()),
        "touches": touched,
        "live": [c["credential_id"] for c in creds if c["live"]],
    }


def findings(conn: sqlite3.Connection, *, owner: str | None = None, kind: str | None = None,
             severity: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    where, params = ["1"], []
    if owner:
        where.append("f.event_id IN (SELECT event_id FROM finding_parties WHERE party_id = ?)")
        params.append(owner)
    if kind:
        where.append("f.kind = ?")
        params.append(kind)
    if severity:
        where.append("f.severity = ?")
        params.append(severity.upper())
    out = rows(conn.execute(
        f"SELECT f.* FROM findings f WHERE {' AND '.join(where)}"
        " ORDER BY CASE f.severity WHEN 'CRITICAL' THEN 0 WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 ELSE 3 END,"
        " f.found_at DESC, f.event_id LIMIT ?", (*params, limit)))
    if not out:
        return out
    ids = [f["event_id"] for f in out]
    marks = ",".join("?" * len(ids))
    extra: dict[str, dict[str, list[Any]]] = {i: {"accountable": [], "standards": [], "evidence_event_ids": []} for i in ids}
    for eid, role, party in conn.execute(
            f"SELECT event_id, role, party_id FROM finding_parties WHERE event_id IN ({marks}) ORDER BY 1, 2, 3", ids):
        extra[eid]["accountable"].append({"role": role, "party_id": party})
    for eid, fw, ref, title in conn.execute(
            f"SELECT event_id, framework, ref, title FROM finding_standards WHERE event_id IN ({marks})"
            " ORDER BY 1, 2, 3", ids):
        extra[eid]["standards"].append({"framework": fw, "ref": ref, "title": title})
    for eid, ev in conn.execute(
            f"SELECT event_id, evidence_event_id FROM finding_evidence WHERE event_id IN ({marks}) ORDER BY 1, 2", ids):
        extra[eid]["evidence_event_ids"].append(ev)
    for f in out:
        f.update(extra[f["event_id"]])
    return out


def credentials(conn: sqlite3.Connection, *, now: datetime | None = None, live_only: bool = False,
                limit: int = 200) -> list[dict[str, Any]]:
    now_s = ts(now or utc_now())
    out = rows(conn.execute(
        "SELECT c.credential_id, c.kind, c.subject, c.parent_credential_id, c.depth, c.workflow_id, c.task_id,"
        " c.issued_at, c.expires_at, c.not_before,"
        " (SELECT MIN(revoked_at) FROM revocations v WHERE v.credential_id = c.credential_id AND v.revoked_at <= ?)"
        "   AS revoked_at"
        " FROM credentials c ORDER BY c.issued_at DESC, c.credential_id LIMIT ?", (now_s, limit * (20 if live_only else 1))))
    for c in out:
        c["live"] = _live(c, c["revoked_at"], now_s)
    return [c for c in out if c["live"]][:limit] if live_only else out


def overview(conn: sqlite3.Connection, *, now: datetime | None = None) -> dict[str, Any]:
    """The dashboard's headline figures."""
    now_s = ts(now or utc_now())
    issued, live, expired = conn.execute(
        "SELECT COUNT(*),"
        " COALESCE(SUM(NOT EXISTS (SELECT 1 FROM revocations v WHERE v.credential_id = c.credential_id)"
        "   AND (c.expires_at IS NULL OR c.expires_at > ?) AND (c.not_before IS NULL OR c.not_before <= ?)), 0),"
        " COALESCE(SUM(c.expires_at IS NOT NULL AND c.expires_at <= ?), 0)"
        " FROM credentials c", (now_s, now_s, now_s)).fetchone()
    revoked = dict(conn.execute(
        "SELECT reason, COUNT(DISTINCT credential_id) FROM revocations GROUP BY reason ORDER BY reason").fetchall())
    uses = dict(conn.execute("SELECT outcome, COUNT(*) FROM uses GROUP BY outcome").fetchall())
    sev = dict(conn.execute("SELECT severity, COUNT(*) FROM findings GROUP BY severity").fetchall())
    events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return {
        "at": now_s,
        "events": events,
        "credentials_issued": issued,
        "live_now": live,
        "expired": expired,
        "revoked_by_reason": revoked,
        "uses_accepted": uses.get("ACCEPTED", 0),
        "uses_rejected": uses.get("REJECTED", 0),
        "findings_by_severity": sev,
        "tasks": conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0],
        "positions": positions(conn),
    }
