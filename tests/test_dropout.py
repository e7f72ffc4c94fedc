"""The cheap-mask dropout: the right share dropped, unbiased, and its gradient the same mask."""

from __future__ import annotations

import pytest
import torch

from musicgen.models.dropout import Dropout, dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_keep_mask_keeps_each_element_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    keep, kept = keep_mask(torch.Size((1000, 1001)), p)  # not a multiple of four elements
    assert keep.shape == (1000, 1001) and keep.dtype == torch.bool
    assert kept == pytest.approx(1 - p, abs=1 / 65536)
    share = keep.float().mean().item()
    assert abs(share - kept) < 5 * (kept * (1 - kept) / keep.numel()) ** 0.5


def test_keep_mask_flips_independent_coins_in_every_lane_of_a_draw():
    torch.manual_seed(1)
    keep, kept = keep_mask(torch.Size((400_000,)), 0.5)
    lanes = keep.view(-1, 4).float().mean(0)  # the four elements that share one 64-bit draw
    assert torch.allclose(lanes, torch.full((4,), kept), atol=0.005)
    pairs = keep.view(-1, 4)
    both = (pairs[:, 0] & pairs[:, 1]).float().mean().item()
    assert both == pytest.approx(kept * kept, abs=0.005)


def test_dropout_is_unbiased_and_backpropagates_through_the_same_mask():
    torch.manual_seed(2)
    x = torch.full((200, 500), 3.0, requires_grad=True)
    y = dropout(x, 0.2, training=True)
    assert y.mean().item() == pytest.approx(3.0, rel=0.01)
    kept = y != 0
    assert torch.allclose(y[kept], torch.tensor(3.0 / (1 - round(0.2 * 65536) / 65536)))
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y / 3.0).detach())


def test_dropout_is_reproducible_from_the_seed():
    x = torch.randn(64, 33)
    torch.manual_seed(5)
    a = Dropout(0.1).train()(x)
    torch.manual_seed(5)
    assert torch.equal(a, Dropout(0.1).train()(x))


def test_dropout_passes_input_through_in_eval_or_at_p_zero_and_zeroes_at_p_one():
    x = torch.randn(8, 16)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    torch.manual_seed(0)
    assert torch.equal(Dropout(0.999999).train()(x), torch.zeros_like(x))  # rounds to p = 1: F.dropout


def test_dropout_refuses_a_probability_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5"):
        Dropout(1.5)


def test_dropout_keeps_bf16_inputs_in_bf16():
    torch.manual_seed(3)
    x = torch.ones(64, 64, dtype=torch.bfloat16)
    y = Dropout(0.1).train()(x)
    assert y.dtype == torch.bfloat16 and 0 < int((y == 0).sum()) < x.numel()
