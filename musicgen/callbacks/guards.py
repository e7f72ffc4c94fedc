"""What guards a training run: NaN stops and clean exits on signals.

A run must survive being killed (SIGTERM from a scheduler, Ctrl+C from a user) with a
checkpoint it can resume from, and must never leave a half-written or NaN-poisoned one.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from musicgen.errors import UserError


class NonFiniteLossError(UserError, FloatingPointError):
    """The training loss became NaN or infinite."""


class FiniteLossGuard(Callback):
    """Stops before the optimizer step when the loss is NaN/inf, so no weights get poisoned.

    ``detect_anomaly`` finds the operation but slows every step; one finiteness check of the
    loss is enough to stop early and name the step. Under DDP the ranks agree before raising,
    so no rank waits forever in the gradient all-reduce.
    """

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            return
        value = "non-finite on another rank" if finite else f"{loss.item()}"
        raise NonFiniteLossError(
            f"training loss is {value} at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}); stopped before the optimizer step, nothing saved. "
            "Lower model.lr, keep gradient clipping, or try trainer.precision=32-true."
        )


class GracefulStop(Callback):
    """SIGTERM or a first Ctrl+C: finish the current batch, save ``last.ckpt``, exit.

    Lightning already turns SIGTERM into a clean stop after the current batch (agreed across
    DDP ranks, and left to its requeue logic on SLURM); a first SIGINT is re-sent as SIGTERM so
    Ctrl+C takes the same path. A second Ctrl+C interrupts at once.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.signal = signal.SIGTERM
        self._previous_sigint: Any = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        if trainer.is_global_zero:
            print(f"training; Ctrl+C or SIGTERM stops after this batch and saves {self.path}")

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.signal = signal.SIGINT
        signal.signal(signal.SIGINT, self._previous_sigint)
        os.kill(os.getpid(), signal.SIGTERM)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.path)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        main = threading.current_thread() is threading.main_thread()
        if self._previous_sigint is not None and main:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None
