"""How PyTorch's OpenMP threads wait: musicgen's default (spin 3,000 times, then sleep; set in
``musicgen/__init__.py``) against the OpenMP runtime's own default (spin 300,000 times).

Spinning pays off on a machine of one's own and costs dearly on a shared one: a spinning thread
takes a core that another process (or the other thread of the same step) needs. The setting is
read once, when the runtime starts, so each side trains in a process of its own on the same
batches, and the rounds interleave. The ratio is seconds per step with the runtime's default
over seconds with musicgen's: above 1, the short spin is faster on this machine at this load.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

import torch

from musicgen.bench.processes import ProcessRival, serve_steps
from musicgen.bench.report import Row
from musicgen.bench.timing import race_over
from musicgen.bench.train import LABELS, to_device, train_step
from musicgen.bench.workloads import Sizes, build_model, data_for

SECTION = "threads"
POLICY = "OMP_WAIT_POLICY"
RUNTIME_DEFAULT = {POLICY: None, "GOMP_SPINCOUNT": "300000"}
"""libgomp (PyTorch's OpenMP on Linux) without a policy: spin 300,000 times, then sleep. Written
out, because musicgen sets its own spin count whenever neither variable is set."""
MUSICGEN_DEFAULT = {POLICY: None, "GOMP_SPINCOUNT": "3000"}


def _train_worker(conn: Connection, name: str, sizes: Sizes, inputs: dict, batches: list[Any]) -> None:
    """One side: the model at the benchmark's size, one training step on batch ``i`` per ``i``."""
    torch.manual_seed(0)
    model = build_model(name, sizes, inputs)
    optimizer = model.configure_optimizers()
    model.train()
    device = next(model.parameters()).device
    serve_steps(conn, lambda i: train_step(model, optimizer, to_device(batches[i], device)),
                torch.get_num_threads())


def bench_wait_policy(sizes: Sizes, models: tuple[str, ...]) -> list[Row]:
    """Per model: training seconds per step with the runtime's wait over musicgen's."""
    rows = []
    for name in models:
        data, what = data_for(name, sizes)
        data.setup("fit")
        batches = [b for b, _ in zip(data.train_dataloader(), range(sizes.peer_rounds + 1), strict=False)]
        args = (name, sizes, data.model_inputs(), batches)
        default = ProcessRival(f"{name} (runtime's default wait)", _train_worker, args, RUNTIME_DEFAULT)
        ours = ProcessRival(f"{name} (musicgen's wait)", _train_worker, args, MUSICGEN_DEFAULT)
        try:
            default.step(0), ours.step(0)
            rounds = list(range(1, len(batches)))
            timed = race_over(rounds, ours.step, default.step)
        finally:
            default.close(), ours.close()
        rows.append(Row(
            SECTION,
            f"{LABELS[name]} training, OpenMP threads spinning 3,000 (musicgen) vs 300,000 (the runtime's default)",
            timed.ratio,
            "x",
            None,
            f"musicgen {timed.fast_s * 1e3:,.0f} vs runtime default {timed.plain_s * 1e3:,.0f} ms/step, "
            f"{ours.ready} threads, batch {sizes.batch_size}, {len(rounds)} rounds",
            {"musicgen_s": [f for f, _ in timed.rounds], "default_s": [p for _, p in timed.rounds], "data": what},
        ).timed(timed))
    return rows
