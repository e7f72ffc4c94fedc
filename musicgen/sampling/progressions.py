"""Chord inputs for sampling: typed progressions, named standards, or the changes of a WJD solo."""

from __future__ import annotations

import re
from pathlib import Path

from musicgen.music.chords import ChordParseError, canonical, parse_chord, transpose_chord
from musicgen.music.pitch import pitch_class_of_name

# Named progressions: (key as written, bars separated by "|").
PROGRESSIONS: dict[str, tuple[str, str]] = {
    "rhythm_changes": (
        "Bb",
        "Bb6 G7 | C-7 F7 | Bb6 G7 | C-7 F7 | Bb6 Bb7 | Eb6 Eo7 | Bb6 G7 | C-7 F7 | "
        "Bb6 G7 | C-7 F7 | Bb6 G7 | C-7 F7 | Bb6 Bb7 | Eb6 Eo7 | Bb6 F7 | Bb6 | "
        "D7 | D7 | G7 | G7 | C7 | C7 | F7 | F7 | "
        "Bb6 G7 | C-7 F7 | Bb6 G7 | C-7 F7 | Bb6 Bb7 | Eb6 Eo7 | Bb6 F7 | Bb6",
    ),
    "blues": (
        "F",
        "F7 | Bb7 | F7 | C-7 F7 | Bb7 | Bo7 | F7 | A-7 D7 | G-7 | C7 | F7 D7 | G-7 C7",
    ),
    "minor_blues": ("C", "C-7 | C-7 | C-7 | C-7 | F-7 | F-7 | C-7 | C-7 | Ab7 | G7 | C-7 | G7"),
    "ii_v_i": ("C", "D-7 | G7 | Cj7 | Cj7"),
    "autumn_leaves": ("G", "A-7 | D7 | Gj7 | Cj7 | F#m7b5 | B7 | E- | E-"),
}


def parse_progression(text: str, beats_per_bar: int = 4) -> list[str]:
    """``"Bb6 G7 | C-7 F7"`` → one canonical chord per beat; a bar's chords share its beats evenly.

    Bars end at ``|`` or a line break; spaces and tabs separate chords, and empty bars are skipped.

    When the beats do not divide evenly the earlier chords get the extra beat (3 chords in 4/4:
    2 + 1 + 1). An unknown symbol raises ChordParseError naming it.
    """
    beats: list[str] = []
    bars = [bar.split() for bar in re.split(r"[|\n]", text)]
    bars = [bar for bar in bars if bar]
    if not bars:
        raise ValueError("chords: the progression is empty")
    for number, bar in enumerate(bars, start=1):
        if len(bar) > beats_per_bar:
            raise ValueError(f"chords: bar {number} has {len(bar)} chords but only {beats_per_bar} beats")
        share, extra = divmod(beats_per_bar, len(bar))
        for i, symbol in enumerate(bar):
            try:
                chord = canonical(symbol)
            except ChordParseError as error:
                where = f"bar {number}" + (f", {error.reason}" if error.reason else "")
                raise ChordParseError(symbol, where) from None
            beats += [chord] * (share + (1 if i < extra else 0))
    return beats


def resolve_chords(
    spec: str,
    key: str | None = None,
    choruses: int = 1,
    beats_per_bar: int = 4,
    wjazzd_path: str | Path | None = None,
) -> list[str]:
    """Chords per beat from a user's ``chords=`` value: a named progression, ``wjazzd:<melid>``,
    or bars of chord symbols; ``key`` transposes a named progression, ``choruses`` repeats it."""
    spec = spec.strip()
    if spec in PROGRESSIONS:
        written_key, text = PROGRESSIONS[spec]
        beats = parse_progression(text, beats_per_bar)
        if key:
            try:
                target = pitch_class_of_name(str(key))
            except ValueError:
                raise ValueError(f"key={key}: not a key name (C, F#, Bb, ...)") from None
            shift = (target - pitch_class_of_name(written_key)) % 12
            shift = shift - 12 if shift > 6 else shift
            beats = [transpose_chord(c, shift) for c in beats]
    elif spec.startswith("wjazzd:"):
        from musicgen.data.wjazzd import solo_progression

        if wjazzd_path is None:
            raise ValueError("chords=wjazzd:<melid> needs wjazzd_path=/path/to/wjazzd.db")
        melid = spec.partition(":")[2]
        if not melid.isdigit():
            raise ValueError(f"chords={spec}: expected wjazzd:<melid> with a number")
        beats = solo_progression(wjazzd_path, int(melid))
    else:
        if key:
            raise ValueError("key= only applies to named progressions: " + ", ".join(PROGRESSIONS))
        beats = parse_progression(spec, beats_per_bar)
    if choruses < 1:
        raise ValueError(f"choruses must be at least 1, got {choruses}")
    for symbol in set(beats):
        parse_chord(symbol)
    return beats * choruses
