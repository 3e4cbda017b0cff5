"""Findings view: every GovernanceFinding the processors wrote, with its accountable
parties, standards references and evidence events, one row per fact."""

from __future__ import annotations

import sqlite3

from ledger.events import Event, GovernanceFinding

from .common import ts

TABLES = ("findings", "finding_parties", "finding_standards", "finding_evidence")

SCHEMA = """
CREATE TABLE IF NOT EXISTS findings (
    event_id TEXT PRIMARY KEY, kind TEXT, severity TEXT, summary TEXT, chain_id TEXT, task_id TEXT,
    workflow_id TEXT, credential_id TEXT, resource_id TEXT, causation_id TEXT, waited_seconds REAL, found_at TEXT);
CREATE INDEX IF NOT EXISTS findings_kind ON findings(kind);
CREATE INDEX IF NOT EXISTS findings_credential ON findings(credential_id);
CREATE TABLE IF NOT EXISTS finding_parties (
    event_id TEXT NOT NULL, role TEXT NOT NULL, party_id TEXT NOT NULL, PRIMARY KEY (event_id, role, party_id));
CREATE INDEX IF NOT EXISTS finding_parties_party ON finding_parties(party_id);
CREATE TABLE IF NOT EXISTS finding_standards (
    event_id TEXT NOT NULL, framework TEXT NOT NULL, ref TEXT NOT NULL, title TEXT,
    PRIMARY KEY (event_id, framework, ref));
CREATE TABLE IF NOT EXISTS finding_evidence (
    event_id TEXT NOT NULL, evidence_event_id TEXT NOT NULL, PRIMARY KEY (event_id, evidence_event_id));
"""


def apply(conn: sqlite3.Connection, e: Event) -> None:
    if not isinstance(e, GovernanceFinding):
        return
    conn.execute("INSERT OR IGNORE INTO findings VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                 (e.event_id, e.kind, e.severity.value, e.summary, e.chain_id, e.task_id, e.workflow_id,
                  e.credential_id, e.resource_id, e.causation_id, e.waited_seconds, ts(e.occurred_at)))
    conn.executemany("INSERT OR IGNORE INTO finding_parties VALUES (?,?,?)",
                     [(e.event_id, p.role, p.party_id) for p in e.accountable])
    conn.executemany("INSERT OR IGNORE INTO finding_standards VALUES (?,?,?,?)",
                     [(e.event_id, s.framework, s.ref, s.title) for s in e.standards])
    conn.executemany("INSERT OR IGNORE INTO finding_evidence VALUES (?,?)",
                     [(e.event_id, x) for x in e.evidence_event_ids])
