"""The compliance dashboard: server-rendered HTML (Jinja2), no front-end build step.

Pages are plain GET forms and links over the same queries the CLI and the JSON API
use; the overview refreshes itself so its live credential counts stay live.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}Delegation Ledger{% endblock %}</title>
{% block head %}{% endblock %}
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330}
header{background:#1d2330;color:#fff;padding:.6rem 1rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#cfe0ff;text-decoration:none} main{padding:1rem 1.5rem}
table{border-collapse:collapse;margin:.5rem 0 1.2rem} td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:left;font-size:.9rem}
th{background:#eef1f7} .card{display:inline-block;border:1px solid #ccd;border-radius:6px;padding:.5rem 1rem;margin:.3rem;min-width:8rem}
.card b{display:block;font-size:1.6rem} .missing{color:#b00020;font-weight:bold} .live{color:#087f23;font-weight:bold}
.sev-CRITICAL,.sev-HIGH{color:#b00020;font-weight:bold} .sev-MEDIUM{color:#a15c00} ul.tree{list-style:none;padding-left:1.2rem;border-left:2px solid #ccd}
code{font-size:.85rem}
</style></head><body>
<header><strong>Delegation Ledger</strong><a href="/">Overview</a><a href="/owners">Owners</a><a href="/findings">Findings</a>
<a href="/chain">Chain viewer</a><a href="/credentials">Credentials</a><a href="/docs">API</a></header>
<main>{% block main %}{% endblock %}</main></body></html>"""

_OVERVIEW = """{% extends "base.html" %}
{% block head %}<meta http-equiv="refresh" content="{{ refresh }}">{% endblock %}
{% block main %}
<h1>Overview</h1><p>as of {{ o.at }} · {{ o.events }} events projected</p>
<div id="counts">
<div class="card">issued<b id="count-issued">{{ o.credentials_issued }}</b></div>
<div class="card">live now<b id="count-live">{{ o.live_now }}</b></div>
<div class="card">expired<b id="count-expired">{{ o.expired }}</b></div>
<div class="card">revoked<b id="count-revoked">{{ o.revoked_by_reason.values()|sum }}</b></div>
<div class="card">uses accepted / rejected<b>{{ o.uses_accepted }} / {{ o.uses_rejected }}</b></div>
<div class="card">open findings<b id="count-findings">{{ o.findings_by_severity.values()|sum }}</b></div>
</div>
<h2>Chain of delegation</h2>
<form action="/chain" method="get"><input name="id" id="chain-id" placeholder="credential, identity or use id" size="40">
<button type="submit" id="chain-go">Show chain</button></form>
<h2>Open findings by severity</h2>
<table><tr><th>severity</th><th>count</th></tr>{% for s, n in o.findings_by_severity.items() %}
<tr><td class="sev-{{ s }}">{{ s }}</td><td>{{ n }}</td></tr>{% endfor %}</table>
<h2>Owners</h2>{% include "parties.html" %}
{% endblock %}"""

_PARTIES = """<table id="parties"><tr><th>party</th><th>roles</th><th>findings</th></tr>
{% for p in parties %}<tr><td><a href="/owners/{{ p.party|urlencode }}">{{ p.party }}</a></td><td>{{ p.roles|join(", ") }}</td>
<td>{{ p.findings }}</td></tr>{% endfor %}</table>"""

_OWNERS = """{% extends "base.html" %}{% block main %}<h1>Owners</h1>{% include "parties.html" %}{% endblock %}"""

_STATS = """<tr><td>{{ name }}</td><td>{{ s.credentials_issued }}</td><td>{{ s.live_now }}</td>
<td>{% for k, v in s.revoked_by_reason.items() %}{{ k|lower }} {{ v }} {% else %}-{% endfor %}</td>
<td>{{ s.uses_accepted }}</td><td>{{ s.uses_rejected }}</td>
<td>{% for k, v in s.open_findings_by_severity.items() %}<span class="sev-{{ k }}">{{ k|lower }} {{ v }}</span> {% else %}-{% endfor %}</td>
<td>{{ s.governance_failures }}</td></tr>"""

