"""Timing on a noisy, shared machine: run rivals in turn, keep medians, compare ratios.

Other processes change how fast this one runs from second to second, so an absolute figure is
only a snapshot. Running the fast path and the plain path round by round and taking the median
of their per-round ratio cancels most of that noise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Rivals:
    """Median seconds of each rival and the median per-round ratio plain / fast."""

    fast_s: float
    plain_s: float
    ratio: float


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def race(fast: Callable[[], object], plain: Callable[[], object], repeats: int) -> Rivals:
    """Time ``fast`` and ``plain`` alternately ``repeats`` times (warm both up before)."""
    rounds = [(seconds(fast), seconds(plain)) for _ in range(repeats)]
    return Rivals(
        fast_s=statistics.median(f for f, _ in rounds),
        plain_s=statistics.median(p for _, p in rounds),
        ratio=statistics.median(p / f for f, p in rounds),
    )


def matmul_flops_per_s(size: int = 2048, repeats: int = 3) -> float:
    """This machine's float32 ``torch.mm`` rate right now (median of ``repeats``): the ceiling."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    return statistics.median(2 * size**3 / seconds(lambda: a @ b) for _ in range(repeats))
