"""``torch.compile`` measured once against eager mode: JazzGPT's training step and its cached
generation. Opt-in (``--compile``): compiling costs minutes of CPU before the first step.

Compiling is worth it only if its per-step gain repays the compile time within a run; the rows
give both, so the break-even number of steps can be read off.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from musicgen.bench.generate import long_progression, short_notes
from musicgen.bench.report import Row
from musicgen.bench.timing import race, race_over, seconds
from musicgen.bench.train import train_step
from musicgen.bench.workloads import Sizes
from musicgen.models import JazzGPT
from musicgen.sampling import Sampler
from musicgen.sampling.engine import generate_melodies


def bench_compile(model: JazzGPT, batches: Iterator, sizes: Sizes) -> list[Row]:
    fixed = [next(batches) for _ in range(max(2, sizes.train_steps))]
    optimizer = model.configure_optimizers()
    model.train()
    compiled_loss = torch.compile(model.loss_and_tokens, dynamic=True)
    first = seconds(lambda: train_step(model, optimizer, fixed[0], loss_fn=compiled_loss))
    train_step(model, optimizer, fixed[1], loss_fn=compiled_loss)  # a second batch width
    train_step(model, optimizer, fixed[0])
    timed = race_over(
        fixed,
        lambda b: train_step(model, optimizer, b, loss_fn=compiled_loss),
        lambda b: train_step(model, optimizer, b),
    )
    rows = [
        Row(
            "train",
            "JazzGPT training step: torch.compile vs eager",
            timed.ratio,
            "x",
            detail=f"first compiled step {first:.0f} s (compiling); then {1000 * timed.fast_s:,.0f} ms/step",
            extra={"first_step_s": first, "rounds": timed.rounds},
        ).timed(timed)
    ]
    sampler = Sampler("softmax")
    keep_short, limit = short_notes(model)
    n = sizes.batch_tokens
    chords = long_progression(model, n, limit)

    def melody() -> list[list[str]]:
        return generate_melodies(model, chords, sampler, 1, n, token_filter=keep_short)

    compiled_decode = torch.compile(model.decode, dynamic=True)

    def compiled_melody() -> list[list[str]]:
        model.decode = compiled_decode  # an instance attribute: the engine calls model.decode
        try:
            return melody()
        finally:
            del model.decode

    melody()
    first = seconds(compiled_melody)
    timed = race(compiled_melody, melody, sizes.repeats)
    rows.append(
        Row(
            "generate",
            f"JazzGPT cached generation ({n} tokens): torch.compile vs eager",
            timed.ratio,
            "x",
            detail=f"first compiled run {first:.0f} s (compiling); "
            f"{n / timed.fast_s:,.0f} vs {n / timed.plain_s:,.0f} tokens/s",
            extra={"first_run_s": first, "compiled_s": timed.fast_s, "eager_s": timed.plain_s},
        ).timed(timed)
    )
    return rows
