"""Losses written for speed where PyTorch's general ones do needless passes over big tensors."""

from __future__ import annotations

import torch
from torch import Tensor


class _CrossEntropy(torch.autograd.Function):
    """Mean cross-entropy over rows of logits, with optional label smoothing.

    ``F.cross_entropy`` backpropagates through log-softmax and NLL separately: it fills a zero
    gradient the size of the logits, scatters into it, then makes another full pass. Here the
    saved log-probabilities become the gradient in place (softmax minus the target
    distribution), so a wide head (JazzGPT's 6,499 melody tokens at every predicted position)
    costs one fused forward and about two passes backward.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor, smoothing: float) -> Tensor:
        logp = torch.log_softmax(logits, dim=-1)
        loss = -(1.0 - smoothing) * logp.gather(1, target[:, None]).mean()
        if smoothing:
            loss = loss - smoothing * logp.mean()
        ctx.save_for_backward(logp, target)
        ctx.smoothing = smoothing
        return loss

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        logp, target = ctx.saved_tensors
        rows, width = logp.shape
        smoothing = ctx.smoothing
        out = logp.exp_()  # logp is ours alone: it becomes the gradient
        if smoothing:
            out.sub_(smoothing / width)
        hit = torch.full((rows, 1), smoothing - 1.0, dtype=out.dtype, device=out.device)
        out.scatter_add_(1, target[:, None], hit)
        return out.mul_(grad / rows), None, None


def cross_entropy(logits: Tensor, target: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """``F.cross_entropy(logits, target, label_smoothing=...)`` for [N, V] logits, mean-reduced."""
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        shapes = f"{tuple(logits.shape)} and {tuple(target.shape)}"
        raise ValueError(f"cross_entropy: expected logits [N, V] and target [N], got {shapes}")
    return _CrossEntropy.apply(logits, target, float(label_smoothing))


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``hidden @ weight.T + bias``, computed a block of rows at a time.

    On a CPU the [N, V] logits of a wide head (JazzGPT: ~6,400 predicted positions x 6,499 melody
    tokens, 166 MB) do not fit in any cache, so every pass over them (the product, log-softmax,
    its backward, the two products of the backward) runs at memory speed. Block by block the
    logits stay in cache: each block's softmax becomes its gradient in place and goes straight
    into the gradients of ``hidden``, ``weight`` and ``bias``, which the forward keeps (the loss
    is the end of the graph, so the backward only scales them). Nothing of size [N, V] is kept.
    """

    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, bias: Tensor, target: Tensor, smoothing: float,
                rows: int, wants_grad: bool) -> Tensor:
        count, width = hidden.shape[0], weight.shape[0]
        d_hidden = torch.empty_like(hidden) if wants_grad else None
        d_weight = torch.zeros_like(weight) if wants_grad else None
        d_bias = torch.zeros_like(bias) if wants_grad else None
        total = hidden.new_zeros(())
        for start in range(0, count, rows):
            block, picked_ids = hidden[start : start + rows], target[start : start + rows, None]
            logits = torch.addmm(bias, block, weight.T)
            picked = logits.gather(1, picked_ids)
            row_sums = logits.sum(1, keepdim=True) if smoothing else None
            top = logits.amax(1, keepdim=True)
            probs = logits.sub_(top).exp_()  # the block's logits become its softmax, then its gradient
            norm = probs.sum(1, keepdim=True)
            log_norm = top + norm.log()
            total += (1.0 - smoothing) * (log_norm - picked).sum()
            if smoothing:
                total += smoothing * (log_norm.sum() - row_sums.sum() / width)
            if not wants_grad:
                continue
            probs.div_(norm)
            if smoothing:
                probs.sub_(smoothing / width)
            probs.scatter_add_(1, picked_ids, probs.new_full(picked_ids.shape, smoothing - 1.0))
            torch.mm(probs, weight, out=d_hidden[start : start + rows])
            d_weight.addmm_(probs.T, block)
            d_bias += probs.sum(0)
        if wants_grad:
            ctx.save_for_backward(d_hidden, d_weight, d_bias)
        ctx.count = count
        return total / count

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        scale = grad / ctx.count
        return tuple(g * scale for g in ctx.saved_tensors) + (None, None, None, None)


def linear_cross_entropy(hidden: Tensor, weight: Tensor, bias: Tensor, target: Tensor,
                         label_smoothing: float = 0.0, rows: int = 256) -> Tensor:
    """``cross_entropy(F.linear(hidden, weight, bias), target, label_smoothing)`` for hidden
    [N, D] in float32, without the [N, V] logits; ``rows`` per block (256 rows of 6,499 logits,
    6.7 MB, measured fastest on a 2-core Xeon)."""
    if hidden.dim() != 2 or target.shape != hidden.shape[:1] or weight.shape[1:] != hidden.shape[1:]:
        shapes = f"{tuple(hidden.shape)}, {tuple(weight.shape)} and {tuple(target.shape)}"
        raise ValueError(f"linear_cross_entropy: expected hidden [N, D], weight [V, D] and target [N], got {shapes}")
    # Without autograd (evaluation, FLOP counting) the blocks do the forward's work alone.
    wants_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (hidden, weight, bias))
    return _LinearCrossEntropy.apply(hidden, weight, bias, target, float(label_smoothing), rows, wants_grad)
