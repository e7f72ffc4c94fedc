"""Pitch names and pitch classes (MIDI 60 = C4)."""

from __future__ import annotations

import re

FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
"""One name per pitch class, black keys as flats: how chord symbols spell roots and basses."""
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
"""Black keys as sharps: how a key signature with sharps spells them."""
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
"""The spelling of note names (``note_name``) and tokens built from them: the common
accidental of each black key. Changing it would rename the tokens of trained vocabularies."""
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NOTE_RE = re.compile(r"^([A-Ga-g])([#b\-]*)(-?\d+)$")


def pitch_class_of_name(name: str) -> int:
    """'Bb' -> 10, 'C#' -> 1, 'Fb' -> 4 (letter plus any number of '#', 'b' or music21's '-')."""
    if not name or name[0].upper() not in _LETTER_PC:
        raise ValueError(f"not a pitch name: {name!r}")
    pc = _LETTER_PC[name[0].upper()]
    for accidental in name[1:]:
        if accidental == "#":
            pc += 1
        elif accidental in "b-":
            pc -= 1
        else:
            raise ValueError(f"not a pitch name: {name!r}")
    return pc % 12


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific name with flats for black keys: 60 -> 'C4', 70 -> 'Bb4'."""
    return f"{PITCH_CLASS_NAMES[int(pitch) % 12]}{int(pitch) // 12 - 1}"


def parse_note_name(name: str) -> int:
    """'C4' -> 60, 'Bb3' -> 58, 'C#-1' -> 1; raises ValueError naming the text otherwise."""
    match = _NOTE_RE.match(name.strip())
    if not match:
        raise ValueError(f"not a note name: {name!r}")
    letter, accidentals, octave = match.groups()
    pc = _LETTER_PC[letter.upper()] + accidentals.count("#") - accidentals.count("b") - accidentals.count("-")
    pitch = (int(octave) + 1) * 12 + pc
    if not 0 <= pitch <= 127:
        raise ValueError(f"note {name!r} is outside MIDI range 0-127")
    return pitch
