"""Writing generated pieces: every format of each record, its metrics, and the index beside them.

``sample.py``, the demo and the evaluation's listening folders write what they generate the same
way: ``render_settings`` reads the output options of their configs (tempo, comping, instrument,
accents, SoundFont), ``write_samples`` renders each record in the chosen formats with a title and
returns its ``samples.json`` entry, and ``atomic_json_list`` streams those entries to disk.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig

from musicgen.metrics.registry import compute_all
from musicgen.music.records import LeadSheet, PianoScore, Record
from musicgen.render import RenderSettings, render_all
from musicgen.render.audio import choose_renderer
from musicgen.render.midi import instrument_program, record_key


def sample_title(record: LeadSheet | PianoScore, cfg: DictConfig, sampler_name: str) -> str:
    """What a score's title says: the progression (or the model) and its key, the sampler, which
    sample; e.g. ``blues in F major · softmax · sample 1``."""
    number = int(record.id.removeprefix("sample")) + 1 if record.id.startswith("sample") else record.id
    if isinstance(record, LeadSheet):
        what = str(cfg.chords) if len(str(cfg.chords)) <= 32 else "chords"
    else:
        what = "piano piece"
    return f"{what} in {record_key(record).name} · {sampler_name} · sample {number}"


def render_settings(cfg: DictConfig) -> RenderSettings:
    """The output settings of a sample run (``tempo``, ``comping``, ``instrument``, ``accents``,
    ``soundfont``); a bad instrument or SoundFont is a one-line error here."""
    instrument_program(cfg.instrument)
    audio = choose_renderer(cfg.soundfont) if "wav" in cfg.formats else None
    return RenderSettings(
        tempo=cfg.tempo, comping=cfg.comping, instrument=cfg.instrument, accents=cfg.accents,
        audio=audio,
    )


def write_samples(
    records: list[Record], out: Path, cfg: DictConfig, sampler_name: str, settings: RenderSettings
) -> list[dict]:
    """Render every record in ``cfg.formats``; one ``samples.json`` entry per record."""
    entries = []
    for record in records:
        title = sample_title(record, cfg, sampler_name)
        files = render_all(
            record, out, record.id, formats=tuple(cfg.formats),
            settings=dataclasses.replace(settings, title=title),
        )
        metrics = {k: (None if math.isnan(v) else round(v, 6)) for k, v in compute_all(record).items()}
        entry = {"id": record.id, "title": title, "files": {k: str(v) for k, v in files.items()},
                 "metrics": metrics}
        if settings.audio is not None:
            entry["audio"] = settings.audio.describe()
        entries.append(entry)
        print("\n".join(str(p) for p in files.values()))
    return entries


@contextmanager
def atomic_json_list(path: Path, header: dict, key: str) -> Iterator[Callable[[dict], None]]:
    """Write ``{**header, key: [items...]}`` one item at a time (nothing is held in memory),
    into a temporary file renamed to ``path`` only when every item was written."""
    partial = path.with_name(f".{path.name}.partial")
    opening = json.dumps({**header, key: []}, indent=2)
    head, _, _ = opening.rpartition("[]")
    written = 0
    try:
        with open(partial, "w") as fh:
            fh.write(head + "[")

            def add(item: dict) -> None:
                nonlocal written
                text = textwrap.indent(json.dumps(item, indent=2), "    ")
                fh.write(("," if written else "") + "\n" + text)
                written += 1

            yield add
            fh.write(("\n  " if written else "") + "]\n}")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
