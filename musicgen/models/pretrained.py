"""Models that ship with the package, loadable as ``ckpt_path=pretrained:<name>``.

A shipped file is a training checkpoint without what only resuming needs (optimizer state,
loop counters, callback state), its floating-point weights stored in half precision: a few MB
instead of tens, and the same notes (a test generates with both and compares). It stays a
checkpoint that ``load_model`` reads like any other, so nothing downstream special-cases it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
PREFIX = "pretrained:"
# What only resuming a training run needs: the bulk of a checkpoint (Adam keeps two tensors per
# weight) and nothing a user of the model reads.
RESUME_ONLY_KEYS = ("optimizer_states", "lr_schedulers", "loops", "callbacks")


def pretrained_names() -> list[str]:
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.ckpt"))


def pretrained_path(spec: str) -> Path:
    """The file behind ``pretrained:<name>``; an unknown name lists the names there are."""
    name = spec.removeprefix(PREFIX)
    path = PRETRAINED_DIR / f"{name}.ckpt"
    if not path.is_file():
        names = ", ".join(pretrained_names()) or "none"
        raise FileNotFoundError(f"ckpt_path={spec}: no shipped model {name!r}; there are: {names}")
    return path


def slim_checkpoint(
    checkpoint: dict[str, Any], dtype: torch.dtype = torch.float16, sampler: dict | None = None
) -> dict[str, Any]:
    """The parts of ``checkpoint`` a user of the model needs, floats cast to ``dtype``.

    ``sampler`` is the decoding setting the model is best heard with (a ``conf/sampler``
    mapping); ``sample.py`` uses it when the user names no sampler.
    """
    slim = {k: v for k, v in checkpoint.items() if k not in RESUME_ONLY_KEYS}
    slim["state_dict"] = {
        k: v.to(dtype) if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()
    }
    if sampler is not None:
        slim["musicgen_sampler"] = dict(sampler)
    return slim
