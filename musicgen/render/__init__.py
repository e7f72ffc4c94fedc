"""Renderers: records -> MIDI, MusicXML, piano-roll PNG and WAV files.

``render_all`` imports each renderer only when asked for its format, so ``musicgen.render.midi``
stays cheap to import (music21 and matplotlib take a while to load).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from musicgen.data.records import LeadSheet, PianoScore
from musicgen.render.midi import check_tempo

FORMATS = ("mid", "musicxml", "png", "wav")


def render_all(
    record: LeadSheet | PianoScore,
    out_dir: str | Path,
    stem: str,
    formats: Iterable[str] = FORMATS,
    tempo: float = 120,
    comping: bool = True,
) -> dict[str, Path]:
    """Write ``out_dir/stem.<format>`` for each format; returns format -> path.

    ``comping`` adds a lead sheet's chords to its MIDI and WAV (piano scores ignore it)."""
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown render format(s) {unknown}; valid: {', '.join(FORMATS)}")
    tempo = check_tempo(tempo)
    if not isinstance(record, LeadSheet | PianoScore):
        raise TypeError(
            f"cannot render a {type(record).__name__}; expected LeadSheet or PianoScore"
        )
    out = Path(out_dir)
    sheet = isinstance(record, LeadSheet)
    paths: dict[str, Path] = {}
    for fmt in formats:
        path = out / f"{stem}.{fmt}"
        if fmt == "mid":
            from musicgen.render.midi import lead_sheet_to_midi, score_to_midi

            if sheet:
                paths[fmt] = lead_sheet_to_midi(record, path, tempo=tempo, comping=comping)
            else:
                paths[fmt] = score_to_midi(record, path, tempo=tempo)
        elif fmt == "musicxml":
            from musicgen.render.musicxml import lead_sheet_to_musicxml, score_to_musicxml

            to_xml = lead_sheet_to_musicxml if sheet else score_to_musicxml
            paths[fmt] = to_xml(record, path, tempo=tempo)
        elif fmt == "png":
            from musicgen.render.pianoroll import plot_piano_roll

            paths[fmt] = plot_piano_roll(record, path, title=stem)
        else:
            from musicgen.render.audio import render_wav

            paths[fmt] = render_wav(record, path, tempo=tempo, comping=comping)
    return paths
