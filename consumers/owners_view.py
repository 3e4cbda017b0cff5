"""Owner view: accountability per party, in each role the design names.

| role                | a credential counts for the party when ...                  |
|---------------------|-------------------------------------------------------------|
| control_plane_owner | its workflow belongs to a control plane the party owns      |
| workflow_owner      | its workflow is owned by the party                          |
| resource_owner      | it names a resource the party owns (uses: at that resource) |
| broker_operator     | it was minted by a broker the party operates                |
| product_owner       | it was minted by a broker the party is product owner of     |
| policy_author       | a policy version the party authored decided its request     |
| human_approver      | the party approved its request as a human                   |

The figures are aggregated from the custody and registry facts when asked, not
counted up as events arrive: the registry and the lifecycle are separate topics with
no order between them, and a count attributed at write time would depend on which was
read first; derived here, the view is one function of the log (invariant 8) and
"live now" is always now (or the ``--at`` time).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from .common import ts, utc_now

# role -> (entity kind, SQL for the party's entity ids, SQL for credentials of entities E, uses of E or None)
ROLES: dict[str, tuple[str, str, str, str | None]] = {
    "control_plane_owner": (
        "control_plane", "SELECT control_plane_id FROM control_planes WHERE owner = ?",
        "SELECT credential_id FROM credentials WHERE workflow_id IN"
        " (SELECT workflow_id FROM workflows WHERE control_plane_id IN ({E}))", None),
    "workflow_owner": (
        "workflow", "SELECT workflow_id FROM workflows WHERE owner = ?",
        "SELECT credential_id FROM credentials WHERE workflow_id IN ({E})", None),
    "resource_owner": (
        "resource", "SELECT resource_id FROM resources WHERE owner = ?",
        "SELECT credential_id FROM credential_resources WHERE resource_id IN ({E})",
        "SELECT * FROM uses WHERE resource_id IN ({E})"),
    "broker_operator": (
        "broker", "SELECT broker_id FROM brokers WHERE operator = ?",
        "SELECT credential_id FROM credentials WHERE broker_id IN ({E})", None),
    "product_owner": (
        "broker", "SELECT broker_id FROM brokers WHERE product_owner = ?",
        "SELECT credential_id FROM credentials WHERE broker_id IN ({E})", None),
    "policy_author": (
        "policy", "SELECT policy_id || '@' || version FROM policies WHERE author = ?",
        "SELECT credential_id FROM credentials WHERE request_id IN (SELECT request_id FROM decisions"
        " WHERE policy_id || '@' || policy_version IN ({E}))", None),
    "human_approver": (
        "approver", "SELECT DISTINCT approver FROM approvals WHERE approver_type = 'HUMAN' AND approver = ?",
        "SELECT credential_id FROM credentials WHERE request_id IN (SELECT request_id FROM approvals"
        " WHERE approver_type = 'HUMAN' AND approver IN ({E}))", None),
}
ENTITY_ROLE = {"control_plane": "control_plane_owner", "workflow": "workflow_owner", "resource": "resource_owner",
               "broker": "broker_operator"}
ENTITY_TABLE = {"control_plane": ("control_planes", "control_plane_id", "owner"),
                "workflow": ("workflows", "workflow_id", "owner"),
                "resource": ("resources", "resource_id", "owner"),
                "broker": ("brokers", "broker_id", "operator")}

INCOMPLETE = """
    c.request_id IS NULL
    OR NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = c.request_id)
    OR NOT EXISTS (SELECT 1 FROM decisions d WHERE d.request_id = c.request_id AND d.decision = 'ALLOW')
    OR NOT EXISTS (SELECT 1 FROM approvals a WHERE a.request_id = c.request_id
                   AND a.approval_kind = CASE c.kind WHEN 'MINT' THEN 'MINT' ELSE 'ACT' END)
    OR (c.parent_credential_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM credentials p WHERE p.credential_id = c.parent_credential_id))
    OR c.task_id IS NULL OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = c.task_id)
"""


def party_view(conn: sqlite3.Connection, party: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``party`` is accountable for, role by role."""
    now_s = ts(now or utc_now())
    out: dict[str, Any] = {"party": party, "at": now_s, "roles": {}}
    for role, (kind, entities_sql, creds_tpl, uses_tpl) in ROLES.items():
        entities = [r[0] for r in conn.execute(entities_sql, (party,))]
        if not entities:
            continue
        creds_sql = creds_tpl.format(E=entities_sql)
        uses_sql = uses_tpl.format(E=entities_sql) if uses_tpl else None
        # each fragment takes the party once per placeholder
        stats = _stats_for(conn, creds_sql, uses_sql, role, party, creds_sql.count("?"),
                           uses_sql.count("?") if uses_sql else 0, now_s)
        out["roles"][role] = {"entity_kind": kind, "entities": entities, **stats}
    findings = dict(conn.execute(
        "SELECT f.severity, COUNT(*) FROM findings f WHERE f.event_id IN"
        " (SELECT event_id FROM finding_parties WHERE party_id = ?) GROUP BY f.severity", (party,)).fetchall())
    out["open_findings_by_severity"] = findings
    return out


