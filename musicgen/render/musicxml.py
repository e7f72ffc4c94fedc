"""Records -> MusicXML scores (via music21) that notation programs open: lead sheets with chord
symbols above the staff, piano scores on a grand staff.

Onsets are snapped to the nearest sixteenth or sixteenth-sextuplet (``GRID``): the model's
1/24-beat grid would otherwise write unreadable 32nd-note tuplets. Events that snap to zero
length are dropped from the notation only; the MIDI and WAV renders keep every note.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from music21 import clef, expressions, harmony, layout, metadata, meter, note, stream, tempo

from musicgen.data.records import REST, LeadSheet, PianoScore

GRID = (4, 6)
"""Onsets snap to multiples of 1/4 or 1/6 beat (sixteenths, eighth and sixteenth triplets)."""

SPLIT_PITCH = 60
"""Piano notes from middle C up go to the treble staff, lower ones to the bass staff."""

# canonical quality (no tensions) -> (music21 kind, text written above the staff)
_KINDS = {
    "": ("major", ""),
    "-": ("minor", "m"),
    "+": ("augmented", "+"),
    "o": ("diminished", "dim"),
    "7": ("dominant-seventh", "7"),
    "-7": ("minor-seventh", "m7"),
    "j7": ("major-seventh", "maj7"),
    "6": ("major-sixth", "6"),
    "-6": ("minor-sixth", "m6"),
    "-j7": ("minor-major-seventh", "m(maj7)"),
    "+7": ("augmented-seventh", "+7"),
    "+j7": ("augmented-major-seventh", "+maj7"),
    "o7": ("diminished-seventh", "dim7"),
    "m7b5": ("half-diminished-seventh", "m7b5"),
    "sus": ("suspended-fourth", "sus"),
    "sus7": ("suspended-fourth-seventh", "7sus"),
    "7alt": ("dominant-seventh", "7alt"),
}
_TENSION_RE = re.compile(r"(9|11|13)([b#]?)")


def snap(beats: Fraction, grid: tuple[int, ...] = GRID) -> Fraction:
    """The nearest point of the grid (ties go to the coarser subdivision)."""
    candidates = [Fraction(round(beats * d), d) for d in grid]
    return min(candidates, key=lambda c: (abs(c - beats), c.denominator))


def _m21_name(pitch_class: int) -> str:
    from musicgen.music.chords import NOTE_NAMES

    name = NOTE_NAMES[pitch_class]
    return name[0] + name[1:].replace("b", "-")


def _split_quality(quality: str) -> tuple[str, str] | None:
    """'79b13' -> ('7', '(b9, 13)'); None when the base is not one music21 knows."""
    for base in sorted(_KINDS, key=len, reverse=True):
        rest = quality[len(base) :]
        if quality.startswith(base) and _TENSION_RE.sub("", rest) == "":
            tensions = [acc + deg for deg, acc in _TENSION_RE.findall(rest)]
            return base, f"({', '.join(tensions)})" if tensions else ""
    return None


def chord_symbol(symbol: str) -> harmony.Harmony | expressions.TextExpression:
    """A music21 chord symbol for a canonical symbol; plain text for anything it cannot express."""
    from musicgen.music.chords import ChordParseError, parse_chord

    try:
        chord = parse_chord(symbol)
    except ChordParseError:
        return expressions.TextExpression(symbol)
    if chord.is_nc:
        return harmony.NoChord()
    split = _split_quality(chord.quality)
    if split is None:
        return expressions.TextExpression(symbol)
    base, tensions = split
    kind, text = _KINDS[base]
    bass = None if chord.bass is None else _m21_name(chord.bass)
    return harmony.ChordSymbol(
        root=_m21_name(chord.root), bass=bass, kind=kind, kindStr=text + tensions
    )


def _new_part(part: stream.Part, bpm: float, beats_per_bar: int) -> stream.Part:
    part.insert(0, meter.TimeSignature(f"{beats_per_bar}/4"))
    part.insert(0, tempo.MetronomeMark(number=bpm))
    return part


def melody_clef(pitches: list[int]) -> clef.Clef:
    """Treble unless most sounding notes lie below G3 (a bass or baritone solo)."""
    sounding = sorted(p for p in pitches if p != REST)
    return clef.BassClef() if sounding and sounding[len(sounding) // 2] < 55 else clef.TrebleClef()


def lead_sheet_part(sheet: LeadSheet, bpm: float = 120) -> stream.Part:
    """The melody (with rests) and a chord symbol at every chord change.

    Chord symbols go into the finished measures: inserted before ``makeNotation`` they would
    count as notes overlapping the melody and split it into voices.
    """
    pitches = sheet.pitches.tolist()
    part = _new_part(stream.Part(), bpm, sheet.beats_per_bar)
    part.insert(0, melody_clef(pitches))
    bounds = [0, *(int(t) for t in sheet.durations.cumsum())]
    snapped = [snap(Fraction(t, sheet.ticks_per_beat)) for t in bounds]
    for i, pitch in enumerate(pitches):
        start, length = snapped[i], snapped[i + 1] - snapped[i]
        if length > 0:
            event = note.Rest() if pitch == REST else note.Note(int(pitch))
            event.quarterLength = length
            part.insert(start, event)
    if snapped[-1] < sheet.num_beats:
        part.insert(snapped[-1], note.Rest(quarterLength=sheet.num_beats - snapped[-1]))
    part = part.makeNotation()
    measures = list(part.getElementsByClass(stream.Measure))
    for beat, symbol in enumerate(sheet.chords):
        if beat == 0 or symbol != sheet.chords[beat - 1]:
            bar, offset = divmod(beat, sheet.beats_per_bar)
            measures[bar].insert(offset, chord_symbol(symbol))
    return part


def score_parts(score: PianoScore, bpm: float = 120) -> list[stream.PartStaff]:
    """Treble and bass staves; simultaneous notes become chords (music21 ``chordify``)."""
    step = Fraction(1, max(GRID))
    notes = []
    for onset, duration, pitch in zip(score.onsets, score.durations, score.pitches, strict=True):
        start = snap(Fraction(float(onset)).limit_denominator(960))
        stop = snap(Fraction(float(onset + duration)).limit_denominator(960))
        notes.append((start, max(stop - start, step), int(pitch)))
    end = max((s + n for s, n, _ in notes), default=Fraction(4))
    staves = []
    for treble, staff_clef in ((True, clef.TrebleClef()), (False, clef.BassClef())):
        hand = [n for n in notes if (n[2] >= SPLIT_PITCH) == treble]
        staff = stream.PartStaff()
        for onset, length, pitch in hand:
            staff.insert(onset, note.Note(pitch, quarterLength=length))
        if not hand:
            staff.insert(0, note.Rest(quarterLength=end))
        chords = staff.chordify()
        _new_part(chords, bpm, 4).insert(0, staff_clef)
        staves.append(chords.makeNotation())
    return staves


def lead_sheet_to_musicxml(sheet: LeadSheet, path: str | Path, tempo: float = 120) -> Path:
    """Write a lead sheet as MusicXML: melody on one staff, chord symbols above it."""
    return _write(stream.Score([lead_sheet_part(sheet, tempo)]), path, sheet.id)


def score_to_musicxml(score: PianoScore, path: str | Path, tempo: float = 120) -> Path:
    """Write a piano score as MusicXML on a braced treble + bass staff."""
    staves = score_parts(score, tempo)
    result = stream.Score(staves)
    result.insert(0, layout.StaffGroup(staves, symbol="brace"))
    return _write(result, path, score.id)


def _write(score: stream.Score, path: str | Path, title: str) -> Path:
    score.insert(0, metadata.Metadata(title=title))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.write("musicxml", fp=str(path))
    return path
