"""The rules are pure: no I/O libraries, no clock reads (STYLE: pure core, thin shell)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import processors

RULES = ("ids", "standards", "state", "revocation", "findings", "engine", "scenario")
FORBIDDEN_MODULES = ("aiokafka", "faust", "aiosqlite", "sqlite3", "asyncio", "socket", "time")
PROCESSORS = Path(processors.__file__).parent


def test_rules__import_no_io_library_even_transitively() -> None:
    code = (
        "import sys\n"
        + "".join(f"import processors.{m}\n" for m in RULES)
        + f"bad = sorted(m for m in {FORBIDDEN_MODULES[:3]!r} if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_rules__read_no_clock_and_await_nothing() -> None:
    for name in RULES:
        tree = ast.parse((PROCESSORS / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.split(".")[0] in FORBIDDEN_MODULES for m in mods), (name, mods)
            assert not isinstance(node, (ast.Await, ast.AsyncFunctionDef)), name
            if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today", "time"):
                raise AssertionError(f"processors/{name}.py reads the clock: .{node.attr}")
