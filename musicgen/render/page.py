"""The listening page: one ``index.html`` beside a run's files, with each sample's audio player,
engraved score, piano roll, metrics and download links side by side.

It opens from disk (no server), loads nothing from the network and links the files rather than
inlining them, so it stays a few kilobytes however long the music is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
.sample{border:1px solid #ddd;border-radius:6px;padding:.8em;margin:1em 0}
.sample h3{margin:.1em 0 .5em}.score{width:100%;background:#fff}.roll{max-width:100%}
audio{width:100%}table{border-collapse:collapse;font-size:.85em;margin:.5em 0;display:block;overflow-x:auto}
td,th{border:1px solid #ddd;padding:.15em .5em;text-align:left}.links a{margin-right:1em}
.settings{font-family:monospace;font-size:.85em;color:#555}
"""
DOWNLOADS = (("mid", "MIDI"), ("musicxml", "MusicXML"), ("wav", "WAV"), ("svg", "SVG"))


@dataclass
class Section:
    """One group of samples (a run, or one job of a sweep) and the settings that made it."""

    heading: str
    samples: Sequence[Mapping[str, Any]]
    """``samples.json`` entries: ``id``, ``files`` (format -> path), ``metrics``."""
    settings: Mapping[str, Any] = field(default_factory=dict)


def _href(path: str | Path, page_dir: Path) -> str:
    """A link relative to the page, so the folder can be moved or zipped whole."""
    relative = os.path.relpath(Path(path).resolve(), page_dir.resolve())
    return escape(Path(relative).as_posix(), quote=True)


def _metric(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def sample_html(entry: Mapping[str, Any], page_dir: Path) -> str:
    """One sample's card: player, score, piano roll, metrics and download links."""
    files = entry.get("files", {})
    title = escape(str(entry.get("title") or entry["id"]))
    parts = [f'<div class="sample" id="{escape(str(entry["id"]), quote=True)}"><h3>{title}</h3>']
    if "wav" in files:
        parts.append(f'<audio controls preload="none" src="{_href(files["wav"], page_dir)}"></audio>')
    if "svg" in files:
        parts.append(
            f'<img class="score" loading="lazy" alt="score of {title}" '
            f'src="{_href(files["svg"], page_dir)}">'
        )
    if "png" in files:
        parts.append(
            f'<img class="roll" loading="lazy" alt="piano roll of {title}" '
            f'src="{_href(files["png"], page_dir)}">'
        )
    metrics = entry.get("metrics") or {}
    if metrics:
        head = "".join(f"<th>{escape(k)}</th>" for k in metrics)
        row = "".join(f"<td>{_metric(v)}</td>" for v in metrics.values())
        parts.append(f"<table><tr>{head}</tr><tr>{row}</tr></table>")
    links = [
        f'<a href="{_href(files[fmt], page_dir)}" download>{label}</a>'
        for fmt, label in DOWNLOADS
        if fmt in files
    ]
    if links:
        parts.append(f'<div class="links">{"".join(links)}</div>')
    parts.append("</div>")
    return "".join(parts)


def page_html(title: str, sections: Sequence[Section], page_dir: Path, intro: str = "") -> str:
    body = [f"<h1>{escape(title)}</h1>"]
    if intro:
        body.append(f"<p>{escape(intro)}</p>")
    for section in sections:
        if len(sections) > 1 or section.heading:
            body.append(f"<h2>{escape(section.heading)}</h2>")
        if section.settings:
            shown = " ".join(f"{k}={v}" for k, v in section.settings.items())
            body.append(f'<p class="settings">{escape(shown)}</p>')
        body.extend(sample_html(entry, page_dir) for entry in section.samples)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_page(path: str | Path, title: str, sections: Sequence[Section], intro: str = "") -> Path:
    """Write the page atomically (a reader never sees half a page)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page_html(title, sections, path.parent, intro), encoding="utf-8")
    tmp.replace(path)
    return path


def samples_section(index: str | Path, heading: str = "", settings: Mapping[str, Any] | None = None) -> Section:
    """A section from a run's ``samples.json`` (file paths in it are taken relative to it when
    they are not absolute)."""
    index = Path(index)
    data = json.loads(index.read_text())
    samples = []
    for entry in data.get("samples", []):
        files = {
            fmt: (p if Path(p).is_absolute() else str(index.parent / Path(p).name))
            for fmt, p in entry.get("files", {}).items()
        }
        samples.append({**entry, "files": files})
    return Section(heading, samples, dict(settings or {}))


def run_page(index: str | Path, title: str, intro: str = "") -> Path:
    """``index.html`` beside a run's ``samples.json``."""
    index = Path(index)
    return write_page(index.parent / "index.html", title, [samples_section(index)], intro)
