"""A stacked LSTM whose recurrent state is dropped with one mask per sequence (Keras's
``recurrent_dropout``), with a hand-written backward pass.

No fused kernel (cuDNN, oneDNN) can drop the state inside its recurrence, and autograd through a
Python loop over time steps is slow on a CPU for two reasons this layer removes:

- it computes each step's weight gradients as its own small product (inner dimension: the batch)
  and adds them into the gradient one step at a time; here the backward pass keeps every step's
  gate gradients and computes the weight gradients with one large product per layer;
- it allocates and records a dozen small tensors per step; here every step writes into buffers
  made once per call.

What remains sequential is the one product per step and direction that the recurrence needs
(state times ``W_hh``) and the gate arithmetic around it. The math is PyTorch's LSTM (gates in
``nn.LSTM``'s order i, f, g, o and its weights), zero initial state, with ``h_{t-1} * keep``
where the plain LSTM reads ``h_{t-1}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _StateDropoutLayer(torch.autograd.Function):
    """One LSTM layer over a time-major sequence x [T, B, I] -> states [T, B, H]."""

    @staticmethod
    def forward(ctx, x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, keep: Tensor) -> Tensor:
        T, B, _ = x.shape
        H = w_hh.shape[1]
        # Gates for every step, first from the input alone (one product), then activated in place.
        gates = torch.addmm(bias, x.reshape(T * B, -1), w_ih.T).view(T, B, 4 * H)
        masked = x.new_zeros(T, B, H)  # h_{t-1} * keep, the recurrent product's input at step t
        cells = x.new_zeros(T + 1, B, H)
        tanh_cells = x.new_empty(T, B, H)
        states = x.new_empty(T, B, H)
        w_hh_t = w_hh.T
        for t in range(T):
            z = gates[t]
            if t:
                torch.mul(states[t - 1], keep, out=masked[t])
                z.addmm_(masked[t], w_hh_t)
            z[:, : 2 * H].sigmoid_()
            z[:, 2 * H : 3 * H].tanh_()
            z[:, 3 * H :].sigmoid_()
            i, f, g, o = z.split(H, dim=1)
            c = cells[t + 1]
            torch.mul(f, cells[t], out=c)
            c.addcmul_(i, g)
            torch.tanh(c, out=tanh_cells[t])
            torch.mul(o, tanh_cells[t], out=states[t])
        ctx.save_for_backward(x, w_ih, w_hh, keep, gates, masked, cells, tanh_cells)
        return states

    @staticmethod
    def backward(ctx, d_states: Tensor) -> tuple[Tensor | None, ...]:
        x, w_ih, w_hh, keep, gates, masked, cells, tanh_cells = ctx.saved_tensors
        T, B, H = d_states.shape
        d_gates = torch.empty_like(gates)  # gradients before the activations, every step
        dh = d_states.new_zeros(B, H)
        dc = d_states.new_zeros(B, H)
        scratch = d_states.new_empty(B, H)
        sigmoid_slope = d_states.new_empty(B, 2 * H)
        one = d_states.new_ones(())
        for t in reversed(range(T)):
            i, f, g, o = gates[t].split(H, dim=1)
            di, df, dg, do = d_gates[t].split(H, dim=1)
            tanh_c = tanh_cells[t]
            dh.add_(d_states[t])
            torch.mul(dh, tanh_c, out=do)
            torch.mul(dh, o, out=scratch)
            dc.addcmul_(scratch, torch.addcmul(one, tanh_c, tanh_c, value=-1, out=dh))  # dh is free now
            torch.mul(dc, g, out=di)
            torch.mul(dc, cells[t], out=df)
            torch.mul(dc, i, out=dg)
            dc.mul_(f)
            # Through the activations: s' = s - s^2 for the sigmoids, 1 - g^2 for tanh.
            if_gates = gates[t][:, : 2 * H]
            d_gates[t][:, : 2 * H].mul_(torch.addcmul(if_gates, if_gates, if_gates, value=-1, out=sigmoid_slope))
            do.mul_(torch.addcmul(o, o, o, value=-1, out=scratch))
            dg.mul_(torch.addcmul(one, g, g, value=-1, out=scratch))
            if t:
                torch.mm(d_gates[t], w_hh, out=dh)
                dh.mul_(keep)
        flat = d_gates.view(T * B, 4 * H)
        d_x = (flat @ w_ih).view(x.shape) if ctx.needs_input_grad[0] else None
        d_w_ih = flat.T @ x.reshape(T * B, -1)
        d_w_hh = flat.T @ masked.view(T * B, H)
        return d_x, d_w_ih, d_w_hh, flat.sum(0), None


def layer_probabilities(p: float | Sequence[float], layers: int) -> list[float]:
    """``p`` for each of ``layers`` layers: one value for all, or a list with one per layer (the
    Keras composer drops the state of its first two layers only: ``[0.3, 0.3, 0.0]``)."""
    problem = ValueError(
        f"recurrent dropout: expected one probability in [0, 1) or {layers} of them (one per layer), got {p!r}"
    )
    try:
        per_layer = [float(p)] * layers if isinstance(p, int | float) else [float(q) for q in p]
    except (TypeError, ValueError):
        raise problem from None
    if isinstance(p, str) or len(per_layer) != layers or not all(0 <= q < 1 for q in per_layer):
        raise problem
    return per_layer


def state_dropout_lstm(lstm: nn.LSTM, x: Tensor, p: float | Sequence[float]) -> Tensor:
    """``lstm`` (unidirectional, batch-first, with biases) over x [B, T, I] from a zero state,
    each layer's recurrent state dropped with probability ``p`` (one value, or one per layer) by
    one mask per sequence.

    Under autocast the layer runs in the autocast dtype (as autocast would run its products)."""
    if lstm.bidirectional or not lstm.batch_first or not lstm.bias or lstm.proj_size:
        raise ValueError("state_dropout_lstm: needs a unidirectional, batch-first LSTM with biases")
    per_layer = layer_probabilities(p, lstm.num_layers)
    device = x.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
    B = x.shape[0]
    h = x.transpose(0, 1).contiguous().to(dtype)
    with torch.autocast(device, enabled=False):
        for layer in range(lstm.num_layers):
            weights = [getattr(lstm, f"{name}_l{layer}").to(dtype) for name in ("weight_ih", "weight_hh")]
            bias = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).to(dtype)
            keep = F.dropout(h.new_ones(B, lstm.hidden_size), per_layer[layer], training=True)
            h = _StateDropoutLayer.apply(h, *weights, bias, keep)
    return h.transpose(0, 1)
