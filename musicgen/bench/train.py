"""Training throughput at paper size: tokens/s per model, each model's share of the machine's
matmul rate, and how much of each step is spent waiting for the real DataLoader.

A step is what the Trainer does for one batch: forward, loss, backward, gradient clipping at
norm 1 (``conf/trainer``) and the optimizer step. FLOPs are counted with
``torch.utils.flop_counter.FlopCounterMode`` on the forward pass of each timed batch, plus the
LSTMs' matrix products (which it does not see: 4 gates x (input + hidden) x hidden per real
time step, direction and layer), times 3 for forward + backward; the ceiling is a large float32
``torch.mm`` timed just before each step, so both see the same load from other processes. A
share under its goal comes with the profile of a step.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

from musicgen.bench.profile import TOP, matrix_share, profile_ops
from musicgen.bench.report import Row
from musicgen.bench.timing import Load, matmul_flops_per_s, watch_load
from musicgen.bench.workloads import Sizes, build_model, data_for
from musicgen.models import MusicModel

SECTION = "train"
LABELS = {"jazzgpt": "JazzGPT", "mary": "MAR-Y", "lstm": "LSTM"}
CLIP_NORM = 1.0  # conf/trainer: gradient_clip_val
UTILISATION_GOALS = {"jazzgpt": ">= 50"}  # MAR-Y and the LSTM: reported, no goal yet


@dataclass
class Step:
    batch: Any
    wait_s: float  # next(iter(loader))
    compute_s: float  # forward, backward, clipping and optimizer step
    tokens: int  # real (non-pad) tokens the step processed
    samples: int
    ceiling: float | None = None  # matmul FLOP/s measured just before the step


def forever(loader: Iterable) -> Iterator:
    while True:
        yield from loader


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    return tuple(t.to(device, non_blocking=True) for t in batch)


def train_step(
    model: MusicModel,
    optimizer: torch.optim.Optimizer,
    batch: Any,
    autocast: torch.dtype | None = None,
    loss_fn: Callable[[Any], tuple[Tensor, Tensor]] | None = None,
    clip: float | None = CLIP_NORM,
) -> int:
    """One step as the Trainer takes it; returns the real tokens it processed.

    ``autocast`` runs forward and loss in that dtype (bf16-mixed), weights and optimizer staying
    float32; ``loss_fn`` replaces ``model.loss_and_tokens`` (a compiled one, say); ``clip=None``
    skips gradient clipping (a peer that does not clip). On CUDA the step ends with a
    synchronize, so its time is the device's.
    """
    device = next(model.parameters()).device
    with torch.autocast(device.type, autocast) if autocast else nullcontext():
        loss, tokens = (loss_fn or model.loss_and_tokens)(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return int(tokens)


def train_steps(
    model: MusicModel,
    batches: Iterator,
    warmup: int,
    steps: int,
    ceiling_size: int | None = None,
    autocast: torch.dtype | None = None,
) -> list[Step]:
    """Run ``warmup + steps`` training steps; time the last ``steps`` (and, with
    ``ceiling_size``, the matmul rate just before each)."""
    device = next(model.parameters()).device
    optimizer = model.configure_optimizers()
    model.train()
    timed: list[Step] = []
    for i in range(warmup + steps):
        ceiling = matmul_flops_per_s(ceiling_size) if ceiling_size and i >= warmup else None
        start = time.perf_counter()
        batch = to_device(next(batches), device)
        fetched = time.perf_counter()
        tokens = train_step(model, optimizer, batch, autocast)
        done = time.perf_counter()
        if i >= warmup:
            size = model.batch_size(batch)
            timed.append(Step(batch, fetched - start, done - fetched, tokens, size, ceiling))
    return timed


def lstm_flops(module: nn.LSTM, inputs: Any) -> int:
    """Forward FLOPs of the matrix products of ``module`` on ``inputs`` (packed or [B, T, I])."""
    steps = inputs.data.shape[0] if isinstance(inputs, PackedSequence) else inputs.shape[0] * inputs.shape[1]
    directions = 2 if module.bidirectional else 1
    H = module.hidden_size
    width = [module.input_size] + [H * directions] * (module.num_layers - 1)
    return sum(2 * steps * 4 * H * (w + H) * directions for w in width)


def training_flops(model: MusicModel, batch: Any) -> float:
    """FLOPs of one training step on ``batch``: the forward pass counted, times 3."""
    recurrent = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: recurrent.append(lstm_flops(m, args[0])))
        for m in model.modules()
        if isinstance(m, nn.LSTM)
    ]
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model.loss_and_tokens(batch)
    finally:
        for hook in hooks:
            hook.remove()
    return 3.0 * (counter.get_total_flops() + sum(recurrent))


def throughput_rows(name: str, steps: list[Step], shape: str) -> list[Row]:
    total = sum(s.wait_s + s.compute_s for s in steps)
    wait = sum(s.wait_s for s in steps)
    tokens = sum(s.tokens for s in steps)
    samples = sum(s.samples for s in steps)
    label = LABELS[name]
    return [
        Row(
            SECTION,
            f"{label} training throughput",
            tokens / total,
            "tokens/s",
            detail=f"{samples / total:,.1f} windows/s, {1000 * total / len(steps):,.0f} ms/step, {shape}",
            extra={"windows_per_s": samples / total, "step_s": [s.compute_s for s in steps]},
        ),
        Row(
            SECTION,
            f"{label} share of step time waiting for data",
            100 * wait / total,
            "%",
            "< 5",
            f"next(loader) {1000 * wait / len(steps):.1f} ms of {1000 * total / len(steps):,.0f} ms/step",
            {"wait_s": [s.wait_s for s in steps]},
        ),
    ]


def utilisation_row(name: str, model: MusicModel, steps: list[Step], load: Load | None) -> Row:
    """The model's FLOP/s over the matmul rate measured just before each step (interleaved)."""
    model.train()
    flops = [training_flops(model, s.batch) for s in steps]
    achieved = [f / s.compute_s for f, s in zip(flops, steps, strict=True)]
    shares = [100 * a / s.ceiling for a, s in zip(achieved, steps, strict=True)]
    ceiling = statistics.median(s.ceiling for s in steps)
    row = Row(
        SECTION,
        f"{LABELS[name]} FLOP/s share of the measured matmul rate",
        statistics.median(shares),
        "%",
        UTILISATION_GOALS.get(name),
        f"{statistics.median(achieved) / 1e9:,.1f} GFLOP/s of {ceiling / 1e9:,.1f} (float32 mm), "
        f"{statistics.median(flops) / 1e9:,.0f} GFLOP/step",
        {"flops": flops, "ceilings": [s.ceiling for s in steps]},
        spread=(min(shares), max(shares)),
        load=load.as_dict() if load else None,
    )
    if row.met is False:
        optimizer = model.configure_optimizers()
        ops = profile_ops(lambda: train_step(model, optimizer, steps[0].batch))
        share, matrix_ms = matrix_share(ops)
        rate = 100 * flops[0] / (matrix_ms / 1000) / steps[0].ceiling
        row.profile = ops[:TOP]
        row.detail += (
            f"; profiled step: matrix ops {share:.0f}% of the time, at {rate:.0f}% of the mm rate "
            "(the share's bound if nothing else took time)"
        )
        row.extra.update(matrix_ops_share=share, matrix_ops_rate=rate)
    return row


def bench_training(sizes: Sizes, models: tuple[str, ...]) -> tuple[list[Row], dict[str, MusicModel]]:
    """Rows for each model, and the trained-for-a-few-steps models (the generation bench uses them)."""
    rows, built = [], {}
    for name in models:
        torch.manual_seed(0)
        data, what = data_for(name, sizes)
        data.setup("fit")
        model = build_model(name, sizes, data.model_inputs())
        with watch_load() as watch:
            steps = train_steps(
                model, forever(data.train_dataloader()), sizes.warmup_steps, sizes.train_steps,
                sizes.matmul_size,
            )
        first = steps[0].batch
        shape = (
            f"batch {len(first['melody'])}, chords+melody ~{_mean_width(steps):.0f} columns"
            if name == "jazzgpt"
            else f"batch {len(first[0])} x context {first[0].shape[1]}"
        )
        rows += throughput_rows(name, steps, shape)
        for row in rows[-2:]:
            row.extra["data"] = what
        rows.append(utilisation_row(name, model, steps, watch.load))
        built[name] = model
    return rows, built


def _mean_width(steps: list[Step]) -> float:
    return statistics.mean(s.batch["chords"].shape[1] + s.batch["melody"].shape[1] for s in steps)
