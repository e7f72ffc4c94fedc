"""Key conditioning measured: does a MAR-Y / LSTM checkpoint write in the key it is asked for?

``python -m musicgen.evaluation.keys CKPT [CKPT ...]`` (the ``musicgen.commands.keys`` command)
compares checkpoints (a key-conditioned one and a plain one trained alike) on the same primers:
for each requested key (the 12 major tonics) each primer is continued, and the share of the
generated notes (primer left out) inside the requested key's scale is averaged. A conditioned model is given the key; a plain
one cannot be, so its share is the baseline. The validation loss of each checkpoint on its own
data's validation split is reported beside it, and the last row is the ceiling: the validation
pieces themselves, in their own estimated keys. Prints a Markdown table and writes JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicgen.metrics.functional import in_key_share
from musicgen.models import datamodule_from_checkpoint, load_model
from musicgen.music.key import Key, score_key
from musicgen.sampling.configs import build_sampler
from musicgen.sampling.records import generate_records, spread

MAJOR_KEYS = tuple(Key(tonic) for tonic in range(12))


@torch.inference_mode()
def validation_loss(model: Any, datamodule: Any, max_batches: int | None = None) -> float:
    """Mean next-token cross-entropy over the validation windows (the first ``max_batches``
    batches, or all), weighted by batch size as Lightning's epoch mean is."""
    model.eval()
    total, count = 0.0, 0
    for i, batch in enumerate(datamodule.val_dataloader()):
        if max_batches is not None and i >= max_batches:
            break
        loss, _ = model.loss_and_tokens(batch)
        total += float(loss) * len(batch[0])
        count += len(batch[0])
    return total / count


def key_shares(
    model: Any,
    primers: Sequence[Sequence[int]],
    keys: Sequence[Key],
    num_tokens: int,
    sampler: Any,
    seed: int = 0,
) -> list[float]:
    """For each requested key, each primer continued by ``num_tokens`` tokens: the in-scale share
    of every piece, key after key (the key is given only to a key-conditioned model)."""
    conditioned = bool(model.hparams.get("key_conditioning", False))
    shares = []
    for k, key in enumerate(keys):
        records = generate_records(
            model, sampler, primers, num_tokens=num_tokens, seed=seed + k * len(primers),
            key=key if conditioned else None,
        )
        shares += [in_key_share(record, key) for record in records]
    return shares


def data_shares(datamodule: Any) -> list[float]:
    """The validation pieces (as the models see them) in their own estimated keys."""
    return [
        in_key_share(record, score_key(record.pitches, record.durations))
        for record in datamodule.records("val")
    ]


def share_row(shares: Sequence[float], **fields: Any) -> dict[str, Any]:
    values = np.asarray(shares, dtype=float)
    return {
        **fields,
        "pieces": int(np.isfinite(values).sum()),
        "in_key_mean": float(np.nanmean(values)),
        "in_key_std": float(np.nanstd(values)),
    }


def compare(
    checkpoints: Sequence[Path],
    samples_per_key: int,
    num_tokens: int,
    primer_length: int,
    sampler_name: str = "softmax",
    val_batches: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per checkpoint and primer kind (``none``: each piece's opening, ``data``: the
    opening ``primer_length`` tokens of validation pieces spread over the split), then the
    validation pieces of the first checkpoint's data in their own keys."""
    sampler = build_sampler(sampler_name)
    rows, reference = [], None
    for ckpt in checkpoints:
        model = load_model(ckpt)
        datamodule = datamodule_from_checkpoint(ckpt)
        if datamodule is None:
            raise ValueError(f"{ckpt} records no data config: its validation loss cannot be measured")
        loss = validation_loss(model, datamodule, val_batches)
        openings = [p for p in datamodule.primers("val", primer_length) if p]
        data_primers = [openings[i] for i in spread(len(openings), samples_per_key)]
        for kind, primers in (("none", [[]] * samples_per_key), ("data", data_primers)):
            rows.append(share_row(
                key_shares(model, primers, MAJOR_KEYS, num_tokens, sampler, seed),
                checkpoint=str(ckpt), key_conditioning=bool(model.hparams.get("key_conditioning")),
                val_loss=loss, primer=kind,
            ))  # fmt: skip
        reference = reference or share_row(data_shares(datamodule), checkpoint=None, primer="data")
    return [*rows, reference]


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| key conditioning | primer | val loss | pieces | in requested key's scale |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        mean, std = r["in_key_mean"], r["in_key_std"]
        share = "–" if math.isnan(mean) else f"{mean:.3f} ± {std:.3f}"
        if r["checkpoint"] is None:
            lines.append(f"| validation pieces, in their own key | – | – | {r['pieces']} | {share} |")
            continue
        lines.append(
            f"| {'yes' if r['key_conditioning'] else 'no'} | {r['primer']} | {r['val_loss']:.3f} "
            f"| {r['pieces']} | {share} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    from musicgen.commands.keys import main

    main()
