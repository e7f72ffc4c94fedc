"""MAR-Y: bidirectional LSTMs with sequential self-attention, predicting the next piano token.

Each block is [BiLSTM -> self-attention over the window -> dropout]; two affine layers on top
give the distribution of the token that follows the window. The attention is the
position-wise additive self-attention of keras-self-attention's ``SeqSelfAttention``
(the original MAR-Y was written in Keras), with scaled dot-product offered as an alternative.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from musicgen.models.base import MusicModel, right_align, with_key
from musicgen.models.dropout import Dropout
from musicgen.music.key import KEY_DIM
from musicgen.music.tokens import PAD_ID, SPECIALS
from musicgen.precision import run_recurrent


class SeqSelfAttention(nn.Module):
    """out_t = sum_t' a_{t,t'} h_t', a = softmax over t' of e_{t,t'}.

    additive: e_{t,t'} = W_a . tanh(W_t h_t + W_x h_t' + b_h) (Keras also adds a scalar b_a,
    which cancels in the softmax, so it is left out); dot: e_{t,t'} = h_t . h_t' / sqrt(d).
    ``width`` limits each position to the ``width`` positions centred on it (Keras'
    ``attention_width``); None attends over the whole window.
    """

    def __init__(self, dim: int, kind: str = "additive", units: int = 32, width: int | None = None):
        super().__init__()
        if kind not in ("additive", "dot"):
            raise ValueError(f"attention must be 'additive' or 'dot', got {kind!r}")
        self.kind, self.width = kind, width
        if kind == "additive":
            self.w_t = nn.Linear(dim, units, bias=False)
            self.w_x = nn.Linear(dim, units)
            self.w_a = nn.Linear(units, 1, bias=False)

    def forward(self, h: Tensor, key_mask: Tensor) -> Tensor:
        if self.kind == "additive":
            e = self.w_a(torch.tanh(self.w_t(h)[:, :, None] + self.w_x(h)[:, None, :])).squeeze(-1)
        else:
            e = h @ h.transpose(1, 2) / math.sqrt(h.shape[-1])
        mask = key_mask[:, None, :]
        if self.width is not None:
            T = h.shape[1]
            offset = (
                torch.arange(T, device=h.device)[None, :]
                - torch.arange(T, device=h.device)[:, None]
            )
            lower = -(self.width // 2)
            mask = mask & ((offset >= lower) & (offset < lower + self.width))[None]
        # A finite fill, not -inf: a padded query with no visible key gets a harmless uniform row.
        e = e.masked_fill(~mask, torch.finfo(e.dtype).min)
        return torch.softmax(e.float(), dim=-1).to(h.dtype) @ h


class Block(nn.Module):
    def __init__(
        self,
        in_dim: int,
        hidden: int,
        attention: str,
        units: int,
        width: int | None,
        dropout: float,
    ):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden, batch_first=True, bidirectional=True)
        self.attn = SeqSelfAttention(2 * hidden, attention, units, width)
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor | None, key_mask: Tensor) -> Tensor:
        return self.drop(self.attn(run_recurrent(self._recur, x, lengths), key_mask))

    def _recur(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        return self.lstm(x)[0] if lengths is None else self._recur_short(x, lengths)

    def _recur_short(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The BiLSTM when some windows are short: those are packed, so the backward direction
        starts at each one's last real token; full windows take the fused unpacked path (a
        packed LSTM steps through time in small kernels, several times slower)."""
        T = x.shape[1]
        short = lengths < T
        full_rows, short_rows = (~short).nonzero()[:, 0], short.nonzero()[:, 0]
        packed = pack_padded_sequence(
            x[short_rows], lengths[short_rows].cpu(), batch_first=True, enforce_sorted=False
        )
        parts = [pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=T)[0]]
        if len(full_rows):
            parts.append(self.lstm(x[full_rows])[0])
        return torch.cat(parts)[torch.argsort(torch.cat([short_rows, full_rows]))]


class Mary(MusicModel):
    """Next-token model over a window of piano tokens (MAR-Y).

    The affine head reads the window's last real position. Being bidirectional, every position
    already summarises the whole window, and the last one sits next to the token to predict, so
    its forward state is the freshest; pooling would blur exactly that recency.
    Windows shorter than ``context`` (left-padded with pad id 0) are handled by masking; longer
    ones are cut to their last ``context`` tokens. ``key_conditioning`` concatenates the
    window's key vector (tonic and mode, ``KEY_DIM``) to every embedded token (``[X; M]``).
    """

    vocab_rows = {"embed.weight": "vocab", "head.2.weight": "vocab", "head.2.bias": "vocab"}

    def __init__(
        self,
        vocab: list[str],
        data_info: dict | None = None,
        context: int = 64,
        blocks: int = 2,
        embed_dim: int = 128,
        hidden: int = 512,
        attention: str = "additive",
        attention_units: int = 32,
        attention_width: int | None = None,
        dropout: float = 0.2,
        dense: int = 256,
        lr: float = 1e-3,
        optimizer: str = "adam",
        schedule: str = "none",
        weight_decay: float = 0.0,
        key_conditioning: bool = False,
    ):
        super().__init__()
        if tuple(vocab[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"vocab must start with the special tokens {SPECIALS}")
        self.save_hyperparameters()
        self.embed = nn.Embedding(len(vocab), embed_dim, padding_idx=PAD_ID)
        self.blocks = nn.ModuleList(
            Block(
                embed_dim + KEY_DIM * key_conditioning if i == 0 else 2 * hidden,
                hidden,
                attention,
                attention_units,
                attention_width,
                dropout,
            )
            for i in range(blocks)
        )
        self.head = nn.Sequential(
            nn.Linear(2 * hidden, dense), nn.ReLU(), nn.Linear(dense, len(vocab))
        )

    def forward(self, x: Tensor, keys: Tensor | None = None) -> Tensor:
        """Logits [B, V] of the token after each window x [B, T] (in key ``keys`` [B], key ids,
        when the model is key-conditioned)."""
        x, lengths = right_align(x[:, -self.hparams.context :], PAD_ID)
        B, T = x.shape
        if bool((lengths == 0).any()):
            raise ValueError("Mary: a window holds only padding; start an empty primer with <bos>")
        key_mask = torch.arange(T, device=x.device)[None, :] < lengths[:, None]
        packed_lengths = lengths if bool((lengths < T).any()) else None
        h = with_key(self.embed(x), keys, self.hparams.key_conditioning, "Mary")
        for block in self.blocks:
            h = block(h, packed_lengths, key_mask)
        last = h[torch.arange(B, device=x.device), lengths - 1]
        return self.head(last)

    def loss_and_tokens(self, batch) -> tuple[Tensor, Tensor]:
        x, y, *keys = batch
        loss = F.cross_entropy(self(x, *keys).float(), y)
        return loss, (x[:, -self.hparams.context :] != PAD_ID).sum()
