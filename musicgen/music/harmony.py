"""Naming the chord that a set of sounding pitches forms (used to give the chorales a harmony).

A small template matcher rather than music21's chordify + figure naming: it always returns a
symbol our chord parser reads, and it is fast enough to run on every beat of a corpus.
"""

from __future__ import annotations

from collections.abc import Iterable

from musicgen.music.pitch import PITCH_CLASS_NAMES

# quality (WJD syntax) -> intervals above the root; triads first so ties favour simpler chords
CHORD_TEMPLATES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "-": (0, 3, 7),
    "o": (0, 3, 6),
    "+": (0, 4, 8),
    "sus": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "-7": (0, 3, 7, 10),
    "j7": (0, 4, 7, 11),
    "m7b5": (0, 3, 6, 10),
    "o7": (0, 3, 6, 9),
}


def name_chord(pitches: Iterable[int], bass: int | None = None) -> str:
    """The best-fitting chord symbol for sounding MIDI pitches, e.g. {48, 52, 55, 58} -> 'C7'.

    Score = template tones present - 0.5 * sounding pitch classes outside the template
    - 0.5 * template tones missing; the bass note's pitch class wins ties as root.
    Returns 'NC' when nothing sounds.
    """
    pcs = {int(p) % 12 for p in pitches}
    if not pcs:
        return "NC"
    bass_pc = None if bass is None else int(bass) % 12
    best_key: tuple[float, bool, int] | None = None
    best_name = "NC"
    for root in sorted(pcs):
        for order, (quality, intervals) in enumerate(CHORD_TEMPLATES.items()):
            tones = {(root + i) % 12 for i in intervals}
            score = len(tones & pcs) - 0.5 * len(pcs - tones) - 0.5 * len(tones - pcs)
            key = (score, root == bass_pc, -order)
            if best_key is None or key > best_key:
                best_key, best_name = key, f"{PITCH_CLASS_NAMES[root]}{quality}"
    return best_name
