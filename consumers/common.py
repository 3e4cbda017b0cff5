"""Small helpers every view shares: one timestamp format and JSON columns.

Times are stored as fixed-width UTC text (``2026-12-04T16:00:00.000000Z``) so that
SQL string comparison is time comparison and the view digest does not depend on how
a datetime happened to be printed.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.isoformat(timespec="microseconds")[:26] + "Z"  # isoformat: a tenth of strftime's cost


def parse_time(text: str) -> datetime:
    """Parse a user-supplied time (ISO 8601; naive means UTC; a trailing Z is fine)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def jlist(items: list[str]) -> str:
    return json.dumps(items, separators=(",", ":"))


def rows(cursor: Any) -> list[dict[str, Any]]:
    """Rows of a sqlite3 cursor as dicts (column order kept)."""
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def one(cursor: Any) -> dict[str, Any] | None:
    got = rows(cursor)
    return got[0] if got else None
