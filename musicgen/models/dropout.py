"""Dropout whose mask is cheap to draw on a CPU.

PyTorch draws a CPU dropout mask one random number per element, on one thread: dropout took
10% of a JazzGPT training step. Here one 64-bit draw gives the coin flips of four elements
(16 bits each), which makes dropout's forward and backward 2.3x faster on the same tensor.
The drop probability is rounded to a multiple of 1/65,536 and the kept values are scaled by
the inverse of the probability actually used, so the output's expectation is still the input.
On other devices it is ``F.dropout``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LEVELS = 1 << 16  # one coin flip per 16 random bits


def keep_mask(shape: torch.Size, p: float) -> tuple[Tensor, float]:
    """A boolean mask of ``shape``, each element kept with probability 1 - p (rounded to a
    multiple of 1/65,536), and that probability."""
    n = shape.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(1 << 63), (1 << 63) - 1)
    dropped = round(p * LEVELS)
    keep = bits.view(torch.int16)[:n].view(shape) >= dropped - LEVELS // 2
    return keep, 1 - dropped / LEVELS


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout(x, p, training)``, with the cheap mask on a CPU (where ``p`` rounds to a
    probability under 1: a mask that drops everything has no scale)."""
    if not training or p == 0:
        return x
    if x.device.type != "cpu" or round(p * LEVELS) >= LEVELS:
        return F.dropout(x, p, training=True)
    keep, kept = keep_mask(x.shape, p)
    return x * keep.to(x.dtype).mul_(1 / kept)


class Dropout(nn.Module):
    """``nn.Dropout`` with the cheap CPU mask (module docstring)."""

    def __init__(self, p: float):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
