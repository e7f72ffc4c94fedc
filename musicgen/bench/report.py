"""Benchmark results: one row per figure, printed as a table and written as JSON."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import torch


@dataclass
class Row:
    """One measured figure; ``target`` is a bound to meet (``>= 50``) or None for report-only."""

    section: str
    name: str
    value: float
    unit: str
    target: str | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target.split()
        return self.value >= float(bound) if op == ">=" else self.value < float(bound)


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def _value(row: Row) -> str:
    if row.unit == "x":
        return f"{row.value:,.1f}x"
    if row.unit == "%":
        return f"{row.value:.1f}%"
    return f"{row.value:,.3g} {row.unit}" if abs(row.value) < 100 else f"{row.value:,.0f} {row.unit}"


def table(rows: list[Row]) -> str:
    """Rows as a fixed-width text table, with a column saying whether each target is met."""
    lines = [("section", "figure", "value", "target", "met", "detail")]
    for row in rows:
        met = {True: "yes", False: "NO", None: ""}[row.met]
        target = f"{row.target} {row.unit}".replace(" x", "x") if row.target else ""
        lines.append((row.section, row.name, _value(row), target, met, row.detail))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:5], widths, strict=True)) + "  " + line[5]
        for line in lines
    )


def write_json(path: Path, rows: list[Row], settings: dict) -> None:
    payload = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings,
        "rows": [{**asdict(row), "met": row.met} for row in rows],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
