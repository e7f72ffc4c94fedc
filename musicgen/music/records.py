"""The two intermediate representations every data source is turned into.

``LeadSheet`` is a melody over one chord per beat (what JazzGPT reads and writes);
``PianoScore`` is a bag of piano notes in beats (what MAR-Y and the LSTM learn from).
Sources (WJD, MIDI folders, the embedded chorales) only have to produce these, and every
reader of music (metrics, n-grams, rendering) takes its notes in beats from ``record_notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from musicgen.music.tokens import expand_melody, melody_token, parse_melody_token

REST = 0
"""Pitch value of an explicit rest in a LeadSheet melody."""


@dataclass(frozen=True)
class LeadSheet:
    """A monophonic melody with explicit rests, over a chord symbol per beat.

    The melody starts on beat 0 of ``chords`` and its durations are whole grid ticks
    (``ticks_per_beat`` per beat), so onsets are exact integers.
    """

    id: str
    pitches: np.ndarray  # int, MIDI pitch, REST (0) for a rest
    durations: np.ndarray  # int, grid ticks, all > 0
    chords: tuple[str, ...]  # canonical chord symbol per beat ("NC" = no chord)
    ticks_per_beat: int = 24
    beats_per_bar: int = 4
    group: str = ""  # split key: copies of one source (e.g. transpositions) share it
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.pitches) != len(self.durations):
            raise ValueError(f"{self.id}: {len(self.pitches)} pitches but {len(self.durations)} durations")

    @property
    def onsets(self) -> np.ndarray:
        """Onset of each melody event, in ticks from beat 0."""
        return np.concatenate([[0], np.cumsum(self.durations)[:-1]]).astype(np.int64)

    @property
    def num_beats(self) -> int:
        return len(self.chords)

    def with_(self, **changes) -> LeadSheet:
        return replace(self, **changes)

    def tokens(self) -> list[str]:
        """The melody as JazzGPT tokens, ``"{pitch}:{ticks}"`` (pitch 0 = rest)."""
        return [melody_token(p, d) for p, d in zip(self.pitches.tolist(), self.durations.tolist(), strict=True)]

    @classmethod
    def from_tokens(cls, id: str, tokens: list[str], chords: tuple[str, ...], **fields) -> LeadSheet:
        """Inverse of ``tokens``; special tokens (``<...>``) are skipped, licks become their notes."""
        events = [parse_melody_token(t) for t in expand_melody(tokens)]
        pitches = np.array([p for p, _ in events], dtype=np.int64)
        durations = np.array([d for _, d in events], dtype=np.int64)
        return cls(id=id, pitches=pitches, durations=durations, chords=tuple(chords), **fields)


@dataclass(frozen=True)
class PianoScore:
    """Polyphonic piano notes measured in beats (from the file's own tempo map)."""

    id: str
    onsets: np.ndarray  # float, beats
    durations: np.ndarray  # float, beats, > 0
    pitches: np.ndarray  # int, MIDI pitch 0..127
    velocities: np.ndarray | None = None
    group: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.pitches)
        if len(self.onsets) != n or len(self.durations) != n:
            raise ValueError(f"{self.id}: onsets, durations and pitches differ in length")

    def __len__(self) -> int:
        return len(self.pitches)

    def with_(self, **changes) -> PianoScore:
        return replace(self, **changes)


Record = LeadSheet | PianoScore
RECORD_KINDS = ("lead_sheet", "piano")
"""What a model writes, as its ``data_info["kind"]`` says: lead sheets or piano scores."""


def record_kind(record: Record) -> str:
    """``"lead_sheet"`` or ``"piano"`` (``RECORD_KINDS``) for a record."""
    if isinstance(record, LeadSheet):
        return "lead_sheet"
    if isinstance(record, PianoScore):
        return "piano"
    raise TypeError(f"expected a LeadSheet or PianoScore, got {type(record).__name__}")


class Notes(NamedTuple):
    """A record's notes as arrays: onsets and durations in beats, MIDI pitches."""

    onsets: np.ndarray  # float64, beats
    durations: np.ndarray  # float64, beats
    pitches: np.ndarray  # int64


def record_notes(record: Record, rests: bool = False) -> Notes:
    """The notes of a record in beats: a lead sheet's melody events in time order (its rests
    dropped unless ``rests``, kept as pitch ``REST``), a piano score's notes as stored."""
    if isinstance(record, LeadSheet):
        keep = np.ones(len(record.pitches), dtype=bool) if rests else np.asarray(record.pitches) != REST
        tpb = record.ticks_per_beat
        return Notes(record.onsets[keep] / tpb,
                     np.asarray(record.durations, dtype=np.float64)[keep] / tpb,
                     np.asarray(record.pitches, dtype=np.int64)[keep])
    if isinstance(record, PianoScore):
        return Notes(np.asarray(record.onsets, dtype=np.float64),
                     np.asarray(record.durations, dtype=np.float64),
                     np.asarray(record.pitches, dtype=np.int64))
    raise TypeError(f"expected a LeadSheet or PianoScore, got {type(record).__name__}")
