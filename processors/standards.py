"""What each finding kind maps to in the standards auditors ask about.

OWASP Non-Human Identities Top 10 (2025), OWASP Top 10 for Agentic Applications
(2026) and NIST AI RMF 1.0 subcategories. One table, so a report per standard is a
filter over findings, not a second mapping.
"""

from __future__ import annotations

from ledger.events import StandardRef

NHI = "OWASP NHI Top 10 2025"
ASI = "OWASP Top 10 for Agentic Applications 2026"
RMF = "NIST AI RMF 1.0"

_TITLES: dict[tuple[str, str], str] = {
    (NHI, "NHI1"): "Improper Offboarding",
    (NHI, "NHI2"): "Secret Leakage",
    (NHI, "NHI5"): "Overprivileged NHI",
    (NHI, "NHI7"): "Long-Lived Secrets",
    (NHI, "NHI9"): "NHI Reuse",
    (ASI, "ASI03"): "Identity & Privilege Abuse",
    (ASI, "ASI02"): "Tool Misuse & Exploitation",
    (ASI, "ASI07"): "Insecure Inter-Agent Communication",
    (ASI, "ASI09"): "Human-Agent Trust Exploitation",
    (RMF, "GOVERN 1.4"): "risk management process and outcomes established through transparent policies",
    (RMF, "GOVERN 1.5"): "ongoing monitoring and periodic review of the risk management process",
    (RMF, "GOVERN 2.1"): "roles, responsibilities and lines of communication are documented and clear",
    (RMF, "MAP 3.5"): "processes for human oversight are defined, assessed and documented",
    (RMF, "MEASURE 2.7"): "AI system security and resilience are evaluated and documented",
    (RMF, "MEASURE 2.8"): "risks associated with transparency and accountability are examined and documented",
    (RMF, "MANAGE 2.4"): "mechanisms are in place to supersede, disengage or deactivate AI systems",
}

_BY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    "use_after_revocation": ((NHI, "NHI1"), (ASI, "ASI03"), (RMF, "MANAGE 2.4")),
    "use_after_expiry": ((NHI, "NHI7"), (ASI, "ASI03"), (RMF, "MANAGE 2.4")),
    "use_out_of_scope": ((NHI, "NHI5"), (ASI, "ASI02"), (RMF, "MEASURE 2.7")),
    "attenuation_broken": ((NHI, "NHI5"), (ASI, "ASI03"), (RMF, "GOVERN 1.4")),
    "delegation_too_deep": ((NHI, "NHI5"), (ASI, "ASI03"), (RMF, "GOVERN 1.4")),
    "mint_without_approval": ((NHI, "NHI5"), (ASI, "ASI03"), (RMF, "GOVERN 2.1")),
    "mint_not_allowed": ((NHI, "NHI5"), (ASI, "ASI03"), (RMF, "GOVERN 2.1")),
    "broken_chain": ((ASI, "ASI03"), (RMF, "MEASURE 2.8"), (RMF, "GOVERN 2.1")),
    "unknown_reference": ((ASI, "ASI03"), (RMF, "MEASURE 2.8")),
    "ttl_exceeds_workflow_max": ((NHI, "NHI7"), (RMF, "GOVERN 1.4")),
    "no_expiry": ((NHI, "NHI7"), (RMF, "GOVERN 1.4")),
    "cross_domain_token_reuse": ((NHI, "NHI9"), (NHI, "NHI2"), (ASI, "ASI03"), (RMF, "MEASURE 2.7")),
    "approval_after_action": ((ASI, "ASI09"), (RMF, "MAP 3.5")),
    "self_approval": ((ASI, "ASI03"), (ASI, "ASI09"), (RMF, "MAP 3.5")),
    "unverifiable_record": ((ASI, "ASI07"), (RMF, "MEASURE 2.7"), (RMF, "GOVERN 1.5")),
}

FINDING_KINDS: tuple[str, ...] = tuple(_BY_KIND)


def standards_for(kind: str) -> list[StandardRef]:
    return [StandardRef(framework=f, ref=r, title=_TITLES[(f, r)]) for f, r in _BY_KIND[kind]]
