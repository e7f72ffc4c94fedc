"""``python -m musicgen.bench.gpu``: training throughput on a CUDA device, printed as one JSON line.

For each model at paper size: tokens/s in float32 and in bf16-mixed (autocast, float32 weights,
as ``trainer.precision=bf16-mixed``), their steps taken in turn with the median speed ratio,
JazzGPT's bf16 FLOP/s against a large bf16 ``torch.mm``, and the LSTMs (the baseline and MAR-Y's
BiLSTMs) with cuDNN against PyTorch's own kernels (``torch.backends.cudnn.flags(enabled=False)``).
Batches are synthetic, shaped like the real data (sizes below), so the script needs no data
files, no network and no logger; it finishes in well under three minutes on one modern GPU.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from contextlib import nullcontext

import torch

from musicgen.bench.train import to_device, train_step, train_steps, training_flops
from musicgen.bench.workloads import MODELS
from musicgen.cli import ArgumentParser
from musicgen.models import MusicModel
from musicgen.music.tokens import SPECIALS

# Shapes of the real data (WJD in 12 keys; ff_midi in paper tokens), from ``python -m musicgen.bench``.
MELODY_VOCAB, CHORD_VOCAB, PIANO_VOCAB = 6499, 298, 24050
CHORD_COLUMNS, MELODY_COLUMNS = 32, 195  # a batch's widths after collate (mean)
SHORT_WINDOWS = 0.12  # share of next-token windows left-padded (near a piece's start)
TINY = {
    "jazzgpt": {"d_model": 32, "n_heads": 4, "d_ff": 64, "enc_layers": 1, "dec_layers": 1},
    "mary": {"blocks": 1, "hidden": 16, "embed_dim": 16, "dense": 16, "context": 16},
    "lstm": {"hidden": 16, "layers": 2, "embed_dim": 16, "dense": 16, "context": 16},
}


def vocab(size: int, prefix: str) -> list[str]:
    return [*SPECIALS, *(f"{prefix}{i}" for i in range(size - len(SPECIALS)))]


def build(name: str, tiny: bool) -> MusicModel:
    overrides = TINY[name] if tiny else {}
    if name == "jazzgpt":
        inputs = {
            "chord_vocab": vocab(CHORD_VOCAB, "c"),
            "melody_vocab": [*SPECIALS, *(f"{60 + i % 36}:{1 + i // 36}" for i in range(MELODY_VOCAB - 4))],
            "data_info": {"ticks_per_beat": 24},
        }
    else:
        inputs = {"vocab": vocab(PIANO_VOCAB, "t"), "data_info": {}}
    return MODELS[name](**inputs, **overrides, schedule="none")


def batches(model: MusicModel, batch_size: int, seed: int = 0) -> Iterator:
    """Endless random batches with the real data's shapes and padding."""
    generator = torch.Generator().manual_seed(seed)
    hp = model.hparams
    while True:
        if "melody_vocab" in hp:
            chords = torch.randint(4, len(hp.chord_vocab), (batch_size, CHORD_COLUMNS), generator=generator)
            melody = torch.randint(4, len(hp.melody_vocab), (batch_size, MELODY_COLUMNS), generator=generator)
            lengths = torch.randint(MELODY_COLUMNS // 5, MELODY_COLUMNS + 1, (batch_size,), generator=generator)
            melody[torch.arange(MELODY_COLUMNS)[None, :] >= lengths[:, None]] = 0
            melody[:, 0] = 1
            yield {"chords": chords, "melody": melody}
        else:
            x = torch.randint(4, len(hp.vocab), (batch_size, hp.context), generator=generator)
            short = torch.rand(batch_size, generator=generator) < SHORT_WINDOWS
            starts = torch.randint(1, hp.context, (batch_size,), generator=generator)
            x[short[:, None] & (torch.arange(hp.context)[None, :] < starts[:, None])] = 0
            yield x, torch.randint(4, len(hp.vocab), (batch_size,), generator=generator)


def precision_race(model: MusicModel, batch_size: int, warmup: int, steps: int) -> dict:
    """float32 and bf16-mixed steps on the same batch in turn, round by round, so both see the
    same load; ``bf16_speedup`` is the median per-round ratio (how ``auto``'s CPU rule was set)."""
    device = next(model.parameters()).device
    data = batches(model, batch_size)
    optimizers = {None: model.configure_optimizers(), torch.bfloat16: model.configure_optimizers()}
    model.train()
    rounds = []
    for i in range(warmup + steps):
        batch = to_device(next(data), device)
        seconds = {}
        for dtype, optimizer in optimizers.items():
            start = time.perf_counter()
            tokens = train_step(model, optimizer, batch, dtype)
            seconds[dtype] = time.perf_counter() - start
        if i >= warmup:
            rounds.append((tokens, model.batch_size(batch), seconds[None], seconds[torch.bfloat16]))
    tokens, windows = sum(r[0] for r in rounds), sum(r[1] for r in rounds)

    def rates(column: int) -> dict:
        total = sum(r[column] for r in rounds)
        return {
            "tokens_per_s": tokens / total,
            "windows_per_s": windows / total,
            "ms_per_step": 1000 * statistics.median(r[column] for r in rounds),
        }

    return {
        "float32": rates(2),
        "bf16_mixed": rates(3),
        "bf16_speedup": statistics.median(r[2] / r[3] for r in rounds),
    }


def throughput(model: MusicModel, batch_size: int, warmup: int, steps: int) -> dict:
    """float32 tokens/s, windows/s and median ms per step."""
    timed = train_steps(model, batches(model, batch_size), warmup, steps)
    seconds = sum(s.wait_s + s.compute_s for s in timed)
    return {
        "tokens_per_s": sum(s.tokens for s in timed) / seconds,
        "windows_per_s": sum(s.samples for s in timed) / seconds,
        "ms_per_step": 1000 * statistics.median(s.compute_s for s in timed),
    }


def bf16_matmul_flops_per_s(device: torch.device, size: int) -> float:
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    a @ b
    rates = []
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(2 * size**3 / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> dict:
    parser = ArgumentParser(prog="python -m musicgen.bench.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu (bf16 vs float32 on a CPU)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="tiny models, two steps (smoke test)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("python -m musicgen.bench.gpu: no CUDA device here (use --device cpu to try it)")
    warmup, steps = (1, 2) if args.quick else (args.warmup, args.steps)
    torch.manual_seed(0)
    result: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "steps": steps,
        "models": {},
    }
    for name in MODELS:
        model = build(name, args.quick).to(device)
        row = precision_race(model, args.batch_size, warmup, steps)
        if name != "jazzgpt":
            with torch.backends.cudnn.flags(enabled=False):
                row["float32_no_cudnn"] = throughput(model, args.batch_size, warmup, steps)
            row["cudnn_speedup"] = row["float32"]["tokens_per_s"] / row["float32_no_cudnn"]["tokens_per_s"]
        else:
            batch = next(batches(model, args.batch_size))
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, torch.bfloat16) if device.type == "cuda" else nullcontext():
                flops = training_flops(model.train(), batch)
            step_s = row["bf16_mixed"]["ms_per_step"] / 1000
            ceiling = bf16_matmul_flops_per_s(device, 256 if args.quick else 8192)
            row["bf16_flops_per_step"] = flops
            row["bf16_share_of_matmul_rate"] = flops / step_s / ceiling
            row["bf16_matmul_flops_per_s"] = ceiling
        if device.type == "cuda":
            row["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 1024**3
            torch.cuda.reset_peak_memory_stats(device)
        result["models"][name] = row
        del model
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
