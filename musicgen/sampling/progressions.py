"""Chord inputs for sampling: typed progressions, named standards, the changes of a WJD solo, or a
user's lead-sheet file."""

from __future__ import annotations

import bisect
import re
from pathlib import Path

from musicgen.music.chords import ChordParseError, canonical, parse_chord, transpose_chord
from musicgen.music.pitch import pitch_class_of_name
from musicgen.sampling.user_music import MIDI_SUFFIXES, MUSICXML_SUFFIXES, lead_sheet_file_chords

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


SECTION_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9']*:$")
"""``A1:``, ``B:``, ``Intro:``: the section labels of the chord-changes notation jazz databases
use (the WJD's ``solo_info.chord_changes``: ``A1: ||G- |G- |F7 |Bb7 ||``)."""


LONGEST_CHORD = 32
"""Chord symbols are far shorter (``Bb-7911#13b/Ab`` is 14): splitting a word never tries a longer piece."""


def split_joined(word: str) -> list[str]:
    """``"Gj7F7E7"`` → ``["Gj7", "F7", "E7"]``: chords written without spaces between them (as
    the WJD's chord changes often are), split where a new root letter (or ``NC``) starts so that
    every part is a chord. Raises the ChordParseError of the whole word when no split reads.

    The whole word is tried first, then the earliest cut whose rest splits too; the rests are
    solved from the end of the word once each, so a long word costs a few parses per letter."""
    try:
        return [canonical(word)]
    except ChordParseError as error:
        whole = error
    cuts = [
        i for i in range(1, len(word))
        if (word[i] in "ABCDEFG" or word.startswith("NC", i)) and word[i - 1] != "/"
    ]
    points = [0, *cuts, len(word)]
    last = len(points) - 1
    rests: dict[int, list[str]] = {last: []}  # point -> the split of word[point:]
    for start in range(last - 1, -1, -1):
        reach = bisect.bisect_right(points, points[start] + LONGEST_CHORD, start + 1, last)
        for end in (last, *range(start + 1, reach)):  # the whole rest first, then the earliest cut
            if end not in rests or points[end] - points[start] > LONGEST_CHORD:
                continue
            try:
                rests[start] = [canonical(word[points[start] : points[end]]), *rests[end]]
                break
            except ChordParseError:
                continue
    if 0 in rests:
        return rests[0]
    raise whole from None


def parse_progression(text: str, beats_per_bar: int = 4, source: str = "") -> list[str]:
    """``"Bb6 G7 | C-7 F7"`` → one canonical chord per beat; a bar's chords share its beats evenly.

    Bars end at ``|`` or a line break; spaces and tabs separate chords, and empty bars are skipped,
    so double bars (``||``) and section labels (``A1:``) of chord-changes notation read as well.
    ``source`` (a file name) goes in front of the bar number in errors.

    When the beats do not divide evenly the earlier chords get the extra beat (3 chords in 4/4:
    2 + 1 + 1). An unknown symbol raises ChordParseError naming it.
    """
    beats: list[str] = []
    bars = [[w for w in bar.split() if not SECTION_LABEL.match(w)] for bar in re.split(r"[|\n]", text)]
    bars = [bar for bar in bars if bar]
    if not bars:
        raise ValueError(f"chords: {source or 'the progression'} is empty")
    prefix = f"{source}, " if source else ""
    for number, bar in enumerate(bars, start=1):
        try:
            bar = [chord for word in bar for chord in split_joined(word)]
        except ChordParseError as error:
            where = f"{prefix}bar {number}" + (f", {error.reason}" if error.reason else "")
            raise ChordParseError(error.symbol, where) from None
        if len(bar) > beats_per_bar:
            raise ValueError(
                f"chords: {prefix}bar {number} has {len(bar)} chords but only {beats_per_bar} beats"
            )
        share, extra = divmod(beats_per_bar, len(bar))
        for i, chord in enumerate(bar):
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
    bars of chord symbols, a ``.txt`` file of them, or a MusicXML or MIDI lead sheet
    (``user_music``); ``key`` transposes a named progression, ``choruses`` repeats it."""
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
        if spec.lower().endswith(".txt"):
            path = Path(spec).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"chords={spec}: no such file")
            beats = parse_progression(path.read_text(errors="replace"), beats_per_bar, str(path))
        elif spec.lower().endswith(MUSICXML_SUFFIXES + MIDI_SUFFIXES):
            beats = lead_sheet_file_chords(spec, beats_per_bar)
        else:
            beats = parse_progression(spec, beats_per_bar)
    if choruses < 1:
        raise ValueError(f"choruses must be at least 1, got {choruses}")
    for symbol in set(beats):
        parse_chord(symbol)
    return beats * choruses
