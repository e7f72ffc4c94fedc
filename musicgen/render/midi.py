"""Records -> standard MIDI files (via pretty_midi), readable by DAWs, pretty_midi and music21."""

from __future__ import annotations

from pathlib import Path

import mido
import pretty_midi

from musicgen.music.key import Key, chord_weights, estimate_key, pitch_class_weights
from musicgen.music.records import REST, LeadSheet, PianoScore
from musicgen.music.tokens import UNK

RESOLUTION = 480
"""MIDI ticks per quarter note: divisible by 24, so every lead-sheet grid tick is exact."""

COMPING_LOW = 48
"""Chord tones are voiced in the octave from C3 (MIDI 48) up to B3."""

ACOUSTIC_GRAND = 0
INSTRUMENTS = {
    "alto_sax": 65,
    "tenor_sax": 66,
    "soprano_sax": 64,
    "baritone_sax": 67,
    "trumpet": 56,
    "trombone": 57,
    "clarinet": 71,
    "flute": 73,
    "vibraphone": 11,
    "guitar": 26,
    "piano": ACOUSTIC_GRAND,
}
"""The melody's instrument: name -> General MIDI program (0-based)."""
MELODY_VELOCITY = 96
COMPING_VELOCITY = 64
ACCENTS = {0: 14, 2: 6}
"""Velocity added on beats 1 and 3 of a 4/4 bar when accents are on; off-beat notes lose 10."""
OFFBEAT_ACCENT = -10
MELODY_KEY_WEIGHT = 0.1
"""How much a lead sheet's melody counts, next to its chords, when its key is found: a generated
melody may wander, the progression states the key."""


def instrument_program(name: str) -> int:
    """The General MIDI program of an instrument name; a one-line error for an unknown one."""
    if name not in INSTRUMENTS:
        raise ValueError(f"instrument={name}: unknown; choose one of {', '.join(INSTRUMENTS)}")
    return INSTRUMENTS[name]


def instrument_label(name: str) -> str:
    """'alto_sax' -> 'Alto Sax', the part name in MIDI and MusicXML."""
    return name.replace("_", " ").title()


def record_key(record: LeadSheet | PianoScore) -> Key:
    """A lead sheet's key from its chords (its melody decides only when every chord is NC), a
    piano piece's from its notes."""
    if isinstance(record, LeadSheet):
        melody = pitch_class_weights(record.pitches, record.durations / record.ticks_per_beat)
        return estimate_key(chord_weights(record.chords) + MELODY_KEY_WEIGHT * melody)
    return estimate_key(pitch_class_weights(record.pitches, record.durations))


def accent(velocity: int, beat: float, beats_per_bar: int) -> int:
    """Strong beats louder, off-beats softer (``accents=true``), kept in MIDI's 1-127."""
    position = beat % beats_per_bar
    if abs(position - round(position)) > 1e-6:
        change = OFFBEAT_ACCENT
    else:
        change = ACCENTS.get(int(round(position)), 0) if beats_per_bar % 2 == 0 else 0
    return max(1, min(127, velocity + change))


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


