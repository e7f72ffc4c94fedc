"""The fused losses are F.cross_entropy (after F.linear), value and gradient, only faster."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from musicgen.models.losses import cross_entropy, linear_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_torch_in_value_and_gradient(smoothing):
    torch.manual_seed(0)
    logits = torch.randn(37, 11, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 11, (37,))
    ours = cross_entropy(logits, target, label_smoothing=smoothing)
    (ours_grad,) = torch.autograd.grad(3.0 * ours, logits)
    theirs = F.cross_entropy(logits, target, label_smoothing=smoothing)
    (theirs_grad,) = torch.autograd.grad(3.0 * theirs, logits)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(ours_grad, theirs_grad)


def test_cross_entropy_leaves_the_logits_untouched():
    logits = torch.randn(5, 7, requires_grad=True)
    before = logits.detach().clone()
    cross_entropy(logits, torch.tensor([0, 1, 2, 3, 6])).backward()
    assert torch.equal(logits.detach(), before)


def test_cross_entropy_names_the_shapes_it_cannot_read():
    with pytest.raises(ValueError, match=r"logits \[N, V\] and target \[N\], got \(2, 3, 4\) and \(2,\)"):
        cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("rows", [1, 8, 64])  # blocks smaller than, dividing and beyond the rows
def test_linear_cross_entropy_matches_linear_then_cross_entropy(smoothing, rows):
    torch.manual_seed(0)
    hidden = torch.randn(37, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(11, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(11, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 11, (37,))
    ours = linear_cross_entropy(hidden, weight, bias, target, label_smoothing=smoothing, rows=rows)
    ours_grads = torch.autograd.grad(3.0 * ours, (hidden, weight, bias))
    theirs = F.cross_entropy(F.linear(hidden, weight, bias), target, label_smoothing=smoothing)
    theirs_grads = torch.autograd.grad(3.0 * theirs, (hidden, weight, bias))
    torch.testing.assert_close(ours, theirs)
    for mine, reference in zip(ours_grads, theirs_grads, strict=True):
        torch.testing.assert_close(mine, reference)


def test_linear_cross_entropy_without_grad_does_the_forward_product_alone():
    # The benchmarks count a step's FLOPs on the forward under no_grad: the blocks must not
    # also compute the gradients there.
    torch.manual_seed(1)
    hidden = torch.randn(9, 4, requires_grad=True)
    weight, bias = torch.randn(6, 4, requires_grad=True), torch.randn(6, requires_grad=True)
    target = torch.randint(0, 6, (9,))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        ours = linear_cross_entropy(hidden, weight, bias, target, rows=4)
    torch.testing.assert_close(ours, F.cross_entropy(F.linear(hidden, weight, bias), target))
    assert counter.get_total_flops() == 2 * 9 * 4 * 6


def test_linear_cross_entropy_names_the_shapes_it_cannot_read():
    with pytest.raises(ValueError, match=r"hidden \[N, D\], weight \[V, D\] and target \[N\], got \(2, 3\), \(5, 4\)"):
        linear_cross_entropy(torch.zeros(2, 3), torch.zeros(5, 4), torch.zeros(5), torch.zeros(2, dtype=torch.long))
