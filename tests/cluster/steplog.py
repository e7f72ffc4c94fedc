"""A test-only Lightning callback: which batch every training step trained on, for the cluster tests.

Each completed step appends one JSON line (global step, a fingerprint of the batch, the SLURM
job id and restart count, the process id) to a file, so a preempted-and-requeued run can be
compared step by step with an uninterrupted one. ``pause_s`` slows each step down so a test can signal a job mid-training.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback


def batch_fingerprint(batch: Any) -> str:
    """A short digest of every tensor in a batch (tuple, list or dict of tensors)."""
    tensors = batch.values() if isinstance(batch, dict) else batch
    digest = hashlib.sha1()
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class StepLog(Callback):
    def __init__(self, path: str, pause_s: float = 0.0):
        self.path = Path(path)
        self.pause_s = pause_s

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.is_global_zero:
            entry = {
                "step": trainer.global_step,
                "batch": batch_fingerprint(batch),
                "job": os.environ.get("SLURM_JOB_ID"),
                "restart": int(os.environ.get("SLURM_RESTART_COUNT", 0)),
                "pid": os.getpid(),
            }
            with open(self.path, "a") as fh:
                fh.write(json.dumps(entry) + "\n")
        time.sleep(self.pause_s)


def read_steplog(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
