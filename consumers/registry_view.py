"""Registry view: the latest description of every entity (control planes, workflows,
resources, policies, brokers, issuer keys). Latest event per entity wins, as on the
compacted registry topic."""

from __future__ import annotations

import sqlite3

from ledger.events import (
    BrokerRegistered,
    ControlPlaneRegistered,
    Event,
    IssuerKeyRegistered,
    PolicyPublished,
    ResourceRegistered,
    WorkflowRegistered,
)

from .common import ts

TABLES = ("control_planes", "workflows", "resources", "policies", "brokers", "issuer_keys")

SCHEMA = """
CREATE TABLE IF NOT EXISTS control_planes (
    control_plane_id TEXT PRIMARY KEY, name TEXT, owner TEXT NOT NULL, event_id TEXT, registered_at TEXT);
CREATE INDEX IF NOT EXISTS control_planes_owner ON control_planes(owner);
CREATE TABLE IF NOT EXISTS workflows (
    workflow_id TEXT PRIMARY KEY, control_plane_id TEXT, owner TEXT NOT NULL, description TEXT,
    may_mint INTEGER, max_ttl_seconds INTEGER, max_delegation_depth INTEGER, event_id TEXT, registered_at TEXT);
CREATE INDEX IF NOT EXISTS workflows_owner ON workflows(owner);
CREATE INDEX IF NOT EXISTS workflows_cp ON workflows(control_plane_id);
CREATE TABLE IF NOT EXISTS resources (
    resource_id TEXT PRIMARY KEY, owner TEXT NOT NULL, system TEXT, trust_domain TEXT, control_plane_id TEXT,
    event_id TEXT, registered_at TEXT);
CREATE INDEX IF NOT EXISTS resources_owner ON resources(owner);
CREATE TABLE IF NOT EXISTS policies (
    policy_id TEXT NOT NULL, version TEXT NOT NULL, digest TEXT, author TEXT, control_plane_id TEXT,
    event_id TEXT, published_at TEXT, PRIMARY KEY (policy_id, version));
CREATE INDEX IF NOT EXISTS policies_author ON policies(author);
CREATE TABLE IF NOT EXISTS brokers (
    broker_id TEXT PRIMARY KEY, operator TEXT, product_owner TEXT, control_plane_id TEXT, event_id TEXT,
    registered_at TEXT);
CREATE TABLE IF NOT EXISTS issuer_keys (
    issuer_id TEXT NOT NULL, key_id TEXT NOT NULL, algorithm TEXT, control_plane_id TEXT, system TEXT,
    trust_domain TEXT, event_id TEXT, registered_at TEXT, PRIMARY KEY (issuer_id, key_id));
"""


def apply(conn: sqlite3.Connection, e: Event) -> None:
    at = ts(e.occurred_at)
    match e:
        case ControlPlaneRegistered():
            conn.execute("INSERT OR REPLACE INTO control_planes VALUES (?,?,?,?,?)",
                         (e.control_plane_id, e.name, e.owner, e.event_id, at))
        case WorkflowRegistered():
            conn.execute("INSERT OR REPLACE INTO workflows VALUES (?,?,?,?,?,?,?,?,?)",
                         (e.workflow_id, e.control_plane_id, e.owner, e.description, int(e.may_mint),
                          e.max_ttl_seconds, e.max_delegation_depth, e.event_id, at))
        case ResourceRegistered():
            conn.execute("INSERT OR REPLACE INTO resources VALUES (?,?,?,?,?,?,?)",
                         (e.resource_id, e.owner, e.system, e.trust_domain, e.control_plane_id, e.event_id, at))
        case PolicyPublished():
            conn.execute("INSERT OR REPLACE INTO policies VALUES (?,?,?,?,?,?,?)",
                         (e.policy_id, e.version, e.digest, e.author, e.control_plane_id, e.event_id, at))
        case BrokerRegistered():
            conn.execute("INSERT OR REPLACE INTO brokers VALUES (?,?,?,?,?,?)",
                         (e.broker_id, e.operator, e.product_owner, e.control_plane_id, e.event_id, at))
        case IssuerKeyRegistered():
            conn.execute("INSERT OR REPLACE INTO issuer_keys VALUES (?,?,?,?,?,?,?,?)",
                         (e.issuer_id, e.key_id, e.algorithm, e.control_plane_id, e.system, e.trust_domain,
                          e.event_id, at))
