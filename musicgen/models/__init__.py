"""The three models and ``load_model``, which restores any of them from a checkpoint alone."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from musicgen.models.base import MusicModel
from musicgen.models.jazzgpt import JazzGPT
from musicgen.models.lstm import LSTMBaseline
from musicgen.models.mary import Mary

__all__ = ["JazzGPT", "LSTMBaseline", "Mary", "MusicModel", "load_model", "model_family", "read_checkpoint",
           "weights_problem"]


def model_family(model: MusicModel) -> str:
    """The importable class name a checkpoint records (``musicgen_model``)."""
    return f"{type(model).__module__}.{type(model).__qualname__}"


def read_checkpoint(path: str | Path, mmap: bool = False) -> dict:
    """A musicgen checkpoint's contents, or a one-line ``ValueError`` saying why it is unusable.

    ``mmap=True`` maps the tensors instead of reading them, so the record and the weights'
    shapes can be checked without loading every checkpoint into memory.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:  # garbage bytes raise KeyError, IndexError, struct.error, ...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{path}: cannot read checkpoint (truncated or corrupt file?): {reason}"
        ) from None
    if not isinstance(checkpoint, dict) or "musicgen_model" not in checkpoint:
        raise ValueError(f"{path} is not a musicgen checkpoint (no 'musicgen_model' entry)")
    return checkpoint


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> MusicModel:
    """The model saved in a Lightning checkpoint, whichever class it is, in eval mode.

    The class is named in the checkpoint (``MusicModel.on_save_checkpoint``) and its
    vocabularies are in the hyperparameters, so the file alone is enough.
    """
    checkpoint = read_checkpoint(path)
    module_name, _, class_name = checkpoint["musicgen_model"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ValueError(f"{path}: model class {checkpoint['musicgen_model']} not found") from None
    model = cls(**checkpoint["hyper_parameters"])
    problem = weights_problem(model.state_dict(), checkpoint["state_dict"])
    if problem:
        raise ValueError(f"{path}: its weights do not fit {class_name}: {problem}")
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(map_location).eval()


def weights_problem(expected: dict, found: dict, skip_rows: frozenset[str] = frozenset()) -> str | None:
    """What keeps ``found`` weights from loading into a model with ``expected`` ones, in one line
    (None: they fit). Parameters in ``skip_rows`` may differ in their first (vocabulary) axis."""

    def shape(tensor, name: str) -> tuple:
        return tuple(tensor.shape)[1:] if name in skip_rows else tuple(tensor.shape)

    parts = []
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    misshapen = [
        f"{name} {tuple(found[name].shape)} (the model has {tuple(expected[name].shape)})"
        for name in expected
        if name in found and shape(found[name], name) != shape(expected[name], name)
    ]
    for label, names in (("missing", missing), ("unexpected", unexpected), ("other shape", misshapen)):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"{label}: {shown}")
    return "; ".join(parts) or None
