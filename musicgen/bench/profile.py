"""Where a workload's time goes: its operators by self CPU time (``torch.profiler``).

A figure that misses its goal carries the profile of the work behind it, so the results say
why, not only by how much. ``MATRIX_OPS`` are the operators that do the counted FLOPs (matrix
products, fused attention, the fused LSTM layers): their share of the time, and the rate they run
at, bound what the rest of the step can give back.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.profiler import ProfilerActivity, profile

MATRIX_OPS = frozenset(
    {
        "aten::mm",
        "aten::addmm",
        "aten::addmm_",
        "aten::bmm",
        "aten::baddbmm",
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
        "aten::mkldnn_rnn_layer",
        "aten::mkldnn_rnn_layer_backward",
    }
)
TOP = 12  # operators kept in a results page


def profile_ops(fn: Callable[[], object]) -> list[dict]:
    """Run ``fn`` once under the profiler; every operator, most self CPU time first."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {"op": e.key, "share": 100 * e.self_cpu_time_total / total, "calls": e.count,
         "self_ms": e.self_cpu_time_total / 1000}
        for e in events
    ]


def matrix_share(ops: list[dict]) -> tuple[float, float]:
    """The matrix operators' share of the profiled time (%) and their time in ms."""
    matrix = [op for op in ops if op["op"] in MATRIX_OPS]
    return sum(op["share"] for op in matrix), sum(op["self_ms"] for op in matrix)
