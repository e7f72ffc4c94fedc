"""Quantize polyphonic notes to a grid and gather the ones that start together.

Token schemes for piano music (``musicgen.data.tokenizers``) read a score as a sequence of
onset groups; this module owns that reading so every scheme quantizes the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OnsetGroup:
    """Distinct pitches starting on one grid step, each with its own length in steps (>= 1)."""

    step: int
    pitches: tuple[int, ...]  # ascending, distinct
    durations: tuple[int, ...]  # grid steps, aligned with pitches

    @property
    def longest(self) -> int:
        return max(self.durations)


def quantize(beats: np.ndarray, grid: int) -> np.ndarray:
    """Beats -> whole grid steps (``grid`` steps per beat), rounding half to even like numpy."""
    if grid < 1:
        raise ValueError(f"grid must be a positive number of steps per beat, got {grid}")
    return np.rint(np.asarray(beats, dtype=np.float64) * grid).astype(np.int64)


def group_onsets(
    onsets: np.ndarray, durations: np.ndarray, pitches: np.ndarray, grid: int
) -> list[OnsetGroup]:
    """Notes grouped by quantized onset, in time order.

    Durations are quantized too but never below one step, so a very short note survives as the
    shortest expressible one. A pitch struck twice on one step keeps its longest length.
    """
    on_steps = quantize(onsets, grid)
    if not len(on_steps):
        return []  # a score without notes has no groups (the data module then says so)
    dur_steps = np.maximum(quantize(durations, grid), 1)
    pitches = np.asarray(pitches, dtype=np.int64)
    order = np.lexsort((pitches, on_steps))
    on_steps, dur_steps, pitches = on_steps[order], dur_steps[order], pitches[order]
    starts = np.flatnonzero(np.diff(on_steps, prepend=on_steps[:1] - 1))
    groups: list[OnsetGroup] = []
    for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(on_steps)], strict=True):
        longest: dict[int, int] = {}
        for pitch, dur in zip(pitches[lo:hi].tolist(), dur_steps[lo:hi].tolist(), strict=True):
            longest[pitch] = max(dur, longest.get(pitch, 0))
        groups.append(OnsetGroup(int(on_steps[lo]), tuple(longest), tuple(longest.values())))
    return groups
