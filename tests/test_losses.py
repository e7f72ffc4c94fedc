"""The fused cross-entropy is F.cross_entropy, value and gradient, only faster."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from musicgen.models.losses import cross_entropy


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
