"""The two intermediate representations every data source is turned into.

``LeadSheet`` is a melody over one chord per beat (what JazzGPT reads and writes);
``PianoScore`` is a bag of piano notes in beats (what MAR-Y and the LSTM learn from).
Sources (WJD, MIDI folders, the embedded chorales) only have to produce these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

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
        """Inverse of ``tokens``; special tokens (``<...>``) are skipped."""
        events = [parse_melody_token(t) for t in tokens if not t.startswith("<")]
        pitches = np.array([p for p, _ in events], dtype=np.int64)
        durations = np.array([d for _, d in events], dtype=np.int64)
        return cls(id=id, pitches=pitches, durations=durations, chords=tuple(chords), **fields)


def melody_token(pitch: int, ticks: int) -> str:
    return f"{int(pitch)}:{int(ticks)}"


def parse_melody_token(token: str) -> tuple[int, int]:
    """``"60:12"`` -> (60, 12); raises ValueError naming the token otherwise."""
    pitch, sep, ticks = token.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(pitch), int(ticks)
    except ValueError:
        raise ValueError(f"not a melody token (pitch:ticks): {token!r}") from None


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
