"""Decoding transforms: how the logits x of a model's head become sampling weights.

Each transform maps logits ``[..., V]`` to non-negative, unnormalised weights ``[..., V]``;
the sampler normalises them and draws in proportion. Negative values are resolved in one of
two declared ways, named in each docstring's second line:

- *clip*: negative results become 0 (that token is never drawn);
- *shift*: the row minimum is subtracted when it is negative, so the lowest token gets 0 and
  the others keep their order. Used where clipping would erase the transform's point
  (a clipped leaky ReLU is plain ReLU, a clipped piecewise is x·√x).

A ``-inf`` logit (a hard mask) gets weight 0 from every transform, so the sampler can draw
from the weights as they come.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def _clip(y: Tensor) -> Tensor:
    return y.clamp(min=0)


def _shift(y: Tensor) -> Tensor:
    finite = y.masked_fill(~torch.isfinite(y), float("inf"))
    return y - finite.amin(dim=-1, keepdim=True).clamp(max=0)


def _masked_to_zero(w: Tensor, x: Tensor) -> Tensor:
    return w.masked_fill(x == float("-inf"), 0.0)


def _top_k_mask(x: Tensor, k: int | None) -> Tensor:
    if k is None:
        raise ValueError("this transform needs k (the number of tokens to keep)")
    k = min(int(k), x.shape[-1])
    mask = torch.zeros_like(x, dtype=torch.bool)
    return mask.scatter(-1, x.topk(k, dim=-1).indices, True)


def _xlnx(x: Tensor) -> Tensor:
    positive = x.clamp(min=0)
    return positive * torch.log1p(positive)


def argmax(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """one-hot(argmax x)

    none: greedy, ties go to the lowest id."""
    one_hot = torch.zeros_like(x).scatter(-1, x.argmax(dim=-1, keepdim=True), 1.0)
    return _masked_to_zero(one_hot, x)


def identity(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """x

    clip: a negative logit is never drawn (so this is ReLU(x))."""
    return _clip(x)


def leaky_relu(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """max(αx, x)

    shift: negatives keep a small weight α(x − min x)."""
    return _masked_to_zero(_shift(torch.maximum(alpha * x, x)), x)


def softmax(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """eˣ

    none: always positive (computed as a stable softmax)."""
    return torch.softmax(x, dim=-1)


def xsqrtx(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """x·√max(x, 0)

    none: 0 for every x ≤ 0 by the formula."""
    positive = x.clamp(min=0)
    return positive * positive.sqrt()


def xlnx(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """x·ln(max(x, 0) + 1)

    none: 0 for every x ≤ 0 by the formula."""
    return _xlnx(x)


def sigmoid(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ)

    none: always in (0, 1)."""
    return torch.sigmoid(x)


def piecewise(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """x·√x if x ≥ 0, tanh x if x < 0

    shift: negatives keep a weight below 1 (tanh x − min)."""
    positive = x.clamp(min=0)
    y = torch.where(x >= 0, positive * positive.sqrt(), torch.tanh(x))
    return _masked_to_zero(_shift(y), x)


def top_k(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """x on the k largest logits, 0 elsewhere

    clip: a negative logit inside the top k is never drawn."""
    return _clip(x) * _top_k_mask(x, k)


def unif_top_k(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """1 on the k largest logits, 0 elsewhere

    none: uniform over the top k whatever their sign."""
    return _masked_to_zero(_top_k_mask(x, k).to(x.dtype), x)


def top_k_xlnx(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """x·ln(max(x, 0) + 1) on the k largest logits, 0 elsewhere

    none: 0 for every x ≤ 0 by the formula."""
    return _xlnx(x) * _top_k_mask(x, k)


def tanh_top_k(x: Tensor, k: int | None = None, alpha: float = 0.01) -> Tensor:
    """tanh(x) on the k largest logits, 0 elsewhere

    clip: a negative logit inside the top k is never drawn."""
    return _clip(torch.tanh(x)) * _top_k_mask(x, k)


TransformFn = Callable[..., Tensor]

TRANSFORMS: dict[str, TransformFn] = {
    "argmax": argmax,
    "x": identity,
    "leaky_relu": leaky_relu,
    "softmax": softmax,
    "xsqrtx": xsqrtx,
    "xlnx": xlnx,
    "sigmoid": sigmoid,
    "piecewise": piecewise,
    "topk": top_k,
    "unif_topk": unif_top_k,
    "topk_xlnx": top_k_xlnx,
    "tanh_topk": tanh_top_k,
}
"""Transform name -> ``fn(logits, k=None, alpha=0.01) -> non-negative weights``."""

NEEDS_K = frozenset({"topk", "unif_topk", "topk_xlnx", "tanh_topk"})
"""Transforms that read ``k``; every other transform ignores it."""

SCALE_FREE = frozenset({"argmax", "x", "leaky_relu", "xsqrtx", "topk", "unif_topk"})
"""Transforms whose normalised weights do not change when the logits are scaled by 1/T > 0,
so temperature has no effect on them (tests check this against the formulas)."""


def transform_table() -> str:
    """Markdown table of the transforms: name, formula, negatives rule, temperature effect."""
    rows = ["| name | weight | negatives | temperature |", "| --- | --- | --- | --- |"]
    for name, fn in TRANSFORMS.items():
        formula, negatives = (line.strip() for line in fn.__doc__.split("\n\n", 1))
        temperature = "no effect" if name in SCALE_FREE else "divides x first"
        rows.append(f"| `{name}` | {formula} | {negatives} | {temperature} |")
    return "\n".join(rows)
