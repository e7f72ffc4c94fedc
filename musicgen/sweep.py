"""One table for a Hydra multirun: ``python -m musicgen.sweep <multirun dir>``.

Each job folder of a sweep holds its overrides (``.hydra/overrides.yaml``) and what it made:
``run_info.json`` for training (losses, epochs, steps, checkpoints), ``samples.json`` for
sampling (per-sample metrics, averaged here). The summary has one row per job, with one column
per override that differs between jobs (the shared ones head ``summary.md``), and is written as
``summary.csv`` and ``summary.md`` into the sweep folder.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from musicgen.errors import user_error
from musicgen.paths import FAILED_JOB

TRAIN_COLUMNS = (
    "status", "val_loss", "best_val_loss", "train_loss", "epochs", "steps", "fit_seconds",
    "fit_cpu_seconds", "checkpoint",
)


def job_dirs(sweep: Path) -> list[Path]:
    """Job folders in launch order (their names start with the job number)."""
    def number(job: Path) -> float:
        head = job.name.split("_")[0]
        return int(head) if head.isdigit() else math.inf

    jobs = [p for p in sweep.iterdir() if (p / ".hydra" / "overrides.yaml").is_file()]
    return sorted(jobs, key=lambda p: (number(p), p.name))


def job_overrides(job: Path) -> dict[str, str]:
    """``key=value`` overrides of one job, as written by Hydra."""
    overrides = {}
    for item in OmegaConf.load(job / ".hydra" / "overrides.yaml") or []:
        key, _, value = str(item).partition("=")
        overrides[key] = value
    return overrides


def train_results(job: Path) -> dict[str, Any]:
    path = job / "run_info.json"
    if not path.is_file():
        return {}
    info = json.loads(path.read_text())
    results = info.get("results") or {}
    return {"status": info.get("status"), **{k: results.get(k) for k in TRAIN_COLUMNS[1:]}}


def job_failure(job: Path) -> dict[str, Any]:
    """The one-line reason a job stopped on a user's mistake (``musicgen.cli.run_cli``)."""
    path = job / FAILED_JOB
    return {"status": f"failed: {path.read_text().strip()}"} if path.is_file() else {}


def sample_results(job: Path) -> dict[str, Any]:
    """Number of samples and the mean of each numeric per-sample metric (older files have none)."""
    path = job / "samples.json"
    if not path.is_file():
        return {}
    samples = json.loads(path.read_text()).get("samples", [])
    values: dict[str, list[float]] = {}
    for sample in samples:
        for name, value in (sample.get("metrics") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, []).append(float(value))
    return {"samples": len(samples), **{name: sum(v) / len(v) for name, v in values.items()}}


def split_overrides(jobs: list[Path]) -> tuple[dict[Path, dict[str, str]], dict[str, str]]:
    """(each job's overrides that differ between jobs, the overrides every job shares)."""
    overrides = {job: job_overrides(job) for job in jobs}
    keys = list(dict.fromkeys(k for o in overrides.values() for k in o))
    varying = [k for k in keys if len({o.get(k) for o in overrides.values()}) > 1]
    shared = {k: v for k, v in overrides[jobs[0]].items() if k not in varying}
    return {job: {k: overrides[job].get(k, "") for k in varying} for job in jobs}, shared


def summarize(sweep: str | Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(one row per job, the overrides every job shares)."""
    sweep = Path(sweep)
    if not sweep.is_dir():
        raise FileNotFoundError(f"{sweep}: no such multirun folder")
    jobs = job_dirs(sweep)
    if not jobs:
        raise FileNotFoundError(f"{sweep}: no job folders (with .hydra/overrides.yaml) inside")
    varying, shared = split_overrides(jobs)
    rows = []
    for job in jobs:
        row: dict[str, Any] = {"job": job.name}
        row.update(varying[job])
        row.update(train_results(job))
        row.update(sample_results(job))
        row.update(job_failure(job))
        rows.append(row)
    return rows, shared


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_summary(sweep: str | Path) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.md`` into the sweep folder; returns both paths."""
    sweep = Path(sweep)
    rows, shared = summarize(sweep)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    csv_path, md_path = sweep / "summary.csv", sweep / "summary.md"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: row.get(c) for c in columns} for row in rows)
    inside = f"{sweep.resolve()}/"  # paths inside the sweep read shorter relative to it
    lines = [f"# Sweep {sweep}", ""]
    if shared:
        lines += ["Shared overrides: " + " ".join(f"`{k}={v}`" for k, v in shared.items()), ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        cells = (_cell(row.get(c)).removeprefix(inside).replace("|", "\\|") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


def write_listening_page(sweep: str | Path) -> Path | None:
    """``index.html`` in a sampling sweep's folder: one section per job, with its overrides, so
    decoding settings are compared by ear; None for a sweep without samples (training)."""
    from musicgen.render.page import samples_section, write_page

    sweep = Path(sweep)
    jobs = [job for job in job_dirs(sweep) if (job / "samples.json").is_file()]
    if not jobs:
        return None
    varying, shared = split_overrides(jobs)
    sections = [samples_section(job / "samples.json", job.name, varying[job]) for job in jobs]
    intro = " ".join(f"{k}={v}" for k, v in shared.items())
    return write_page(sweep / "index.html", f"Sweep {sweep.name}", sections, intro)


class SweepSummary(Callback):
    """Hydra callback (``conf/hydra/callbacks/sweep_summary.yaml``): summary (and, for sampling,
    the listening page) at multirun end."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        rows, _ = summarize(config.hydra.sweep.dir)
        _, md_path = write_summary(config.hydra.sweep.dir)
        print(f"sweep summary: {md_path.resolve()}")
        page = write_listening_page(config.hydra.sweep.dir)
        if page is not None:
            print(f"listen: {page.resolve()}")
        failed = [row["job"] for row in rows if str(row.get("status", "")).startswith("failed")]
        if failed:
            numbers = ", ".join(job.split("_")[0] for job in failed)
            user_error(f"{len(failed)} of {len(rows)} jobs failed (job {numbers}): see {md_path}")


if __name__ == "__main__":  # the command's first name
    from musicgen.commands.sweep import main

    main()
