"""Compliance reports: findings and controls grouped by standard reference, per owner,
with the evidence event ids an auditor can look up (``dledger prove EVENT_ID``).

A finding names its standards as free text written by the processors; a report
selects the ones of its standard by the framework's name (see ``STANDARDS``) and lists
every control of that standard, so a control with no finding is visible as such.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from typing import Any

from .common import utc_now, ts
from .queries import findings

# standard -> (title, words a framework name must contain, the controls: ref -> title)
STANDARDS: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "owasp-nhi": ("OWASP Non-Human Identities Top 10 (2025)", ("nhi", "nonhuman"), {
        "NHI1": "Improper Offboarding", "NHI2": "Secret Leakage", "NHI3": "Vulnerable Third-Party NHI",
        "NHI4": "Insecure Authentication", "NHI5": "Overprivileged NHI",
        "NHI6": "Insecure Cloud Deployment Configurations", "NHI7": "Long-Lived Secrets",
        "NHI8": "Environment Isolation", "NHI9": "NHI Reuse", "NHI10": "Human Use of NHI",
    }),
    "owasp-asi": ("OWASP Top 10 for Agentic Applications (2026)", ("agentic", "asi"), {
        "ASI01": "Agent Goal Hijack", "ASI02": "Tool Misuse & Exploitation", "ASI03": "Identity & Privilege Abuse",
        "ASI04": "Agentic Supply Chain Vulnerabilities", "ASI05": "Unexpected Code Execution",
        "ASI06": "Memory & Context Poisoning", "ASI07": "Insecure Inter-Agent Communication",
        "ASI08": "Cascading Failures", "ASI09": "Human-Agent Trust Exploitation", "ASI10": "Rogue Agents",
    }),
    "nist-ai-rmf": ("NIST AI Risk Management Framework 1.0", ("nist", "rmf"), {
        "GOVERN 1.4": "Risk management process and outcomes established through transparent policies",
        "GOVERN 1.5": "Ongoing monitoring and periodic review of the risk management process",
        "GOVERN 2.1": "Roles, responsibilities and lines of communication are documented and clear",
        "GOVERN 6.1": "Policies address AI risks from third-party entities",
        "MAP 3.5": "Processes for human oversight are defined, assessed and documented",
        "MEASURE 2.7": "AI system security and resilience are evaluated and documented",
        "MEASURE 2.8": "Risks of transparency and accountability are examined and documented",
        "MANAGE 2.4": "Mechanisms to supersede, disengage or deactivate AI systems",
        "MANAGE 4.1": "Post-deployment monitoring plans are implemented",
    }),
}
FORMATS = ("md", "json", "html")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def matches(standard: str, framework: str) -> bool:
    words = STANDARDS[standard][1]
    n = _norm(framework)
    return any(w in n for w in words) and (standard != "owasp-nhi" or "agentic" not in n)


def build(conn: sqlite3.Connection, standard: str, *, owner: str | None = None) -> dict[str, Any]:
    if standard not in STANDARDS:
        raise ValueError(f"unknown standard {standard!r}: use one of {', '.join(STANDARDS)}")
    title, _, catalogue = STANDARDS[standard]
    controls: dict[str, dict[str, Any]] = {
        ref: {"ref": ref, "title": t, "findings": [], "by_owner": {}} for ref, t in catalogue.items()}
    unmapped = 0
    for f in findings(conn, owner=owner, limit=1_000_000):
        refs = sorted({s["ref"] for s in f["standards"] if matches(standard, s["framework"])})
        if not refs:
            unmapped += 1
            continue
        entry = {k: f[k] for k in ("event_id", "kind", "severity", "summary", "credential_id", "resource_id",
                                   "found_at", "evidence_event_ids", "accountable")}
        for ref in refs:
            c = controls.setdefault(ref, {"ref": ref, "title": next(
                (s["title"] for s in f["standards"] if s["ref"] == ref), ""), "findings": [], "by_owner": {}})
            c["findings"].append(entry)
            for party in {a["party_id"] for a in f["accountable"]}:
                c["by_owner"][party] = c["by_owner"].get(party, 0) + 1
    for c in controls.values():
        c["status"] = "findings" if c["findings"] else "no findings"
        c["by_owner"] = dict(sorted(c["by_owner"].items()))
    return {"standard": standard, "title": title, "owner": owner, "generated_at": ts(utc_now()),
            "controls": list(controls.values()),
            "findings_total": sum(len(c["findings"]) for c in controls.values()),
            "findings_for_other_standards": unmapped}


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, default=str)
    if fmt == "md":
        return _markdown(report)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _markdown(r: dict[str, Any]) -> str:
    out = [f"# {r['title']}", "",
           f"Owner: {r['owner'] or 'all'} · generated {r['generated_at']} · {r['findings_total']} finding(s)", "",
           "| control | title | status | findings | accountable owners |", "|---|---|---|---|---|"]
    for c in r["controls"]:
        owners = ", ".join(f"{p} ({n})" for p, n in c["by_owner"].items()) or "-"
        out.append(f"| {c['ref']} | {c['title']} | {c['status']} | {len(c['findings'])} | {owners} |")
    for c in r["controls"]:
        if not c["findings"]:
            continue
        out += ["", f"## {c['ref']} {c['title']}", ""]
        for f in c["findings"]:
            parties = ", ".join(f"{a['role']}={a['party_id']}" for a in f["accountable"])
            out.append(f"- **{f['severity']}** `{f['kind']}`: {f['summary']} (finding `{f['event_id']}`;"
                       f" accountable: {parties or '-'}; evidence: {', '.join(f'`{e}`' for e in f['evidence_event_ids']) or '-'})")
    return "\n".join(out) + "\n"


def _html(r: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c['ref'])}</td><td>{e(c['title'] or '')}</td><td>{e(c['status'])}</td>"
        f"<td>{len(c['findings'])}</td><td>{e(', '.join(f'{p} ({n})' for p, n in c['by_owner'].items()) or '-')}</td></tr>"
        for c in r["controls"])
    details = "".join(
        f"<h2 id='{e(c['ref'])}'>{e(c['ref'])} {e(c['title'] or '')}</h2><ul>" + "".join(
            f"<li><b>{e(f['severity'])}</b> <code>{e(f['kind'])}</code>: {e(f['summary'])}"
            f" (finding <code>{e(f['event_id'])}</code>; evidence {e(', '.join(f['evidence_event_ids']) or '-')})</li>"
            for f in c["findings"]) + "</ul>"
        for c in r["controls"] if c["findings"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(r['title'])}</title></head><body>"
            f"<h1>{e(r['title'])}</h1><p>Owner: {e(r['owner'] or 'all')} · generated {e(r['generated_at'])} ·"
            f" {r['findings_total']} finding(s)</p><table border='1' cellpadding='4'><tr><th>control</th><th>title</th>"
            f"<th>status</th><th>findings</th><th>accountable owners</th></tr>{rows}</table>{details}</body></html>\n")
