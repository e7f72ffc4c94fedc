"""Transposing records: melody and harmony move together, so a transposed copy stays in tune.

A note pushed outside the allowed pitch range is either moved by octaves back inside it
(``policy="fold"``: the melody keeps its pitch classes, so it still fits the chords) or the whole
copy is dropped (``policy="drop"``: returns None), for callers that prefer fewer but unaltered
copies. Rests (pitch 0) never move.
"""

from __future__ import annotations

import numpy as np

from musicgen.music.chords import transpose_chord
from musicgen.music.records import REST, LeadSheet, PianoScore
from musicgen.music.tokens import UNK

POLICIES = ("fold", "drop")


def transpose_lead_sheet(
    sheet: LeadSheet, semitones: int, low: int = 1, high: int = 127, policy: str = "fold"
) -> LeadSheet | None:
    """Melody and every chord moved by ``semitones``; the id gets an ``@+3`` style suffix.

    ``low``/``high`` bound the sounding notes (inclusive; 1 because pitch 0 means rest).
    ``meta["folded"]`` counts notes moved by octaves. ``<unk>`` chords stay as they are.
    """
    semitones = int(semitones)
    pitches = np.asarray(sheet.pitches, dtype=np.int64)
    sounding = pitches != REST
    moved, folded = _move(pitches[sounding] + semitones, low, high, policy)
    if moved is None:
        return None
    new_pitches = pitches.copy()
    new_pitches[sounding] = moved
    chords = tuple(c if c == UNK else transpose_chord(c, semitones) for c in sheet.chords)
    return sheet.with_(
        id=_suffixed(sheet.id, semitones),
        pitches=new_pitches,
        chords=chords,
        meta={**sheet.meta, "transposition": semitones, "folded": folded},
    )


def transpose_score(
    score: PianoScore, semitones: int, low: int = 0, high: int = 127, policy: str = "fold"
) -> PianoScore | None:
    """A piano score moved by ``semitones``; same range policies as ``transpose_lead_sheet``."""
    semitones = int(semitones)
    moved, folded = _move(np.asarray(score.pitches, dtype=np.int64) + semitones, low, high, policy)
    if moved is None:
        return None
    return score.with_(
        id=_suffixed(score.id, semitones),
        pitches=moved,
        meta={**score.meta, "transposition": semitones, "folded": folded},
    )


def fold_into_range(pitches: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move each pitch by whole octaves into ``[low, high]`` (needs a range of 12+ semitones)."""
    if high - low < 11:
        raise ValueError(f"pitch range {low}-{high} is narrower than an octave; cannot fold")
    pitches = np.asarray(pitches, dtype=np.int64)
    up = np.maximum(0, -((pitches - low) // 12))  # octaves needed to reach low
    down = np.maximum(0, -((high - pitches) // 12))  # octaves needed to come down to high
    return pitches + 12 * up - 12 * down


def _move(pitches: np.ndarray, low: int, high: int, policy: str) -> tuple[np.ndarray | None, int]:
    if policy not in POLICIES:
        raise ValueError(f"transpose policy {policy!r} is not one of {POLICIES}")
    outside = int(np.count_nonzero((pitches < low) | (pitches > high)))
    if outside == 0:
        return pitches, 0
    if policy == "drop":
        return None, outside
    return fold_into_range(pitches, low, high), outside


def _suffixed(record_id: str, semitones: int) -> str:
    """'wjazzd:1' -> 'wjazzd:1@+3'; an untransposed copy keeps its id."""
    return record_id if semitones == 0 else f"{record_id}@{semitones:+d}"
