"""The three models and ``load_model``, which restores any of them from a checkpoint alone."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from musicgen.models.base import MusicModel
from musicgen.models.jazzgpt import JazzGPT
from musicgen.models.lstm import LSTMBaseline
from musicgen.models.mary import Mary

__all__ = ["JazzGPT", "LSTMBaseline", "Mary", "MusicModel", "load_model"]


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> MusicModel:
    """The model saved in a Lightning checkpoint, whichever class it is, in eval mode.

    The class is named in the checkpoint (``MusicModel.on_save_checkpoint``) and its
    vocabularies are in the hyperparameters, so the file alone is enough.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # garbage bytes raise KeyError, IndexError, struct.error, ...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{path}: cannot read checkpoint (truncated or corrupt file?): {reason}"
        ) from None
    if not isinstance(checkpoint, dict) or "musicgen_model" not in checkpoint:
        raise ValueError(f"{path} is not a musicgen checkpoint (no 'musicgen_model' entry)")
    module_name, _, class_name = checkpoint["musicgen_model"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ValueError(f"{path}: model class {checkpoint['musicgen_model']} not found") from None
    model = cls(**checkpoint["hyper_parameters"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(map_location).eval()
