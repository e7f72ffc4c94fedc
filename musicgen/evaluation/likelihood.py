"""``task=likelihood``: a JazzGPT checkpoint's negative log-likelihood of its data's windows, per
token and per note.

Per-token loss does not compare across vocabularies: a lick token (``data.tokenizer.bpe_vocab``)
stands for several notes, so fewer, harder tokens carry the same music. Bits per note divide
the whole melody's information (every token, ``<eos>`` included) by the notes it sounds, which
are the same windows and notes under every tokenization.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig

from musicgen.models import datamodule_from_checkpoint, load_model
from musicgen.models.checkpoint import resolve_checkpoint
from musicgen.music.tokens import PAD_ID
from musicgen.sampling.records import model_kind


@torch.inference_mode()
def melody_likelihood(model, datamodule, split: str = "val") -> dict[str, Any]:
    """Summed NLL of every melody token of ``split`` and what it is per token, note and event."""
    datamodule.setup()
    loader = {"val": datamodule.val_dataloader, "test": datamodule.test_dataloader,
              "train": datamodule.train_dataloader}[split]()
    was_training = model.training
    model.eval()
    nats, tokens = 0.0, 0
    for batch in loader:
        loss, _ = model.loss_and_tokens(batch)
        predicted = int((batch["melody"][:, 1:] != PAD_ID).sum())
        nats += float(loss) * predicted
        tokens += predicted
    model.train(was_training)
    report = datamodule.report
    windows, notes = report["windows"][split], report["notes"][split]
    events = notes + report["rests"][split]
    bits = nats / math.log(2)
    return {
        "split": split,
        "windows": windows,
        "notes": notes,
        "events": events,
        "tokens": tokens,
        "tokens_per_melody": (tokens - windows) / windows,  # <eos> not counted
        "nats_per_token": nats / tokens,
        "bits_per_note": bits / notes,
        "bits_per_event": bits / events,
    }


def evaluate_likelihood(cfg: DictConfig) -> dict[str, Any]:
    ckpt = resolve_checkpoint(cfg.ckpt_path, cfg.paths.outputs)
    model = load_model(ckpt)
    if model_kind(model) != "lead_sheet":
        raise ValueError("task=likelihood: bits per note are measured for JazzGPT checkpoints")
    datamodule = datamodule_from_checkpoint(ckpt, cfg.wjazzd_path)
    if datamodule is None:
        raise ValueError("task=likelihood needs a checkpoint saved by train.py (its data config)")
    return {"task": "likelihood", "checkpoint": str(ckpt.resolve()),
            **melody_likelihood(model, datamodule, cfg.split)}
