"""The recurrent-dropout LSTM's hand-written backward pass against autograd and nn.LSTM."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import sequence_batch, tiny_lstm

from musicgen.models.state_dropout_lstm import _StateDropoutLayer, state_dropout_lstm

B, T, IN, H = 4, 7, 3, 5


def lstm_and_input(layers: int = 2, dtype: torch.dtype = torch.float64) -> tuple[torch.nn.LSTM, torch.Tensor]:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(IN, H, num_layers=layers, batch_first=True).to(dtype)
    return lstm, torch.randn(B, T, IN, dtype=dtype, requires_grad=True)


def autograd_loop(lstm: torch.nn.LSTM, x: torch.Tensor, p: float | list[float]) -> torch.Tensor:
    """The same math written plainly, step by step, for autograd to differentiate."""
    h = x
    per_layer = p if isinstance(p, list) else [p] * lstm.num_layers
    for layer in range(lstm.num_layers):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}")
        bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
        keep = F.dropout(h.new_ones(B, H), per_layer[layer], training=True)
        state, cell, outputs = h.new_zeros(B, H), h.new_zeros(B, H), []
        for step in (h @ w_ih.T + bias).unbind(1):
            i, f, g, o = (step + (state * keep) @ w_hh.T).chunk(4, dim=-1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            state = torch.sigmoid(o) * torch.tanh(cell)
            outputs.append(state)
        h = torch.stack(outputs, dim=1)
    return h


def values_and_gradients(run, lstm: torch.nn.LSTM, x: torch.Tensor, seed: int = 3):
    torch.manual_seed(seed)  # both draw one mask per layer, in the same order
    out = run()
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    return out, torch.autograd.grad(out, [x, *lstm.parameters()], upstream)


@pytest.mark.parametrize("p", [0.0, 0.4, [0.4, 0.0]], ids=["none", "all-layers", "first-layer"])
def test_state_dropout_lstm_matches_autograd_through_the_same_loop_and_masks(p):
    lstm, x = lstm_and_input()
    ours, our_grads = values_and_gradients(lambda: state_dropout_lstm(lstm, x, p), lstm, x)
    plain, plain_grads = values_and_gradients(lambda: autograd_loop(lstm, x, p), lstm, x)
    torch.testing.assert_close(ours, plain)
    for a, b in zip(our_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_state_dropout_lstm_without_dropout_is_nn_lstm_values_and_gradients():
    lstm, x = lstm_and_input(layers=3)
    ours, our_grads = values_and_gradients(lambda: state_dropout_lstm(lstm, x, 0.0), lstm, x)
    fused, fused_grads = values_and_gradients(lambda: lstm(x)[0], lstm, x)
    torch.testing.assert_close(ours, fused)
    for a, b in zip(our_grads, fused_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_state_dropout_layer_gradients_pass_gradcheck_with_dropout():
    g = torch.Generator().manual_seed(0)
    x, w_ih, w_hh, bias = (
        torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
        for shape in ((T, B, IN), (4 * H, IN), (4 * H, H), (4 * H,))
    )
    keep = F.dropout(torch.ones(B, H, dtype=torch.float64), 0.4, training=True)
    assert torch.autograd.gradcheck(lambda *a: _StateDropoutLayer.apply(*a, keep), (x, w_ih, w_hh, bias))


def test_state_dropout_lstm_drops_whole_units_for_the_whole_sequence():
    lstm, x = lstm_and_input(layers=1, dtype=torch.float32)
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()
        lstm.weight_hh_l0[:, 0] = 1.0  # every gate reads only unit 0 of the previous state
        torch.manual_seed(0)
        dropped = state_dropout_lstm(lstm, x, 0.5)
        torch.manual_seed(0)
        keep = F.dropout(torch.ones(B, H), 0.5, training=True)
        kept = autograd_loop(lstm, x, 0.0)
    assert 0 < int((keep[:, 0] == 0).sum()) < B  # both kinds of row occur
    for row in range(B):  # a row whose unit 0 is dropped runs as if W_hh were zero, at every step
        if keep[row, 0] == 0:
            lstm_input_only = torch.nn.LSTM(IN, H, batch_first=True)
            lstm_input_only.load_state_dict(lstm.state_dict())
            with torch.no_grad():
                lstm_input_only.weight_hh_l0.zero_()
                torch.testing.assert_close(dropped[row], lstm_input_only(x[row : row + 1])[0][0])
        else:
            assert not torch.allclose(dropped[row], kept[row])  # scaled by 1 / (1 - p)


def test_state_dropout_lstm_runs_in_the_autocast_dtype_and_trains_float32_weights():
    lstm, x = lstm_and_input(dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(2)
        low = state_dropout_lstm(lstm, x, 0.3)
    assert low.dtype == torch.bfloat16
    low.float().sum().backward()
    assert lstm.weight_hh_l0.grad.dtype == torch.float32 and lstm.weight_hh_l0.grad.abs().sum() > 0
    torch.manual_seed(2)
    torch.testing.assert_close(low.float(), state_dropout_lstm(lstm, x, 0.3), atol=0.05, rtol=0)


def test_state_dropout_lstm_refuses_a_bidirectional_lstm():
    with pytest.raises(ValueError, match="unidirectional"):
        state_dropout_lstm(torch.nn.LSTM(IN, H, bidirectional=True, batch_first=True), torch.randn(B, T, IN), 0.3)


@pytest.mark.parametrize("p", [[0.3], [0.3, 0.3, 0.0], 1.0, [0.3, -0.1], "0.3", ["a", 0.1], None])
def test_state_dropout_lstm_refuses_probabilities_that_do_not_fit_its_layers(p):
    lstm, x = lstm_and_input()
    with pytest.raises(ValueError, match="one probability in \\[0, 1\\) or 2 of them"):
        state_dropout_lstm(lstm, x, p)


def test_lstm_baseline_checks_per_layer_recurrent_dropout_when_built():
    with pytest.raises(ValueError, match="3 of them"):
        tiny_lstm(layers=3, recurrent_dropout=[0.3, 0.0])
    model = tiny_lstm(layers=2, recurrent_dropout=[0.3, 0.0], dropout=0.0)
    x, _ = sequence_batch()
    torch.manual_seed(1)
    assert not torch.allclose(model.train()(x), model.eval()(x))
