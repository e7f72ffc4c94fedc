"""Records -> standard MIDI files (via pretty_midi), readable by DAWs, pretty_midi and music21."""

from __future__ import annotations

from pathlib import Path

import pretty_midi

from musicgen.data.records import REST, LeadSheet, PianoScore
from musicgen.data.vocab import UNK

RESOLUTION = 480
"""MIDI ticks per quarter note: divisible by 24, so every lead-sheet grid tick is exact."""

COMPING_LOW = 48
"""Chord tones are voiced in the octave from C3 (MIDI 48) up to B3."""

ALTO_SAX = 65
ACOUSTIC_GRAND = 0
MELODY_VELOCITY = 96
COMPING_VELOCITY = 64


def _check_pitch(record_id: str, pitch: int) -> int:
    if not 0 <= int(pitch) <= 127:
        raise ValueError(f"{record_id}: pitch {pitch} is outside MIDI range 0-127")
    return int(pitch)


TEMPO_RANGE = (10.0, 1000.0)
"""Beats per minute a rendering accepts: slower makes audio files of absurd length (1e-6 BPM asks
for hundreds of TiB), faster rounds MIDI's microseconds per beat towards zero (unreadable files)."""


def check_tempo(tempo: float) -> float:
    """``tempo`` as a float, or a one-line error naming the range it must be in."""
    low, high = TEMPO_RANGE
    if isinstance(tempo, bool) or not isinstance(tempo, int | float) or not low <= tempo <= high:
        raise ValueError(f"tempo={tempo}: expected {low:g} to {high:g} beats per minute")
    return float(tempo)


def _new_midi(tempo: float, beats_per_bar: int = 4) -> pretty_midi.PrettyMIDI:
    tempo = check_tempo(tempo)
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=tempo)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(beats_per_bar, 4, 0.0))
    return midi


def chord_changes(chords: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """``(first_beat, num_beats, symbol)`` for each run of one chord symbol."""
    changes: list[tuple[int, int, str]] = []
    for beat, symbol in enumerate(chords):
        if changes and changes[-1][2] == symbol:
            first, length, _ = changes[-1]
            changes[-1] = (first, length + 1, symbol)
        else:
            changes.append((beat, 1, symbol))
    return changes


def comping_pitches(symbol: str) -> list[int]:
    """Close-position chord tones in C3-B3 for a chord symbol; none for "NC" or ``<unk>``."""
    from musicgen.music.chords import parse_chord

    if symbol == UNK:  # a chord outside the model's vocabulary: nothing known to play
        return []
    chord = parse_chord(symbol)
    if chord.is_nc:
        return []
    return sorted(COMPING_LOW + pc for pc in set(chord.tones))


def lead_sheet_to_pretty_midi(
    sheet: LeadSheet, tempo: float = 120.0, comping: bool = True, program: int = ALTO_SAX
) -> pretty_midi.PrettyMIDI:
    """Melody track plus, optionally, a piano track holding each chord until it changes."""
    midi = _new_midi(tempo, sheet.beats_per_bar)
    seconds_per_tick = 60.0 / tempo / sheet.ticks_per_beat
    melody = pretty_midi.Instrument(program=program, name="melody")
    for onset, duration, pitch in zip(sheet.onsets, sheet.durations, sheet.pitches, strict=True):
        if pitch == REST:
            continue
        start = float(onset) * seconds_per_tick
        end = float(onset + duration) * seconds_per_tick
        note_pitch = _check_pitch(sheet.id, pitch)
        melody.notes.append(pretty_midi.Note(MELODY_VELOCITY, note_pitch, start, end))
    midi.instruments.append(melody)
    if comping:
        seconds_per_beat = 60.0 / tempo
        piano = pretty_midi.Instrument(program=ACOUSTIC_GRAND, name="chords")
        for first, length, symbol in chord_changes(sheet.chords):
            start, end = first * seconds_per_beat, (first + length) * seconds_per_beat
            for pitch in comping_pitches(symbol):
                piano.notes.append(pretty_midi.Note(COMPING_VELOCITY, pitch, start, end))
        midi.instruments.append(piano)
    return midi


def score_to_pretty_midi(
    score: PianoScore, tempo: float = 120.0, program: int = ACOUSTIC_GRAND
) -> pretty_midi.PrettyMIDI:
    """One piano track; velocities default to 80 when the score has none."""
    midi = _new_midi(tempo)
    seconds_per_beat = 60.0 / tempo
    velocities = score.velocities if score.velocities is not None else [80] * len(score)
    piano = pretty_midi.Instrument(program=program, name="piano")
    for onset, duration, pitch, velocity in zip(
        score.onsets, score.durations, score.pitches, velocities, strict=True
    ):
        start = float(onset) * seconds_per_beat
        end = float(onset + duration) * seconds_per_beat
        piano.notes.append(
            pretty_midi.Note(int(velocity), _check_pitch(score.id, pitch), start, end)
        )
    midi.instruments.append(piano)
    return midi


def lead_sheet_to_midi(
    sheet: LeadSheet,
    path: str | Path,
    tempo: float = 120.0,
    comping: bool = True,
    program: int = ALTO_SAX,
) -> Path:
    """Write a lead sheet as a .mid file (melody, plus chord comping unless ``comping=False``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lead_sheet_to_pretty_midi(sheet, tempo, comping, program).write(str(path))
    return path


def score_to_midi(
    score: PianoScore, path: str | Path, tempo: float = 120.0, program: int = ACOUSTIC_GRAND
) -> Path:
    """Write a piano score as a single-track .mid file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    score_to_pretty_midi(score, tempo, program).write(str(path))
    return path