_PARTY = """{% extends "base.html" %}{% block main %}
<h1 id="party">{{ v.party }}</h1><p>as of {{ v.at }}</p>
<table id="roles"><tr><th>role: entities</th><th>issued</th><th>live</th><th>revoked</th><th>uses ok</th><th>uses rejected</th>
<th>open findings</th><th>governance failures</th></tr>
{% for role, s in v.roles.items() %}{% with name = role ~ ": " ~ s.entities|join(", ") %}{% include "stats.html" %}{% endwith %}{% endfor %}
</table>
<h2>Findings</h2>{% include "findings_table.html" %}
{% endblock %}"""

_FINDINGS_TABLE = """<table id="findings"><tr><th>severity</th><th>kind</th><th>summary</th><th>accountable</th><th>standards</th>
<th>credential</th><th>evidence</th></tr>
{% for f in findings %}<tr><td class="sev-{{ f.severity }}">{{ f.severity }}</td><td>{{ f.kind }}</td><td>{{ f.summary }}</td>
<td>{% for a in f.accountable %}{{ a.role }}=<a href="/owners/{{ a.party_id|urlencode }}">{{ a.party_id }}</a> {% endfor %}</td>
<td>{% for s in f.standards %}{{ s.framework }} {{ s.ref }}<br>{% endfor %}</td>
<td>{% if f.credential_id %}<a href="/chain?id={{ f.credential_id|urlencode }}">{{ f.credential_id }}</a>{% endif %}</td>
<td>{% for e in f.evidence_event_ids %}<code>{{ e }}</code> {% endfor %}</td></tr>
{% else %}<tr><td colspan="7">no findings</td></tr>{% endfor %}</table>"""

_FINDINGS = """{% extends "base.html" %}{% block main %}<h1>Findings</h1>
<form method="get">owner <input name="owner" value="{{ owner or '' }}"> kind <input name="kind" value="{{ kind or '' }}">
<button type="submit">Filter</button></form>{% include "findings_table.html" %}{% endblock %}"""

_CHAIN = """{% extends "base.html" %}{% block main %}<h1>Chain viewer</h1>
<form action="/chain" method="get"><input name="id" id="chain-id" value="{{ ident or '' }}" size="40"
placeholder="credential, identity or use id"> at <input name="at" value="{{ at or '' }}" placeholder="ISO time (optional)">
<button type="submit" id="chain-go">Show chain</button></form>
{% if error %}<p class="missing">{{ error }}</p>{% endif %}
{% for c in chains %}
<section class="chain"><h2>{{ c.query }} ({{ c.resolved_as }})
{% if c.complete %}<span class="live" id="chain-status">complete</span>{% else %}<span class="missing" id="chain-status">{{ c.gaps|length }} missing link(s)</span>{% endif %}</h2>
{% if c.task %}<p id="principal">principal <b>{{ c.task.principal }}</b> · task {{ c.task.task_id }} · agent {{ c.task.agent_id }} · purpose: {{ c.task.purpose }}</p>
{% else %}<p class="missing">MISSING principal (no TaskStarted)</p>{% endif %}
{% for l in c.links %}<ul class="tree"><li class="link" data-credential="{{ l.credential_id }}">
{% if l.issued %}credential <b>{{ l.credential_id }}</b> {{ l.issued.kind }} to {{ l.issued.subject }} · depth {{ l.issued.depth }}
· scopes {{ l.issued.scopes|join(",") }} · issued {{ l.issued.issued_at }} ·
{% if l.live %}<span class="live">live</span>{% elif l.revocation %}revoked ({{ l.revocation.reason }}){% else %}expired or not yet valid{% endif %}
<ul>{% if l.request %}<li>request {{ l.request.request_id }} by {{ l.request.agent_id }} ({{ l.request.kind }})</li>{% endif %}
{% for d in l.decisions %}<li>policy {{ d.decision }} by {{ d.policy_id }} v{{ d.policy_version }} <code>{{ d.policy_digest[:23] }}</code></li>{% endfor %}
{% for a in l.approvals %}<li>approval {{ a.approval_kind }} by {{ a.approver_type|lower }} {{ a.approver }}</li>{% endfor %}
{% for u in l.uses %}<li>use {{ u.action }} at {{ u.resource_id }} {{ u.outcome }} {{ u.used_at }}</li>{% endfor %}
{% if l.revocation %}<li>revoked {{ l.revocation.reason }} at {{ l.revocation.revoked_at }}</li>{% endif %}
</ul>{% else %}credential <b>{{ l.credential_id }}</b>{% endif %}
{% for g in l.gaps %}<div class="missing gap" data-kind="{{ g.kind }}">MISSING {{ g.kind|replace("missing_", "")|replace("_", " ") }}: {{ g.detail }}</div>{% endfor %}
</li></ul>{% endfor %}
<p><a href="/blast-radius?id={{ c.links[-1].credential_id|urlencode }}">blast radius</a> ·
<a href="/timeline?credential={{ c.links[-1].credential_id|urlencode }}">timeline</a></p></section>
{% endfor %}{% endblock %}"""

