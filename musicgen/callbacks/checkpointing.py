"""What goes into a checkpoint, and how it reaches the disk.

Every checkpoint carries the run's record (``RunInfo``): the resolved config, package version,
git commit and data fingerprint, so it can be resumed only onto the same model and data
(``musicgen.resume``) and its data module rebuilt from it (``models.datamodule_from_checkpoint``).
It is written beside its target and renamed into place (``AtomicCheckpointIO``), so a kill
never leaves a half-written file where a resume would look.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO


class RunInfo(Callback):
    """Stores the resolved config, package version, git commit and data cache key in checkpoints."""

    def __init__(self, info: dict):
        self.info = info

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["musicgen_run"] = self.info


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint beside its target, then renames it into place.

    Lightning's fsspec transaction stages the file in the system temp folder and moves it,
    which is a copy, not an atomic rename, when outputs live on another filesystem (the usual
    case on clusters): a kill mid-copy would leave a truncated ``last.ckpt``.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        with open(partial, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)
