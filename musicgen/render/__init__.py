"""Renderers: records -> MIDI, MusicXML, engraved SVG, piano-roll PNG and WAV files.

``render_all`` imports each renderer only when asked for its format, so ``musicgen.render.midi``
stays cheap to import (music21, verovio and matplotlib take a while to load).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from musicgen.music.records import LeadSheet, PianoScore
from musicgen.render.midi import check_tempo

if TYPE_CHECKING:
    from musicgen.render.audio import AudioRenderer

FORMATS = ("mid", "musicxml", "svg", "png", "wav")


@dataclass(frozen=True)
class RenderSettings:
    """How records sound and read: tempo, comping, the melody's instrument, velocity accents,
    the WAV renderer (``None``: ``audio.choose_renderer()``) and a title for the score."""

    tempo: float = 120
    comping: bool = True
    instrument: str = "alto_sax"
    accents: bool = False
    audio: AudioRenderer | None = None
    title: str | None = None


def _musicxml(record: LeadSheet | PianoScore, path: Path, settings: RenderSettings) -> Path:
    from musicgen.render.musicxml import lead_sheet_to_musicxml, score_to_musicxml

    if isinstance(record, LeadSheet):
        return lead_sheet_to_musicxml(
            record, path, settings.tempo, settings.instrument, settings.title
        )
    return score_to_musicxml(record, path, settings.tempo, settings.title)


def render_all(
    record: LeadSheet | PianoScore,
    out_dir: str | Path,
    stem: str,
    formats: Iterable[str] = FORMATS,
    settings: RenderSettings | None = None,
) -> dict[str, Path]:
    """Write ``out_dir/stem.<format>`` for each format; returns format -> path.

    ``settings.comping`` adds a lead sheet's chords to its MIDI and WAV (piano scores ignore it)."""
    formats = tuple(formats)
    settings = settings or RenderSettings()
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown render format(s) {unknown}; valid: {', '.join(FORMATS)}")
    check_tempo(settings.tempo)
    if not isinstance(record, LeadSheet | PianoScore):
        raise TypeError(
            f"cannot render a {type(record).__name__}; expected LeadSheet or PianoScore"
        )
    formats = tuple(sorted(set(formats), key=FORMATS.index))  # the SVG is engraved from the MusicXML
    out = Path(out_dir)
    sheet = isinstance(record, LeadSheet)
    paths: dict[str, Path] = {}
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        if fmt == "mid":
            from musicgen.render.midi import lead_sheet_to_midi, score_to_midi

            if sheet:
                paths[fmt] = lead_sheet_to_midi(
                    record, path, settings.tempo, settings.comping, settings.instrument,
                    settings.accents,
                )
            else:
                paths[fmt] = score_to_midi(record, path, settings.tempo, settings.accents)
        elif fmt == "musicxml":
            paths[fmt] = _musicxml(record, path, settings)
        elif fmt == "svg":
            from musicgen.render.svg import musicxml_to_svg

            with tempfile.TemporaryDirectory(prefix="musicgen-svg-") as tmp:
                source = paths.get("musicxml") or _musicxml(
                    record, Path(tmp) / f"{stem}.musicxml", settings
                )
                paths[fmt] = musicxml_to_svg(source, path)
        elif fmt == "png":
            from musicgen.render.pianoroll import plot_piano_roll

            paths[fmt] = plot_piano_roll(record, path, title=settings.title or stem)
        else:
            from musicgen.render.audio import render_wav

            paths[fmt] = render_wav(
                record, path, settings.tempo, renderer=settings.audio,
                comping=settings.comping, instrument=settings.instrument,
            )
    return paths
