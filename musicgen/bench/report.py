"""Benchmark results: one row per figure, printed as a table and written as dated JSON + Markdown.

A full run writes ``<date>-<host>.json`` and ``.md`` into the results folder (``benchmarks/results``
of the checkout) and copies the Markdown to ``latest.md``, which the README links; a ``--quick``
run's files end in ``-quick`` and leave ``latest.md`` alone (its figures mean nothing).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import torch

from musicgen.bench.timing import Load, Rivals


@dataclass
class Row:
    """One measured figure; ``target`` is a bound to meet (``>= 50``) or None for report-only.

    ``spread`` is the lowest and highest per-round value of an interleaved comparison, ``load``
    how busy the machine was while it ran, ``profile`` where the time went (rows under goal).
    """

    section: str
    name: str
    value: float
    unit: str
    target: str | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)
    spread: tuple[float, float] | None = None
    load: dict | None = None
    profile: list[dict] | None = None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        op, bound = self.target.split()
        return self.value >= float(bound) if op == ">=" else self.value < float(bound)

    def timed(self, rivals: Rivals) -> Row:
        """This row with the spread and load of the interleaved comparison that measured it."""
        self.spread = rivals.spread
        self.load = rivals.load.as_dict() if rivals.load else None
        return self


@dataclass(frozen=True)
class Skipped:
    """A peer not measured, and the one-line reason."""

    peer: str
    reason: str


def machine() -> dict:
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:,.1f}x" if value >= 10 else f"{value:,.2f}x"
    if unit == "%":
        return f"{value:.1f}%"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _value(row: Row) -> str:
    text = _number(row.value, row.unit)
    return text if row.unit in ("x", "%") else f"{text} {row.unit}"


def _spread(row: Row) -> str:
    if row.spread is None:
        return ""
    low, high = (_number(v, row.unit) for v in row.spread)
    return f"{low} - {high}"


def _load(row: Row) -> str:
    if not row.load:
        return ""
    return Load(row.load["load_average"], row.load["other_cores"], row.load["cores"]).describe()


def _target(row: Row) -> str:
    return f"{row.target} {row.unit}".replace(" x", "x") if row.target else ""


def _met(row: Row) -> str:
    return {True: "yes", False: "NO", None: ""}[row.met]


def table(rows: list[Row]) -> str:
    """Rows as a fixed-width text table, with a column saying whether each target is met."""
    lines = [("section", "figure", "value", "spread", "target", "met", "detail")]
    for row in rows:
        lines.append((row.section, row.name, _value(row), _spread(row), _target(row), _met(row), row.detail))
    widths = [max(len(line[i]) for line in lines) for i in range(6)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:6], widths, strict=True)) + "  " + line[6]
        for line in lines
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(payload: dict) -> str:
    """The results page: the run's machine and load, a table per section, profiles, skipped peers."""
    m, s = payload["machine"], payload["settings"]
    load = s.get("load")
    lines = [
        f"# Benchmarks {payload['date']} on {m['host']}",
        "",
        f"`{s['command']}` · {m['processor']}, {m['cpu_count']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), Python {m['python']} · {s['elapsed_s_total']:,.0f} s",
        "",
    ]
    if load:
        whole = Load(load["load_average"], load["other_cores"], load["cores"])
        lines += [f"Machine during the run: {whole.describe()}.", ""]
    if s["quick"]:
        lines += ["`--quick`: tiny sizes that check the benchmark runs; its figures mean nothing.", ""]
    rows = [Row(**{k: v for k, v in r.items() if k != "met"}) for r in payload["rows"]]
    for section in dict.fromkeys(r.section for r in rows):
        lines += [f"## {section}", "", "| figure | value | spread | target | met | load | detail |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in (r for r in rows if r.section == section):
            cells = (r.name, _value(r), _spread(r), _target(r), _met(r), _load(r), r.detail)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    for r in (r for r in rows if r.profile):
        lines += [f"### Where the time goes: {r.name}", "", "| op | share of self CPU time | calls |",
                  "| --- | --- | --- |"]
        lines += [f"| `{p['op']}` | {p['share']:.1f}% | {p['calls']} |" for p in r.profile]
        lines.append("")
    if payload["skipped"]:
        lines += ["## Not measured", ""]
        lines += [f"- {s['peer']}: {s['reason']}" for s in payload["skipped"]]
        lines.append("")
    return "\n".join(lines)


def results_dir() -> Path:
    """``benchmarks/results`` of the checkout this package runs from, else of the current folder."""
    checkout = Path(__file__).resolve().parents[2] / "benchmarks"
    return (checkout if checkout.is_dir() else Path.cwd() / "benchmarks") / "results"


def write_results(
    folder: Path, rows: list[Row], settings: dict, skipped: list[Skipped]
) -> tuple[Path, Path]:
    """Write ``<date>-<host>.json`` and ``.md`` (``-quick`` for quick runs); a full run also
    refreshes ``latest.md``. Returns the JSON and Markdown paths."""
    now = datetime.now()
    payload = {
        "date": now.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings,
        "rows": [{**asdict(row), "met": row.met} for row in rows],
        "skipped": [asdict(s) for s in skipped],
    }
    folder.mkdir(parents=True, exist_ok=True)
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in platform.node()) or "host"
    stem = f"{now:%Y-%m-%d}-{host}" + ("-quick" if settings["quick"] else "")
    json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(markdown(payload))
    if not settings["quick"]:
        shutil.copyfile(md_path, folder / "latest.md")
    return json_path, md_path

