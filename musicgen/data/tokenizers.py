"""Piano scores <-> token strings for the next-token models (MAR-Y, the LSTM baseline).

Two schemes, both reading the score as onset groups on a grid (``musicgen.music.grouping``):

``paper`` (MAR-Y): one token per onset group, ``"C4.E4.G4 1.0"`` = the group's pitches, low to
high, and how long it sounds in beats; ``"R 0.5"`` is silence. Time is implicit: every token
advances it by its own length, so a group sounds until the next token starts. To keep onsets
exact a group's length is its longest note cut at the next onset, and a gap before the next
onset becomes rests (at most ``max_rest`` beats each, so long silences reuse a few tokens).
Monophonic lines and block chords round-trip at grid precision; in overlapping polyphony a
held note is shortened to the next onset and a chord's notes all take its longest length.

``skuli`` (the classic LSTM composer): a note's name (``"C4"``) or a chord's distinct pitch
classes ascending (``"0.4.7"``), with no durations; decoding spaces tokens ``step`` beats apart
and voices chords in octave 4, as the original did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from musicgen.music.grouping import OnsetGroup, group_onsets
from musicgen.music.pitch import note_name, parse_note_name
from musicgen.music.records import PianoScore

REST = "R"


class Tokenizer(Protocol):
    """What the sequence data module and the samplers need from a token scheme."""

    def encode(self, score: PianoScore) -> list[str]: ...

    def decode(self, tokens: Sequence[str]) -> PianoScore: ...

    def info(self) -> dict[str, Any]: ...


def _beats_text(steps: int, grid: int) -> str:
    return repr(round(steps / grid, 4))


def _score(notes: list[tuple[float, float, int]], name: str) -> PianoScore:
    table = np.array(notes, dtype=np.float64).reshape(-1, 3)
    return PianoScore(name, table[:, 0], table[:, 1], table[:, 2].astype(np.int64))


def _groups(score: PianoScore, grid: int) -> list[OnsetGroup]:
    return group_onsets(score.onsets, score.durations, score.pitches, grid)


class PaperTokenizer:
    """MAR-Y's onset-group tokens with explicit rests (see the module docstring)."""

    kind = "paper"

    def __init__(self, grid: int = 4, max_rest: float = 4.0):
        if grid < 1:
            raise ValueError(f"paper tokenizer: grid must be >= 1 step per beat, got {grid}")
        self.grid = int(grid)
        self.max_rest = float(max_rest)
        self._max_rest_steps = round(self.max_rest * self.grid)
        if self._max_rest_steps < 1:
            raise ValueError(f"paper tokenizer: max_rest {max_rest} is shorter than one grid step")

    def _rests(self, steps: int) -> list[str]:
        full, rest = divmod(steps, self._max_rest_steps)
        chunks = [self._max_rest_steps] * full + ([rest] if rest else [])
        return [f"{REST} {_beats_text(s, self.grid)}" for s in chunks]

    def encode(self, score: PianoScore) -> list[str]:
        groups = _groups(score, self.grid)
        tokens: list[str] = []
        cursor = 0
        for i, group in enumerate(groups):
            if group.step > cursor:
                tokens += self._rests(group.step - cursor)
            length = group.longest
            if i + 1 < len(groups):
                length = min(length, groups[i + 1].step - group.step)
            names = ".".join(note_name(p) for p in group.pitches)
            tokens.append(f"{names} {_beats_text(length, self.grid)}")
            cursor = group.step + length
        return tokens

    def _parse(self, token: str) -> tuple[list[int], int] | None:
        """(pitches, length in steps), [] pitches for a rest; None for anything else."""
        head, _, length_text = token.partition(" ")
        try:
            steps = round(float(length_text) * self.grid)
            pitches = [] if head == REST else [parse_note_name(n) for n in head.split(".")]
        except (ValueError, OverflowError):
            return None
        return (pitches, steps) if steps > 0 else None

    def decode(self, tokens: Sequence[str]) -> PianoScore:
        notes: list[tuple[float, float, int]] = []
        cursor = 0
        for token in tokens:
            parsed = self._parse(token)
            if parsed is None:
                continue
            pitches, steps = parsed
            notes += [(cursor / self.grid, steps / self.grid, p) for p in pitches]
            cursor += steps
        return _score(notes, "decoded")

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "grid": self.grid, "max_rest": self.max_rest}


class SkuliTokenizer:
    """Note names and pitch-class chords without durations (see the module docstring)."""

    kind = "skuli"

    def __init__(self, grid: int = 4, step: float = 0.5):
        if grid < 1:
            raise ValueError(f"skuli tokenizer: grid must be >= 1 step per beat, got {grid}")
        if step <= 0:
            raise ValueError(f"skuli tokenizer: step must be a positive number of beats, got {step}")
        self.grid = int(grid)
        self.step = float(step)

    def encode(self, score: PianoScore) -> list[str]:
        tokens = []
        for group in _groups(score, self.grid):
            if len(group.pitches) == 1:
                tokens.append(note_name(group.pitches[0]))
            else:
                tokens.append(".".join(str(pc) for pc in sorted({p % 12 for p in group.pitches})))
        return tokens

    @staticmethod
    def _parse(token: str) -> list[int] | None:
        parts = token.split(".")
        if all(part.isdigit() and int(part) < 12 for part in parts):
            return [60 + int(part) for part in parts]
        try:
            return [parse_note_name(token)]
        except ValueError:
            return None

    def decode(self, tokens: Sequence[str]) -> PianoScore:
        notes: list[tuple[float, float, int]] = []
        position = 0
        for token in tokens:
            pitches = self._parse(token)
            if pitches is None:
                continue
            notes += [(position * self.step, self.step, p) for p in pitches]
            position += 1
        return _score(notes, "decoded")

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "grid": self.grid, "step": self.step}


TOKENIZERS: dict[str, type] = {"paper": PaperTokenizer, "skuli": SkuliTokenizer}


def make_tokenizer(kind: str = "paper", **kwargs: Any) -> Tokenizer:
    if kind not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {kind!r}; choose one of {sorted(TOKENIZERS)}")
    return TOKENIZERS[kind](**kwargs)


def tokenizer_from_info(info: dict[str, Any]) -> Tokenizer:
    """Rebuild the tokenizer a checkpoint was trained with from its ``info()``."""
    if "kind" not in info:
        raise ValueError(f"tokenizer info has no 'kind': {info}")
    return make_tokenizer(**dict(info))
