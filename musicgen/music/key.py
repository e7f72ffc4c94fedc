"""Keys: which key a piece is in, its key signature, and how to spell a pitch in it.

The key is found with the Krumhansl-Kessler profiles (correlation with the piece's pitch-class
weights); lead sheets also count their chord tones, and the first and last chord roots, which is
where a tune states its tonic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from musicgen.music.chords import ChordParseError, parse_chord
from musicgen.music.pitch import FLAT_NAMES, SHARP_NAMES, pitch_class_of_name

MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)

_MAJOR_SHARPS = (0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5)
"""Sharps (negative: flats) of the major key on each tonic pitch class; F# (6 sharps) over Gb."""

TONIC_WEIGHT = 4.0
"""Extra weight of the first and last chord roots (in beats of chord tones)."""


@dataclass(frozen=True)
class Key:
    tonic: int
    """Pitch class, 0 = C."""
    minor: bool = False

    @property
    def sharps(self) -> int:
        """Key signature: number of sharps, negative for flats (F major -1, E minor 1)."""
        if self.minor:  # Eb minor (6 flats) is written far more often than D# minor
            relative_major = (self.tonic + 3) % 12
            return -6 if relative_major == 6 else _MAJOR_SHARPS[relative_major]
        return _MAJOR_SHARPS[self.tonic]

    @property
    def name(self) -> str:
        return f"{spell(self.tonic, self.sharps)} {'minor' if self.minor else 'major'}"

    @property
    def midi_number(self) -> int:
        """pretty_midi's key number: 0-11 major on C..B, 12-23 minor."""
        return self.tonic + (12 if self.minor else 0)


def spell(pitch_class: int, sharps: int) -> str:
    """A pitch class named the way a key signature with ``sharps`` prefers: sharps in sharp keys,
    flats in flat keys and in C (blue notes Eb, Bb, Ab), except F# in C (the raised fourth)."""
    pc = int(pitch_class) % 12
    if sharps > 0 or (sharps == 0 and pc == 6):
        return SHARP_NAMES[pc]
    return FLAT_NAMES[pc]


def estimate_key(weights: Iterable[float]) -> Key:
    """The major or minor key whose profile best correlates with 12 pitch-class weights
    (C major when nothing sounds)."""
    w = np.asarray(list(weights), dtype=float)
    if w.shape != (12,):
        raise ValueError(f"expected 12 pitch-class weights, got {w.shape}")
    if not w.any():
        return Key(0)
    best, best_score = Key(0), -np.inf
    for minor, profile in ((False, MAJOR_PROFILE), (True, MINOR_PROFILE)):
        for tonic in range(12):
            score = np.corrcoef(w, np.roll(profile, tonic))[0, 1]
            if score > best_score + 1e-12:
                best, best_score = Key(tonic, minor), score
    return best


def pitch_class_weights(pitches: Iterable[int], durations: Iterable[float]) -> np.ndarray:
    """How long each pitch class sounds (rests, pitch 0, are skipped)."""
    w = np.zeros(12)
    for pitch, duration in zip(pitches, durations, strict=True):
        if int(pitch) > 0:
            w[int(pitch) % 12] += float(duration)
    return w


def chord_weights(chords: Iterable[str]) -> np.ndarray:
    """One beat of weight per chord tone per beat, plus ``TONIC_WEIGHT`` on the first and last
    chord roots; unknown symbols and NC count nothing."""
    w = np.zeros(12)
    roots = []
    for symbol in chords:
        try:
            chord = parse_chord(symbol)
        except ChordParseError:
            continue
        if chord.is_nc:
            continue
        roots.append(chord.root)
        for tone in chord.tones:
            w[tone % 12] += 1.0
    if roots:
        w[roots[0]] += TONIC_WEIGHT
        w[roots[-1]] += TONIC_WEIGHT
    return w


KEY_IDS = 24
"""Keys as ids: ``Key.midi_number`` (0-11 major on C..B, 12-23 minor)."""
KEY_DIM = 14
"""The key vector the piano models read (``key_vector``): tonic one-hot (12), then mode one-hot
(2: major, minor)."""
MODES = ("major", "minor")


def key_from_id(key_id: int) -> Key:
    """The inverse of ``Key.midi_number``."""
    if not 0 <= int(key_id) < KEY_IDS:
        raise ValueError(f"key id {key_id} is not in 0..{KEY_IDS - 1}")
    return Key(int(key_id) % 12, int(key_id) >= 12)


def transpose_key(key: Key, semitones: int) -> Key:
    """The key of a piece moved by ``semitones``: the tonic moves, the mode stays."""
    return Key((key.tonic + int(semitones)) % 12, key.minor)


def key_vector(key: Key) -> np.ndarray:
    """The ``KEY_DIM`` vector of a key: tonic one-hot, then mode one-hot (major, minor)."""
    vector = np.zeros(KEY_DIM, dtype=np.float32)
    vector[key.tonic] = 1.0
    vector[12 + int(key.minor)] = 1.0
    return vector


def score_key(pitches: Iterable[int], durations: Iterable[float]) -> Key:
    """The key of a piece's notes, weighting each pitch class by how long it sounds."""
    return estimate_key(pitch_class_weights(pitches, durations))


def parse_key(tonic: str, mode: str | None = None) -> Key:
    """A key a user asks for: ``parse_key("Eb", "major")``; ``mode`` None means major.

    Raises ValueError in one line naming the bad tonic or mode."""
    try:
        pitch_class = pitch_class_of_name(str(tonic).strip())
    except ValueError:
        raise ValueError(
            f"key={tonic}: not a tonic; write a note name such as C, Eb or F#"
        ) from None
    mode = "major" if mode is None else str(mode).strip().lower()
    if mode not in MODES:
        raise ValueError(f"mode={mode}: expected {' or '.join(MODES)}")
    return Key(pitch_class, mode == "minor")

