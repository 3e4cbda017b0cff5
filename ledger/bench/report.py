"""How every benchmark reports: rows of (what, ours, baseline, unit, ratio), plus
free-form figures (latencies, sizes), printed as a table or as JSON."""

from __future__ import annotations

import platform
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from ..cli.common import console, print_json


@dataclass
class Comparison:
    name: str
    ours: float
    baseline: float
    unit: str = "events/s"
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")


@dataclass
class BenchReport:
    bench: str
    comparisons: list[Comparison] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, c: Comparison) -> Comparison:
        self.comparisons.append(c)
        return c

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "comparisons": [asdict(c) | {"ratio": round(c.ratio, 3)} for c in self.comparisons],
            "figures": self.figures,
        }

    def print(self, as_json: bool) -> None:
        if as_json:
            print_json(self.as_dict())
            return
        if self.comparisons:
            t = Table(title=f"dledger bench {self.bench}")
            for col in ("measure", "ours", "baseline", "unit", "ratio", "note"):
                t.add_column(col)
            for c in self.comparisons:
                t.add_row(c.name, f"{c.ours:,.1f}", f"{c.baseline:,.1f}", c.unit, f"{c.ratio:.2f}", c.note)
            console.print(t)
        if self.figures:
            t = Table(title="figures")
            t.add_column("figure")
            t.add_column("value")
            for k, v in self.figures.items():
                t.add_row(k, f"{v:,.3f}" if isinstance(v, float) else str(v))
            console.print(t)
