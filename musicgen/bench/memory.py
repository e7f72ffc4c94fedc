"""Peak memory: each workload runs in a fresh process and reports its RSS high-water mark.

A fresh (spawned) process holds only what the workload needs, so its ``ru_maxrss`` is the
workload's peak; the peak after imports alone is reported beside it. The data preparation runs
against an empty cache folder, so it is cold and includes writing the cache.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from musicgen.bench.report import Row
from musicgen.bench.train import LABELS, forever, train_steps
from musicgen.bench.workloads import Sizes, build_model, data_for, jazz_data

SECTION = "memory"
GIB = 1024**3


def peak_rss() -> int:
    """This process's resident-set high-water mark, in bytes.

    On Linux it is ``VmHWM``: ``ru_maxrss`` would also count the parent's memory at the fork
    that started this process, since Linux carries it across ``exec``.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _prepare_jazz(sizes: Sizes, cache: str) -> tuple[int, int]:
    os.environ["MUSICGEN_CACHE_DIR"] = cache
    before = peak_rss()
    jazz_data(sizes)[0].load_prepared()
    return before, peak_rss()


def _train(name: str, sizes: Sizes, cache: str) -> tuple[int, int]:
    os.environ["MUSICGEN_CACHE_DIR"] = cache
    before = peak_rss()
    data = data_for(name, sizes)[0]
    data.setup("fit")
    model = build_model(name, sizes, data.model_inputs())
    train_steps(model, forever(data.train_dataloader()), warmup=1, steps=1)
    return before, peak_rss()


def _report(conn: Connection, fn: Callable[..., tuple[int, int]], args: tuple) -> None:
    conn.send(fn(*args))
    conn.close()


def in_fresh_processes(jobs: list[tuple[Callable[..., tuple[int, int]], tuple]]) -> list[tuple[int, int]]:
    """Each job in its own new process, all at once (one process's peak does not depend on another)."""
    context = multiprocessing.get_context("spawn")
    running = []
    for fn, args in jobs:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_report, args=(send, fn, args))
        process.start()
        send.close()
        running.append((fn, process, receive))
    results = []
    for fn, process, receive in running:
        try:
            results.append(receive.recv())
        except EOFError:
            raise RuntimeError(f"memory benchmark {fn.__name__} died (see its error above)") from None
        finally:
            process.join()
    return results


def _row(name: str, before: int, peak: int, target: str | None = None) -> Row:
    return Row(
        SECTION,
        name,
        peak / GIB,
        "GiB",
        target,
        f"imports alone {before / GIB:.2f} GiB",
        {"peak_bytes": peak, "after_imports_bytes": before},
    )


def bench_memory(sizes: Sizes, cache_root: Path, models: tuple[str, ...]) -> list[Row]:
    """``cache_root`` holds the run's prepared data; the cold preparation gets an empty folder."""
    for name in models:  # prepared here once, so the training processes only load it
        data_for(name, sizes)[0].load_prepared()
    cold = cache_root / "memory-cold"
    cold.mkdir(parents=True, exist_ok=True)
    jobs = [(_prepare_jazz, (sizes, str(cold)))]
    jobs += [(_train, (name, sizes, str(cache_root))) for name in models]
    (prepared, *trained) = in_fresh_processes(jobs)
    rows = [_row(f"peak RSS: prepare JazzGPT data in {sizes.keys}", *prepared, "< 2")]
    for name, (before, peak) in zip(models, trained, strict=True):
        rows.append(_row(f"peak RSS: train {LABELS[name]}", before, peak))
    return rows
