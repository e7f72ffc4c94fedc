"""Where a workload's time goes: its top operators by self CPU time (``torch.profiler``).

A figure that misses its goal carries the profile of the work behind it, so the results say
why, not only by how much.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.profiler import ProfilerActivity, profile


def top_ops(fn: Callable[[], object], count: int = 12) -> list[dict]:
    """Run ``fn`` once under the profiler; the ``count`` operators with most self CPU time."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:count]
    return [
        {"op": e.key, "share": 100 * e.self_cpu_time_total / total, "calls": e.count,
         "self_ms": e.self_cpu_time_total / 1000}
        for e in top
    ]
