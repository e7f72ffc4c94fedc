"""Reading checkpoints: the file behind a user's ``ckpt_path``, its model, and its data module.

A checkpoint alone restores its model (the class is named in ``musicgen_model``, the
vocabularies and ``data_info`` are in the hyperparameters) and, when ``train.py`` wrote it, the
data module it was trained on (the resolved config in ``musicgen_run``). Everything here reads
with ``weights_only=True``: a checkpoint is a user's file, and unpickling arbitrary objects from
one would run its code.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from musicgen.models.base import MusicModel
from musicgen.models.pretrained import PREFIX, pretrained_path

RENAMED_TARGETS = {"musicgen.data.jazz.JazzDataModule": "musicgen.data.leadsheet.LeadSheetDataModule"}
"""Classes a checkpoint's recorded data config may name that have since moved (old -> new)."""


def resolve_checkpoint(spec: str | os.PathLike, outputs: str | os.PathLike = "outputs") -> Path:
    """A checkpoint path from a user's ``ckpt_path``.

    ``latest`` is the newest ``*.ckpt`` under ``outputs``; ``last`` the newest ``last.ckpt``
    (what an interrupted run resumes from); ``pretrained:<name>`` a model shipped with the
    package; anything else must be an existing file.
    """
    spec = str(spec)
    if spec.startswith(PREFIX):
        return pretrained_path(spec)
    if spec in ("latest", "last"):
        return newest_checkpoints(spec, outputs)[0]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={spec}: no such checkpoint file")
    return path


def newest_checkpoints(spec: str, outputs: str | os.PathLike) -> list[Path]:
    """Checkpoints under ``outputs`` newest first: every ``*.ckpt`` for ``latest``, every
    ``last.ckpt`` for ``last``; a one-line error when there is none."""
    pattern = "last.ckpt" if spec == "last" else "*.ckpt"
    found = sorted(Path(outputs).rglob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    if not found:
        raise FileNotFoundError(f"ckpt_path={spec}: no {pattern} under {Path(outputs).resolve()}")
    return found


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


def recommended_sampler(path: str | Path) -> dict | None:
    """The sampler a checkpoint recommends (shipped models carry one), else None."""
    return read_checkpoint(path, mmap=True).get("musicgen_sampler")


def datamodule_from_checkpoint(path: str | Path, data_path: str | None = None) -> Any | None:
    """The data module a checkpoint was trained on (its recorded data config), or None when the
    checkpoint records none (one not written by ``train.py``).

    ``data_path`` stands in for the recorded data file when that one is not on this machine
    (a model trained elsewhere, such as a shipped one, records the path it was trained from).
    Classes that have moved since the checkpoint was written are found under their new names.
    """
    run = read_checkpoint(path, mmap=True).get("musicgen_run")
    if not run:
        return None
    data = OmegaConf.create(run["config"]["data"])
    data._target_ = RENAMED_TARGETS.get(data._target_, data._target_)
    recorded = data.get("path")
    if data_path and recorded and not Path(str(recorded)).exists():
        data.path = data_path
        if "path" in data.get("source", {}):
            data.source.path = data_path
    return instantiate(data)
