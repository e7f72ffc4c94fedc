"""Timing on a noisy, shared machine: rivals run in turn, ratios per round, the load watched.

Other processes change how fast this one runs from second to second, so an absolute figure is
only a snapshot. Running the rivals round by round (A, B, A, B ...) and taking the median of
their per-round ratio cancels most of that noise; the lowest and highest round ratio (the
spread) show how much was left. ``watch_load`` says how busy the machine was meanwhile: the
load average and the CPU time other processes took, so a busy run is labelled as one.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

T = TypeVar("T")
BUSY_SHARE = 0.25  # other processes using more than this share of the cores: a busy machine


@dataclass(frozen=True)
class Load:
    """How busy the machine was during a measurement."""

    load_average: float  # 1-minute load average at the end
    other_cores: float | None  # cores' worth of CPU time other processes used (None: no /proc)
    cores: int

    @property
    def busy(self) -> bool:
        if self.other_cores is None:
            return self.load_average > (1 + BUSY_SHARE) * self.cores / 2
        return self.other_cores > BUSY_SHARE * self.cores

    def describe(self) -> str:
        others = "" if self.other_cores is None else f"others used {self.other_cores:.1f}/{self.cores} cores, "
        return f"{'busy: ' if self.busy else ''}{others}load {self.load_average:.1f}"

    def as_dict(self) -> dict:
        return {"load_average": self.load_average, "other_cores": self.other_cores,
                "cores": self.cores, "busy": self.busy}


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (``/proc/stat``), None off Linux."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return None
    fields = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds this process and its children used: the finished ones, and the live ones
    started with ``multiprocessing`` (a rival in a process of its own, DataLoader workers), whose
    work is the benchmark's, not another user's."""
    t = os.times()
    live = sum(_process_cpu_seconds(child.pid) for child in multiprocessing.active_children())
    return t.user + t.system + t.children_user + t.children_system + live


def _process_cpu_seconds(pid: int | None) -> float:
    """CPU seconds a live process used (``/proc/<pid>/stat``), 0 where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@dataclass
class LoadWatch:
    """Filled in by ``watch_load`` when its block ends."""

    load: Load | None = None


@contextmanager
def watch_load() -> Iterator[LoadWatch]:
    """Measure how much CPU other processes took while the block ran."""
    watch = LoadWatch()
    start, busy, own = time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds()
    try:
        yield watch
    finally:
        wall = max(time.perf_counter() - start, 1e-9)
        end_busy = _busy_cpu_seconds()
        others = None
        if busy is not None and end_busy is not None:
            others = max(0.0, (end_busy - busy) - (_own_cpu_seconds() - own)) / wall
        watch.load = Load(os.getloadavg()[0], others, os.cpu_count() or 1)


@dataclass(frozen=True)
class Rivals:
    """Median seconds of each rival, the median per-round ratio plain / fast and its spread."""

    fast_s: float
    plain_s: float
    ratio: float
    low: float  # the lowest per-round ratio
    high: float  # the highest
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (fast_s, plain_s) per round
    load: Load | None = None

    @property
    def spread(self) -> tuple[float, float]:
        return (self.low, self.high)


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def race_over(items: Sequence[T], fast: Callable[[T], object], plain: Callable[[T], object]) -> Rivals:
    """Round i times ``fast(items[i])`` then ``plain(items[i])`` (warm both up before)."""
    with watch_load() as watch:
        rounds = [(seconds(lambda i=item: fast(i)), seconds(lambda i=item: plain(i))) for item in items]
    ratios = [p / f for f, p in rounds]
    return Rivals(
        fast_s=statistics.median(f for f, _ in rounds),
        plain_s=statistics.median(p for _, p in rounds),
        ratio=statistics.median(ratios),
        low=min(ratios),
        high=max(ratios),
        rounds=rounds,
        load=watch.load,
    )


def race(fast: Callable[[], object], plain: Callable[[], object], repeats: int) -> Rivals:
    """Time ``fast`` and ``plain`` alternately ``repeats`` times (warm both up before)."""
    return race_over(range(repeats), lambda _: fast(), lambda _: plain())


def matmul_flops_per_s(size: int = 2048, repeats: int = 3) -> float:
    """This machine's float32 ``torch.mm`` rate right now (median of ``repeats``): the ceiling."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    return statistics.median(2 * size**3 / seconds(lambda: a @ b) for _ in range(repeats))