_CREDENTIALS = """{% extends "base.html" %}{% block main %}<h1>Credentials</h1>
<table id="credentials"><tr><th>credential</th><th>kind</th><th>subject</th><th>parent</th><th>issued</th><th>expires</th><th>state</th></tr>
{% for c in creds %}<tr><td><a href="/chain?id={{ c.credential_id|urlencode }}">{{ c.credential_id }}</a></td><td>{{ c.kind }}</td>
<td>{{ c.subject }}</td><td>{{ c.parent_credential_id or "-" }}</td><td>{{ c.issued_at }}</td><td>{{ c.expires_at or "never" }}</td>
<td>{% if c.live %}<span class="live">live</span>{% elif c.revoked_at %}revoked{% else %}expired or not yet valid{% endif %}</td></tr>
{% endfor %}</table>{% endblock %}"""

_BLAST = """{% extends "base.html" %}{% block main %}<h1>Blast radius of {{ b.credential_id }}</h1><p>as of {{ b.at }} ·
<span id="live-count">{{ b.live|length }}</span> live</p>
<table><tr><th>credential</th><th>generation</th><th>kind</th><th>subject</th><th>expires</th><th>state</th></tr>
{% for c in b.credentials %}<tr><td><a href="/chain?id={{ c.credential_id|urlencode }}">{{ c.credential_id }}</a></td><td>{{ c.generation }}</td>
<td>{{ c.kind or "-" }}</td><td>{{ c.subject or "-" }}</td><td>{{ c.expires_at or "-" }}</td>
<td>{% if c.live %}<span class="live">LIVE</span>{% elif c.revoked_at %}revoked {{ c.revoked_reason }}{% elif c.issued %}expired{% else %}<span class="missing">never issued</span>{% endif %}</td></tr>{% endfor %}</table>
<h2>Resources touched</h2><table><tr><th>resource</th><th>owner</th><th>first used</th><th>last used</th><th>uses</th><th>by</th></tr>
{% for r in b.resources %}<tr><td>{{ r.resource_id }}</td><td>{{ r.owner or "-" }}</td><td>{{ r.first_used }}</td><td>{{ r.last_used }}</td>
<td>{{ r.uses }}</td><td>{{ r.credentials|join(", ") }}</td></tr>{% endfor %}</table>{% endblock %}"""

_TIMELINE = """{% extends "base.html" %}{% block main %}<h1>Timeline of {{ who }}</h1>
<table><tr><th>time</th><th>topic</th><th>partition</th><th>offset</th><th>type</th><th>what</th></tr>
{% for e in events %}<tr><td>{{ e.occurred_at }}</td><td>{{ e.topic }}</td><td>{{ e.partition }}</td><td>{{ e.offset }}</td>
<td>{{ e.type }}</td><td>{{ e.summary }}</td></tr>{% endfor %}</table>{% endblock %}"""

TEMPLATES = {
    "base.html": _BASE, "overview.html": _OVERVIEW, "parties.html": _PARTIES, "owners.html": _OWNERS,
    "stats.html": _STATS, "party.html": _PARTY, "findings_table.html": _FINDINGS_TABLE, "findings.html": _FINDINGS,
    "chain.html": _CHAIN, "credentials.html": _CREDENTIALS, "blast.html": _BLAST, "timeline.html": _TIMELINE,
}

env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True))


def render(name: str, **context: object) -> str:
    return env.get_template(name).render(**context)
