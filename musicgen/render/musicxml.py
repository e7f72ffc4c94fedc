"""Records -> MusicXML scores (via music21) that notation programs open: lead sheets with chord
symbols above the staff, piano scores on a grand staff.

Onsets are snapped to the nearest sixteenth or sixteenth-sextuplet (``GRID``): the model's
1/24-beat grid would otherwise write unreadable 32nd-note tuplets. Events that snap to zero
length are dropped from the notation only; the MIDI and WAV renders keep every note. The key
signature is the record's key (``render.midi.record_key``), pitches and chord roots are spelled
for it, and notes are split and tied where engravers split them (``engraving_pieces``).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from music21 import (
    clef,
    duration,
    expressions,
    harmony,
    key,
    layout,
    metadata,
    meter,
    note,
    stream,
    tempo,
)
from music21 import tie as m21tie

from musicgen.music.key import spell
from musicgen.music.records import REST, LeadSheet, PianoScore
from musicgen.render.midi import instrument_label, record_key

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


def _m21_name(pitch_class: int, sharps: int = 0) -> str:
    name = spell(pitch_class, sharps)
    return name[0] + name[1:].replace("b", "-")


def spelled_note(pitch: int, sharps: int) -> note.Note:
    """A note named as the key signature prefers (Eb, not D#, in F major)."""
    return note.Note(f"{_m21_name(pitch, sharps)}{int(pitch) // 12 - 1}")


def notatable(length: Fraction) -> bool:
    """One note value, plain or in a plain triplet (3:2): what a reader takes in at a glance
    (5/6 of a beat would be a 6:5 tuplet)."""
    value = duration.Duration(length)
    return not value.isComplex and value.type != "inexpressible" and all(
        (t.numberNotesActual, t.numberNotesNormal) == (3, 2) for t in value.tuplets
    )


def engraving_pieces(start: Fraction, length: Fraction, beats_per_bar: int) -> list[Fraction]:
    """The lengths an event is written in, tied together, as engravers split notes: at bar lines,
    at the middle of an even-metre bar (unless it starts on the downbeat), at the next beat when
    it starts off the beat, at the last beat when a long note ends off the beat, and into plain
    note values (5/6 beat = 2/3 + 1/6), so the reader always sees where the beats fall."""
    pieces, end = [], start + length
    half = Fraction(beats_per_bar, 2)
    while start < end:
        bar_start = (start // beats_per_bar) * beats_per_bar
        cuts = [bar_start + beats_per_bar]
        if beats_per_bar % 2 == 0 and start != bar_start:
            cuts.append((start // half) * half + half)
        if start.denominator != 1:
            cuts.append(Fraction(start // 1 + 1))
        elif end.denominator != 1 and end - start > 1:
            cuts.append(Fraction(end // 1))
        cut = min([c for c in cuts if c < end] or [end])
        if not notatable(cut - start):  # the longest plain value on the piece's own grid first
            step = Fraction(1, (cut - start).denominator)
            values = [k * step for k in range(1, (cut - start) // step) if notatable(k * step)]
            cut = start + max(values, default=cut - start)
        pieces.append(cut - start)
        start = cut
    return pieces


def bracket_tuplets_by_beat(measure: stream.Measure) -> None:
    """One tuplet bracket per beat, over that beat's triplet notes (``engraving_pieces`` keeps
    every tuplet note inside one beat); music21 would bracket any run of them across beats."""
    beats: dict[int, list[note.GeneralNote]] = {}
    for event in measure.notesAndRests:
        if event.duration.tuplets:
            beats.setdefault(int(event.offset // 1), []).append(event)
    for events in beats.values():
        for i, event in enumerate(events):
            tuplet = event.duration.tuplets[0]
            last = i == len(events) - 1
            tuplet.type = "startStop" if len(events) == 1 else "start" if i == 0 else "stop" if last else None
            tuplet.bracket = True


def make_notation(part: stream.Part) -> stream.Part:
    """Measures, beams, accidentals and tuplet brackets for notes already split by
    ``engraving_pieces``: music21's ``makeNotation`` would also re-split notes to "complete"
    tuplets, turning a dotted eighth after a sextuplet into 1/3 + a 6:5 tuplet."""
    from music21.stream import makeNotation

    measured = part.makeMeasures()
    measured.partName = part.partName
    makeNotation.makeTies(measured, inPlace=True)
    makeNotation.makeBeams(measured, inPlace=True)
    for measure in measured.getElementsByClass(stream.Measure):
        bracket_tuplets_by_beat(measure)
    measured.makeAccidentals(inPlace=True)
    return measured


def _tied_events(pitch: int, start: Fraction, length: Fraction, sharps: int, beats_per_bar: int):
    """(offset, note or rest) pieces of one event; sounding pieces are tied."""
    pieces = engraving_pieces(start, length, beats_per_bar)
    offset = start
    for i, piece in enumerate(pieces):
        event = note.Rest() if pitch == REST else spelled_note(pitch, sharps)
        event.quarterLength = piece
        if pitch != REST and len(pieces) > 1:
            kind = "start" if i == 0 else "stop" if i == len(pieces) - 1 else "continue"
            event.tie = m21tie.Tie(kind)
        yield offset, event
        offset += piece


def _split_quality(quality: str) -> tuple[str, str] | None:
    """'79b13' -> ('7', '(b9, 13)'); None when the base is not one music21 knows."""
    for base in sorted(_KINDS, key=len, reverse=True):
        rest = quality[len(base) :]
        if quality.startswith(base) and _TENSION_RE.sub("", rest) == "":
            tensions = [acc + deg for deg, acc in _TENSION_RE.findall(rest)]
            return base, f"({', '.join(tensions)})" if tensions else ""
    return None


def chord_symbol(symbol: str, sharps: int = 0) -> harmony.Harmony | expressions.TextExpression:
    """A music21 chord symbol for a canonical symbol, roots spelled for a key signature of
    ``sharps``; plain text for anything it cannot express."""
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
    bass = None if chord.bass is None else _m21_name(chord.bass, sharps)
    return harmony.ChordSymbol(
        root=_m21_name(chord.root, sharps), bass=bass, kind=kind, kindStr=text + tensions
    )


def _new_part(
    part: stream.Part, bpm: float, beats_per_bar: int, sharps: int, name: str
) -> stream.Part:
    part.insert(0, meter.TimeSignature(f"{beats_per_bar}/4"))
    part.insert(0, key.KeySignature(sharps))
    part.insert(0, tempo.MetronomeMark(number=bpm))
    part.partName = name
    return part


def melody_clef(pitches: list[int]) -> clef.Clef:
    """Treble unless most sounding notes lie below G3 (a bass or baritone solo)."""
    sounding = sorted(p for p in pitches if p != REST)
    return clef.BassClef() if sounding and sounding[len(sounding) // 2] < 55 else clef.TrebleClef()


def lead_sheet_part(sheet: LeadSheet, bpm: float = 120, instrument: str = "alto_sax") -> stream.Part:
    """The melody (with rests) and a chord symbol at every chord change, in the sheet's key.

    Chord symbols go into the finished measures: inserted before ``makeNotation`` they would
    count as notes overlapping the melody and split it into voices.
    """
    pitches = sheet.pitches.tolist()
    sharps = record_key(sheet).sharps
    bars = sheet.beats_per_bar
    part = _new_part(stream.Part(), bpm, bars, sharps, instrument_label(instrument))
    part.insert(0, melody_clef(pitches))
    bounds = [0, *(int(t) for t in sheet.durations.cumsum())]
    snapped = [snap(Fraction(t, sheet.ticks_per_beat)) for t in bounds]
    events = [(snapped[i], snapped[i + 1] - snapped[i], int(p)) for i, p in enumerate(pitches)]
    if snapped[-1] < sheet.num_beats:
        events.append((snapped[-1], sheet.num_beats - snapped[-1], REST))
    for start, length, pitch in events:
        if length > 0:
            for offset, event in _tied_events(pitch, start, length, sharps, bars):
                part.insert(offset, event)
    part = make_notation(part)
    measures = list(part.getElementsByClass(stream.Measure))
    for beat, symbol in enumerate(sheet.chords):
        if beat == 0 or symbol != sheet.chords[beat - 1]:
            bar, offset = divmod(beat, bars)
            measures[bar].insert(offset, chord_symbol(symbol, sharps))
    return part


def score_parts(score: PianoScore, bpm: float = 120) -> list[stream.PartStaff]:
    """Treble and bass staves; simultaneous notes become chords (music21 ``chordify``)."""
    step = Fraction(1, max(GRID))
    notes = []
    for onset, length, pitch in zip(score.onsets, score.durations, score.pitches, strict=True):
        start = snap(Fraction(float(onset)).limit_denominator(960))
        stop = snap(Fraction(float(onset + length)).limit_denominator(960))
        notes.append((start, max(stop - start, step), int(pitch)))
    end = max((s + n for s, n, _ in notes), default=Fraction(4))
    sharps = record_key(score).sharps
    staves = []
    for treble, staff_clef in ((True, clef.TrebleClef()), (False, clef.BassClef())):
        hand = [n for n in notes if (n[2] >= SPLIT_PITCH) == treble]
        staff = stream.PartStaff()
        for onset, length, pitch in hand:
            event = spelled_note(pitch, sharps)
            event.quarterLength = length
            staff.insert(onset, event)
        if not hand:
            staff.insert(0, note.Rest(quarterLength=end))
        chords = staff.chordify()
        _new_part(chords, bpm, 4, sharps, "Piano").insert(0, staff_clef)
        staves.append(chords.makeNotation())
    return staves


def lead_sheet_to_musicxml(
    sheet: LeadSheet,
    path: str | Path,
    tempo: float = 120,
    instrument: str = "alto_sax",
    title: str | None = None,
) -> Path:
    """Write a lead sheet as MusicXML: melody on one staff, chord symbols above it."""
    part = lead_sheet_part(sheet, tempo, instrument)
    return _write(stream.Score([part]), path, title or sheet.id)


def score_to_musicxml(
    score: PianoScore, path: str | Path, tempo: float = 120, title: str | None = None
) -> Path:
    """Write a piano score as MusicXML on a braced treble + bass staff."""
    staves = score_parts(score, tempo)
    result = stream.Score(staves)
    result.insert(0, layout.StaffGroup(staves, symbol="brace", name="Piano"))
    return _write(result, path, title or score.id)


def _write(score: stream.Score, path: str | Path, title: str) -> Path:
    score.insert(0, metadata.Metadata(title=title))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.write("musicxml", fp=str(path))
    return path
