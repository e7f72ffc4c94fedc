"""Generation benchmarks: JazzGPT's key/value cache and batching, MAR-Y and LSTM tokens/s.

Each JazzGPT run writes exactly ``max_tokens`` tokens: a token filter bans ``<eos>`` and notes
longer than an eighth (or the vocabulary's shortest length, if longer), and the progression
(rhythm changes, repeated) is long enough that the melody never reaches its end. Both rivals of
a comparison write the same melodies (the engine's contract: the cache and batching never
change what a seed produces), so their time ratio is a throughput ratio.
"""

from __future__ import annotations

import math
import statistics

import torch
from torch import Tensor

from musicgen.bench.report import Row
from musicgen.bench.timing import race, seconds
from musicgen.bench.workloads import Sizes
from musicgen.models import JazzGPT, MusicModel
from musicgen.music.records import REST
from musicgen.music.tokens import parse_melody_token
from musicgen.sampling import Sampler
from musicgen.sampling.engine import (
    MelodyState,
    TokenFilter,
    generate_melodies,
    generate_sequences,
    token_durations,
)
from musicgen.sampling.progressions import PROGRESSIONS, parse_progression

SECTION = "generate"
SEED = 0


def short_notes(model: JazzGPT) -> tuple[TokenFilter, int]:
    """A filter that bans ``<eos>``, the specials and long notes, and the longest length it allows."""
    durations = token_durations(model.hparams.melody_vocab)
    ticks_per_beat = int(model.hparams.data_info["ticks_per_beat"])
    limit = max(ticks_per_beat // 2, min(d for d in durations if d > 0))
    banned = torch.tensor([d == 0 or d > limit for d in durations])

    def keep_short(logits: Tensor, state: MelodyState) -> Tensor:
        return logits.masked_fill(banned.to(logits.device), float("-inf"))

    return keep_short, limit


def long_progression(model: JazzGPT, max_tokens: int, limit: int) -> list[str]:
    """Rhythm changes (32 bars), repeated until ``max_tokens`` notes of ``limit`` ticks fit."""
    chorus = parse_progression(PROGRESSIONS["rhythm_changes"][1])
    ticks = len(chorus) * int(model.hparams.data_info["ticks_per_beat"])
    return chorus * math.ceil(max_tokens * limit / ticks)


def _notes(melodies: list[list[str]]) -> int:
    return sum(parse_melody_token(t)[0] != REST for m in melodies for t in m)


def bench_jazz(model: JazzGPT, sizes: Sizes) -> list[Row]:
    sampler = Sampler("softmax")
    keep_short, limit = short_notes(model)
    out: dict[str, list[list[str]]] = {}

    def melodies(key: str, samples: int, tokens: int, seed: int = SEED, cache: bool = True):
        chords = long_progression(model, tokens, limit)
        out[key] = generate_melodies(
            model, chords, sampler, samples, tokens, seed, use_cache=cache, token_filter=keep_short
        )
        return out[key]

    melodies("warm-up", 2, 8)
    melodies("warm-up", 1, 8, cache=False)
    n = sizes.melody_tokens
    kv = race(lambda: melodies("cache", 1, n), lambda: melodies("full", 1, n, cache=False), sizes.repeats)
    B, m = sizes.batch_samples, sizes.batch_tokens

    def singles() -> None:
        out["singles"] = [melodies("one", 1, m, SEED + i)[0] for i in range(B)]

    batched = race(lambda: melodies("batch", B, m), singles, sizes.repeats)
    for key, tokens in (("cache", n), ("full", n), ("batch", m), ("singles", m)):
        if min(map(len, out[key])) < tokens:  # the figures assume every run wrote all its tokens
            raise RuntimeError(f"generation benchmark: a {key} melody stopped before {tokens} tokens")
    return [
        Row(
            SECTION,
            f"JazzGPT KV cache vs re-decoding the prefix ({n} tokens)",
            kv.ratio,
            "x",
            ">= 5",
            f"{n / kv.fast_s:,.0f} vs {n / kv.plain_s:,.1f} tokens/s; "
            f"{_notes(out['cache']) / kv.fast_s:,.0f} notes/s cached",
            {"same_melodies": out["cache"] == out["full"], "cached_s": kv.fast_s, "full_s": kv.plain_s},
        ).timed(kv),
        Row(
            SECTION,
            f"JazzGPT batch of {B} vs {B} single runs ({m} tokens each)",
            batched.ratio,
            "x",
            ">= 10",
            f"{B * m / batched.fast_s:,.0f} vs {B * m / batched.plain_s:,.0f} tokens/s",
            {"same_melodies": out["batch"] == out["singles"], "batch_s": batched.fast_s,
             "singles_s": batched.plain_s},
        ).timed(batched),
    ]


def bench_sequences(label: str, model: MusicModel, sizes: Sizes) -> list[Row]:
    sampler = Sampler("softmax")
    n = sizes.sequence_tokens
    rows = []
    for batch in (1, sizes.batch_samples):
        primers = [[] for _ in range(batch)]
        generate_sequences(model, primers, sampler, 2, SEED)
        run = statistics.median(
            seconds(lambda p=primers: generate_sequences(model, p, sampler, n, SEED))
            for _ in range(sizes.repeats)
        )
        rows.append(
            Row(
                SECTION,
                f"{label} generation, batch {batch}",
                batch * n / run,
                "tokens/s",
                detail=f"{n} tokens after <bos>, context {model.hparams.context}",
            )
        )
    return rows
