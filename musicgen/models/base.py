"""What every musicgen model shares: optimizer, LR schedule, loss logging and checkpoint tagging.

A subclass only says how a batch becomes a loss (``loss_and_tokens``); everything a Trainer
needs around that lives here, so the three models differ only in their networks.
"""

from __future__ import annotations

import math
import time

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from musicgen.music.tokens import PAD_ID

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}
SCHEDULES = ("none", "cosine")


def cosine_with_warmup(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier: linear ramp over ``warmup_steps``, then a half cosine down to 0 at the end."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class MusicModel(L.LightningModule):
    """Shared Lightning glue; subclasses call ``save_hyperparameters()`` and define the loss.

    Hyperparameters read here: ``optimizer``, ``lr``, ``weight_decay``, ``schedule`` and, when
    present, ``betas`` and ``warmup_steps``. Throughput is the number of real (non-pad) tokens
    a training step processed, divided by the wall time between consecutive steps.
    """

    # Whether a training step at paper size was measured faster in bf16-mixed than in float32
    # on a CPU with native bf16 (AVX-512 BF16 / AMX): ``trainer.precision=auto`` reads it.
    cpu_bf16_faster: bool = False
    # Parameter name -> the hyperparameter holding the vocabulary its rows are indexed by, so
    # fine-tuning on new data can carry rows over by token (musicgen.resume).
    vocab_rows: dict[str, str] = {}

    def loss_and_tokens(self, batch) -> tuple[Tensor, Tensor]:
        """(mean loss over the batch, number of real tokens it processed)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss_and_tokens")

    @staticmethod
    def batch_size(batch) -> int:
        return len(batch["melody"]) if isinstance(batch, dict) else len(batch[0])

    def training_step(self, batch, batch_idx: int) -> Tensor:
        loss, tokens = self.loss_and_tokens(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=self.batch_size(batch))
        self._step_tokens = tokens.detach()
        return loss

    def validation_step(self, batch, batch_idx: int) -> Tensor:
        loss, _ = self.loss_and_tokens(batch)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=self.batch_size(batch))
        return loss

    def test_step(self, batch, batch_idx: int) -> Tensor:
        loss, _ = self.loss_and_tokens(batch)
        self.log("test/loss", loss, sync_dist=True, batch_size=self.batch_size(batch))
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        now = time.perf_counter()
        last = getattr(self, "_last_step_end", None)
        if last is not None:
            self.log("train/tokens_per_s", self._step_tokens.float() / (now - last))
        self._last_step_end = now

    def on_train_epoch_start(self) -> None:
        self._last_step_end = None  # validation and epoch boundaries are not training time

    def on_fit_start(self) -> None:
        params = sum(p.numel() for p in self.parameters())
        rank_zero_info(f"{type(self).__name__}: {params:,} parameters")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["musicgen_model"] = model_family(self)

    def configure_optimizers(self):
        hp = self.hparams
        if hp.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {hp.optimizer!r}; choose one of {sorted(OPTIMIZERS)}"
            )
        if hp.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {hp.schedule!r}; choose one of {list(SCHEDULES)}")
        # Decay matrices and embeddings only: decaying biases and norm gains just hurts (nanoGPT).
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": hp.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        kwargs = {"lr": hp.lr}
        if hp.optimizer != "rmsprop" and "betas" in hp:
            kwargs["betas"] = tuple(hp.betas)
        optimizer = OPTIMIZERS[hp.optimizer](groups, **kwargs)
        if hp.schedule == "none":
            return optimizer
        total = self.trainer.estimated_stepping_batches
        if not math.isfinite(total):
            raise ValueError(
                "schedule=cosine needs a bounded run: set trainer.max_steps or max_epochs"
            )
        warmup = int(hp.get("warmup_steps", 0))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: cosine_with_warmup(step, warmup, int(total))
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def model_family(model: MusicModel) -> str:
    """The importable class name a checkpoint records (``musicgen_model``)."""
    return f"{type(model).__module__}.{type(model).__qualname__}"


def right_align(x: Tensor, pad_id: int = PAD_ID) -> tuple[Tensor, Tensor]:
    """Move left padding to the right: (tokens [B, T] starting at column 0, lengths [B]).

    The engine left-pads windows shorter than the batch's longest; recurrent models want the
    real tokens first, so padding never enters a forward LSTM state and the last real position
    is ``lengths - 1``. Assumes padding only on the left.
    """
    T = x.shape[1]
    lengths = (x != pad_id).sum(dim=1)
    columns = (torch.arange(T, device=x.device)[None, :] + (T - lengths)[:, None]) % T
    return x.gather(1, columns), lengths


def with_key(h: Tensor, keys: Tensor | None, conditioned: bool, name: str) -> Tensor:
    """``[X; M]``: each row's key vector (``musicgen.music.key.key_vector`` of key id
    ``keys[b]``) concatenated to every step of ``h`` [B, T, D]; ``h`` itself for a plain model."""
    if not conditioned:
        if keys is not None:
            raise ValueError(f"{name} was trained without key_conditioning: it takes no key")
        return h
    if keys is None:
        raise ValueError(f"{name} has key_conditioning=true: give each window its key id")
    m = torch.cat([F.one_hot(keys % 12, 12), F.one_hot(keys // 12, 2)], dim=-1).to(h.dtype)
    return torch.cat([h, m[:, None, :].expand(-1, h.shape[1], -1)], dim=-1)