def _new_midi(tempo: float, key: Key, beats_per_bar: int = 4) -> pretty_midi.PrettyMIDI:
    tempo = check_tempo(tempo)
    midi = pretty_midi.PrettyMIDI(resolution=RESOLUTION, initial_tempo=tempo)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(beats_per_bar, 4, 0.0))
    midi.key_signature_changes.append(pretty_midi.KeySignature(key.midi_number, 0.0))
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
    sheet: LeadSheet,
    tempo: float = 120.0,
    comping: bool = True,
    instrument: str = "alto_sax",
    accents: bool = False,
) -> pretty_midi.PrettyMIDI:
    """Melody track on the instrument's program plus, optionally, a piano track holding each
    chord until it changes; the key signature is the sheet's key (``record_key``)."""
    midi = _new_midi(tempo, record_key(sheet), sheet.beats_per_bar)
    seconds_per_tick = 60.0 / tempo / sheet.ticks_per_beat
    melody = pretty_midi.Instrument(
        program=instrument_program(instrument), name=instrument_label(instrument)
    )
    for onset, duration, pitch in zip(sheet.onsets, sheet.durations, sheet.pitches, strict=True):
        if pitch == REST:
            continue
        start = float(onset) * seconds_per_tick
        end = float(onset + duration) * seconds_per_tick
        note_pitch = _check_pitch(sheet.id, pitch)
        beat = float(onset) / sheet.ticks_per_beat
        velocity = accent(MELODY_VELOCITY, beat, sheet.beats_per_bar) if accents else MELODY_VELOCITY
        melody.notes.append(pretty_midi.Note(velocity, note_pitch, start, end))
    midi.instruments.append(melody)
    if comping:
        seconds_per_beat = 60.0 / tempo
        piano = pretty_midi.Instrument(program=ACOUSTIC_GRAND, name="Piano (chords)")
        for first, length, symbol in chord_changes(sheet.chords):
            start, end = first * seconds_per_beat, (first + length) * seconds_per_beat
            for pitch in comping_pitches(symbol):
                piano.notes.append(pretty_midi.Note(COMPING_VELOCITY, pitch, start, end))
        midi.instruments.append(piano)
    return midi


def score_to_pretty_midi(
    score: PianoScore, tempo: float = 120.0, accents: bool = False
) -> pretty_midi.PrettyMIDI:
    """One piano track in the piece's analysed key; velocities default to 80 when the score has
    none, shaped by the beat when ``accents``."""
    midi = _new_midi(tempo, record_key(score))
    seconds_per_beat = 60.0 / tempo
    velocities = score.velocities if score.velocities is not None else [80] * len(score)
    piano = pretty_midi.Instrument(program=ACOUSTIC_GRAND, name="Piano")
    for onset, duration, pitch, velocity in zip(
        score.onsets, score.durations, score.pitches, velocities, strict=True
    ):
        start = float(onset) * seconds_per_beat
        end = float(onset + duration) * seconds_per_beat
        velocity = accent(int(velocity), float(onset), 4) if accents else int(velocity)
        piano.notes.append(pretty_midi.Note(velocity, _check_pitch(score.id, pitch), start, end))
    midi.instruments.append(piano)
    return midi


def add_chord_markers(path: Path, sheet: LeadSheet) -> None:
    """A marker meta event at every chord change (DAWs show them on the timeline); pretty_midi
    cannot write markers, so they go into the first track with mido."""
    file = mido.MidiFile(str(path))
    ticks_per_beat = file.ticks_per_beat
    events, now = [], 0
    for message in file.tracks[0]:
        now += message.time
        events.append((now, 0, message))
    for first, _, symbol in chord_changes(sheet.chords):
        events.append((first * ticks_per_beat, 1, mido.MetaMessage("marker", text=symbol)))
    end_of_track = [e for e in events if e[2].type == "end_of_track"]
    events = sorted((e for e in events if e[2].type != "end_of_track"), key=lambda e: e[:2])
    last = max([events[-1][0] if events else 0, *(e[0] for e in end_of_track)])
    track, previous = mido.MidiTrack(), 0
    for time, _, message in events:
        track.append(message.copy(time=time - previous))
        previous = time
    track.append(mido.MetaMessage("end_of_track", time=last - previous))
    file.tracks[0] = track
    file.save(str(path))


def lead_sheet_to_midi(
    sheet: LeadSheet,
    path: str | Path,
    tempo: float = 120.0,
    comping: bool = True,
    instrument: str = "alto_sax",
    accents: bool = False,
) -> Path:
    """Write a lead sheet as a .mid file: melody, chord comping unless ``comping=False``, key
    signature and a marker at each chord change."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lead_sheet_to_pretty_midi(sheet, tempo, comping, instrument, accents).write(str(path))
    add_chord_markers(path, sheet)
    return path


def score_to_midi(
    score: PianoScore, path: str | Path, tempo: float = 120.0, accents: bool = False
) -> Path:
    """Write a piano score as a single-track .mid file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    score_to_pretty_midi(score, tempo, accents).write(str(path))
    return path
