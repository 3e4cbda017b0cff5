"""`dledger demo` shows revocations and findings with their owners, quickly, without Kafka."""

from __future__ import annotations

import subprocess
import sys
import time


def test_demo__shows_expiry_completion_cascade_and_findings() -> None:
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "ledger", "demo"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 15
    for text in ("expired", "task_completed", "parent_revoked", "mint_not_allowed", "attenuation_broken",
                 "cross_domain_token_reuse", "workflow_owner: finance-ops@acme"):
        assert text in out.stdout, text