def _stats_for(conn: sqlite3.Connection, creds_sql: str, uses_sql: str | None, role: str, party: str,
               n_creds: int, n_uses: int, now: str) -> dict[str, Any]:
    creds_p = (party,) * n_creds
    issued, live, failures = conn.execute(
        f"SELECT COUNT(*),"
        f" COALESCE(SUM(NOT EXISTS (SELECT 1 FROM revocations v WHERE v.credential_id = c.credential_id"
        f"   AND v.revoked_at <= ?) AND (c.expires_at IS NULL OR c.expires_at > ?)"
        f"   AND (c.not_before IS NULL OR c.not_before <= ?)), 0),"
        f" COALESCE(SUM({INCOMPLETE}), 0)"
        f" FROM credentials c WHERE c.credential_id IN ({creds_sql})", (now, now, now, *creds_p)).fetchone()
    revoked = dict(conn.execute(
        f"SELECT reason, COUNT(DISTINCT credential_id) FROM revocations WHERE credential_id IN ({creds_sql})"
        f" AND revoked_at <= ? GROUP BY reason ORDER BY reason", (*creds_p, now)).fetchall())
    if uses_sql:
        uses = dict(conn.execute(f"SELECT outcome, COUNT(*) FROM ({uses_sql}) GROUP BY outcome",
                                 (party,) * n_uses).fetchall())
    else:
        uses = dict(conn.execute(f"SELECT outcome, COUNT(*) FROM uses WHERE credential_id IN ({creds_sql})"
                                 f" GROUP BY outcome", creds_p).fetchall())
    findings = dict(conn.execute(
        "SELECT f.severity, COUNT(*) FROM findings f JOIN finding_parties fp ON fp.event_id = f.event_id"
        " WHERE fp.role = ? AND fp.party_id = ? GROUP BY f.severity", (role, party)).fetchall())
    return {
        "credentials_issued": issued,
        "live_now": live,
        "revoked_by_reason": revoked,
        "uses_accepted": uses.get("ACCEPTED", 0),
        "uses_rejected": uses.get("REJECTED", 0),
        "open_findings_by_severity": findings,
        "governance_failures": failures,
    }


def entity_view(conn: sqlite3.Connection, kind: str, entity_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The accountability view of one control plane, workflow, resource or broker."""
    now_s = ts(now or utc_now())
    table, id_col, owner_col = ENTITY_TABLE[kind]
    row = conn.execute(f"SELECT {owner_col} FROM {table} WHERE {id_col} = ?", (entity_id,)).fetchone()
    role = ENTITY_ROLE[kind]
    _, _, creds_tpl, uses_tpl = ROLES[role]
    creds_sql = creds_tpl.format(E="?")
    uses_sql = uses_tpl.format(E="?") if uses_tpl else None
    stats = _stats_for(conn, creds_sql, uses_sql, role, entity_id, 1, 1, now_s)
    # findings of an entity: those about its credentials, its resource or its workflow
    stats["open_findings_by_severity"] = dict(conn.execute(
        f"SELECT severity, COUNT(*) FROM findings WHERE credential_id IN ({creds_sql})"
        f" OR (? = 'resource' AND resource_id = ?) OR (? = 'workflow' AND workflow_id = ?) GROUP BY severity",
        (entity_id, kind, entity_id, kind, entity_id)).fetchall())
    return {"entity_kind": kind, "entity_id": entity_id, "known": row is not None,
            "owner": row[0] if row else None, "accountable_role": role, "at": now_s, **stats}


def parties(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every accountable party the views know, with the roles it holds."""
    found: dict[str, set[str]] = {}
    sql = (
        "SELECT owner, 'control_plane_owner' FROM control_planes UNION SELECT owner, 'workflow_owner' FROM workflows"
        " UNION SELECT owner, 'resource_owner' FROM resources UNION SELECT operator, 'broker_operator' FROM brokers"
        " UNION SELECT product_owner, 'product_owner' FROM brokers UNION SELECT author, 'policy_author' FROM policies"
        " UNION SELECT approver, 'human_approver' FROM approvals WHERE approver_type = 'HUMAN'"
        " UNION SELECT party_id, role FROM finding_parties"
    )
    for party, role in conn.execute(sql):
        if party:
            found.setdefault(party, set()).add(role)
    counts = dict(conn.execute(
        "SELECT party_id, COUNT(DISTINCT event_id) FROM finding_parties GROUP BY party_id").fetchall())
    return [{"party": p, "roles": sorted(r), "findings": counts.get(p, 0)} for p, r in sorted(found.items())]
