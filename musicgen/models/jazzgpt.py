"""JazzGPT: an encoder-decoder transformer that writes a jazz melody over a chord progression.

The encoder reads one chord symbol per beat; the decoder writes melody tokens (pitch:ticks)
left to right with causal self-attention and cross-attention to the chords. The blocks are
written here (pre-LN, fused ``scaled_dot_product_attention``) instead of using
``nn.Transformer`` so the decoder can generate incrementally with a key/value cache: each new
token costs one position of attention, not a re-run over the whole prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from musicgen.models.base import MusicModel
from musicgen.models.dropout import Dropout
from musicgen.models.losses import cross_entropy, linear_cross_entropy
from musicgen.music.tokens import PAD_ID, SPECIALS


@dataclass(frozen=True)
class MemoryRows:
    """Which encoder memory each decoder row reads.

    Samples of one progression share its encoding: instead of a copy of the memory per row,
    the rows of memory r sit in slots ``r * per_memory + j`` of a grid, so cross-attention is
    one matrix product per memory over all its rows (and the memory is read once, not once per
    row, which is what makes a batch of samples cheap). ``slots`` is None when row i reads
    memory i, the plain layout.
    """

    rows: Tensor  # Long[B]: the memory row of each decoder row
    memories: int
    slots: Tensor | None
    per_memory: int = 1

    @classmethod
    def plain(cls, memories: int, device: torch.device) -> MemoryRows:
        """Row i reads memory i (training, and rows on distinct progressions)."""
        return cls(torch.arange(memories, device=device), memories, None)

    @classmethod
    def of(cls, rows: Tensor, memories: int) -> MemoryRows:
        ids = rows.tolist()
        if ids == list(range(memories)):
            return cls.plain(memories, rows.device)
        outside = sorted({r for r in ids if not 0 <= r < memories})
        if outside:
            raise ValueError(f"memory_rows name memory {outside[0]}, outside 0..{memories - 1}")
        seen = [0] * memories
        position = []
        for r in ids:
            position.append(seen[r])
            seen[r] += 1
        per_memory = max(seen)
        slots = rows * per_memory + torch.tensor(position, device=rows.device)
        return cls(rows, memories, slots, per_memory)

    def gather(self, x: Tensor) -> Tensor:
        """Rows [B, T, C] -> grid [memories, per_memory * T, C] (empty slots are zeros)."""
        if self.slots is None:
            return x
        T, C = x.shape[1:]
        grid = x.new_zeros(self.memories * self.per_memory, T, C)
        grid[self.slots] = x
        return grid.view(self.memories, self.per_memory * T, C)

    def scatter(self, grid: Tensor, T: int) -> Tensor:
        """The inverse of ``gather``: grid [memories, per_memory * T, C] -> rows [B, T, C]."""
        if self.slots is None:
            return grid
        return grid.reshape(-1, T, grid.shape[-1])[self.slots]


@dataclass(frozen=True)
class KVCache:
    """Decoder state for incremental generation, one entry per decoder layer.

    ``self_k``/``self_v`` are buffers [B, H, capacity, Dh] whose first ``length`` positions hold
    the keys/values of the tokens decoded so far. New tokens are written in place after them,
    and a full buffer is replaced by one twice as long, so a T-token generation copies O(T)
    positions instead of the O(T^2) of growing by ``torch.cat`` at every step. ``cross_k``/
    ``cross_v`` are the encoder memories projected once, [memories, H, Tc, Dh], read by the rows
    as ``memory`` says. Because buffers are shared, only the newest cache of a chain may be
    decoded from.
    """

    self_k: tuple[Tensor, ...]
    self_v: tuple[Tensor, ...]
    cross_k: tuple[Tensor, ...]
    cross_v: tuple[Tensor, ...]
    memory_mask: Tensor  # [memories, 1, 1, Tc]
    memory: MemoryRows
    length: int = 0

    def select(self, rows: Tensor) -> KVCache:
        """The cache of the given batch rows (beam reordering, dropping finished samples).

        Memories stay put while rows share them; once each row reads its own, the memories are
        narrowed to the rows still decoding.
        """
        memory_rows = self.memory.rows.index_select(0, rows)
        cross_k, cross_v, mask = self.cross_k, self.cross_v, self.memory_mask
        if len(set(memory_rows.tolist())) == len(memory_rows):
            cross_k = tuple(t.index_select(0, memory_rows) for t in cross_k)
            cross_v = tuple(t.index_select(0, memory_rows) for t in cross_v)
            mask = mask.index_select(0, memory_rows)
            memory = MemoryRows.plain(len(rows), rows.device)
        else:
            memory = MemoryRows.of(memory_rows, len(mask))

        def pick_filled(buffers: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            picked = []
            for buffer in buffers:
                new = buffer.new_empty(len(rows), *buffer.shape[1:])
                new[:, :, : self.length] = buffer[:, :, : self.length].index_select(0, rows)
                picked.append(new)
            return tuple(picked)

        return KVCache(
            pick_filled(self.self_k),
            pick_filled(self.self_v),
            cross_k,
            cross_v,
            mask,
            memory,
            self.length,
        )


def append_positions(buffer: Tensor | None, length: int, new: Tensor) -> Tensor:
    """``buffer`` with ``new`` [B, H, t, Dh] written after its first ``length`` positions:
    in place when it fits, else in a buffer twice as long (the first call keeps ``new`` itself)."""
    if buffer is None:
        return new
    end = length + new.shape[2]
    if end > buffer.shape[2]:
        B, H, capacity, Dh = buffer.shape
        grown = new.new_empty(B, H, max(end, 2 * capacity), Dh)
        grown[:, :, :length] = buffer[:, :, :length]
        buffer = grown
    buffer[:, :, length:end] = new
    return buffer


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    position = torch.arange(max_len, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return table


class PositionalEncoding(nn.Module):
    """Adds a position vector to each token embedding, starting at ``offset`` (cached prefix)."""

    def __init__(self, kind: str, max_len: int, d_model: int):
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"pos_encoding must be 'sinusoidal' or 'learned', got {kind!r}")
        self.max_len = max_len
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.max_len:
            raise ValueError(f"sequence of {end} tokens is longer than max_len={self.max_len}")
        return x + self.table[offset:end]


class Attention(nn.Module):
    """Multi-head attention on fused SDPA; keys/values may come from a cache."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        """``dropout`` is on the attention weights (``attn_dropout`` of the model)."""
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def heads(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)

    def keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        k, v = self.kv(x).chunk(2, dim=-1)
        return self.heads(k), self.heads(v)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, causal: bool) -> Tensor:
        B, T, C = x.shape
        y = F.scaled_dot_product_attention(
            self.heads(self.q(x)),
            k,
            v,
            attn_mask=mask,
            is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Sequential):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(
            nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model), Dropout(dropout)
        )


class EncoderBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads, attn_dropout)
        self.mlp = MLP(d_model, d_ff, dropout)
        self.drop = Dropout(dropout)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, *self.attn.keys_values(h), mask=key_mask, causal=False))
        return x + self.mlp(self.ln2(x))


class DecoderBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = Attention(d_model, n_heads, attn_dropout)
        self.cross_attn = Attention(d_model, n_heads, attn_dropout)
        self.mlp = MLP(d_model, d_ff, dropout)
        self.drop = Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        past_k: Tensor | None,
        past_v: Tensor | None,
        past_length: int,
        cross_k: Tensor,
        cross_v: Tensor,
        memory_mask: Tensor,
        memory: MemoryRows,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One block over new positions; returns the output and this block's K/V buffers."""
        h = self.ln1(x)
        k, v = self.self_attn.keys_values(h)
        new = x.shape[1]
        total = past_length + new
        k_buffer = append_positions(past_k, past_length, k)
        v_buffer = append_positions(past_v, past_length, v)
        k, v = k_buffer[:, :, :total], v_buffer[:, :, :total]
        # Plain is_causal aligns the mask top-left, which is wrong once a prefix is cached:
        # new position i may see keys up to (total - new + i). One new token sees everything.
        causal_mask = None
        if new > 1 and total > new:
            causal_mask = torch.ones(new, total, dtype=torch.bool, device=x.device).tril(
                total - new
            )
        is_causal = new > 1 and total == new
        x = x + self.drop(self.self_attn(h, k, v, mask=causal_mask, causal=is_causal))
        grid = memory.gather(self.ln2(x))
        attended = self.cross_attn(grid, cross_k, cross_v, mask=memory_mask, causal=False)
        x = x + self.drop(memory.scatter(attended, new))
        return x + self.mlp(self.ln3(x)), k_buffer, v_buffer


class JazzGPT(MusicModel):
    """Chords (one symbol per beat) -> jazz melody (pitch:ticks tokens), encoder-decoder.

    The vocabularies travel in the hyperparameters, so a checkpoint alone can encode chords and
    decode melodies; ``data_info`` says how tokens map back to music (``ticks_per_beat``).

    ``dropout`` acts on the embeddings and the residual branches; ``attn_dropout`` on the
    attention weights, off by default (as nanoGPT separates them): the research specifies no
    attention dropout, and on CPU drawing masks over [B, H, T, T] is a large share of a training
    step and forces SDPA's slow unfused kernel (``benchmarks/``).
    """

    vocab_rows = {
        "chord_embed.weight": "chord_vocab",
        "melody_embed.weight": "melody_vocab",
        "head.weight": "melody_vocab",
        "head.bias": "melody_vocab",
    }

    def __init__(
        self,
        chord_vocab: list[str],
        melody_vocab: list[str],
        data_info: dict | None = None,
        d_model: int = 128,
        n_heads: int = 8,
        enc_layers: int = 3,
        dec_layers: int = 3,
        d_ff: int = 512,
        dropout: float = 0.1,
        attn_dropout: float = 0.0,
        max_len: int = 2048,
        pos_encoding: str = "sinusoidal",
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 200,
        betas: tuple[float, float] = (0.9, 0.98),
        optimizer: str = "adamw",
        schedule: str = "cosine",
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        for name, vocab in (("chord_vocab", chord_vocab), ("melody_vocab", melody_vocab)):
            if tuple(vocab[: len(SPECIALS)]) != SPECIALS:
                raise ValueError(f"{name} must start with the special tokens {SPECIALS}")
        self.save_hyperparameters()
        self.chord_embed = nn.Embedding(len(chord_vocab), d_model, padding_idx=PAD_ID)
        self.melody_embed = nn.Embedding(len(melody_vocab), d_model, padding_idx=PAD_ID)
        self.chord_pos = PositionalEncoding(pos_encoding, max_len, d_model)
        self.melody_pos = PositionalEncoding(pos_encoding, max_len, d_model)
        self.drop = Dropout(dropout)
        self.encoder = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff, dropout, attn_dropout) for _ in range(enc_layers)
        )
        self.decoder = nn.ModuleList(
            DecoderBlock(d_model, n_heads, d_ff, dropout, attn_dropout) for _ in range(dec_layers)
        )
        self.enc_ln, self.dec_ln = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, len(melody_vocab))

    def encode(self, chords: Tensor) -> tuple[Tensor, Tensor]:
        """(memory [B, Tc, D], memory_pad_mask [B, 1, 1, Tc]: True where a real chord is)."""
        mask = (chords != PAD_ID)[:, None, None, :]
        x = self.drop(self.chord_pos(self.chord_embed(chords)))
        for block in self.encoder:
            x = block(x, mask)
        return self.enc_ln(x), mask

    def decode(
        self,
        tokens: Tensor,
        memory: Tensor,
        memory_pad_mask: Tensor,
        cache: KVCache | None = None,
        memory_rows: Tensor | None = None,
    ) -> tuple[Tensor, KVCache]:
        """Logits [B, t_new, V] for new melody tokens whose positions follow the cache."""
        states, cache = self.decoder_states(tokens, memory, memory_pad_mask, cache, memory_rows)
        return self.head(states), cache

    def decoder_states(
        self,
        tokens: Tensor,
        memory: Tensor,
        memory_pad_mask: Tensor,
        cache: KVCache | None = None,
        memory_rows: Tensor | None = None,
    ) -> tuple[Tensor, KVCache]:
        """The decoder's normalised output [B, t_new, D] (what the head reads) and the new cache.

        Row i reads memory ``memory_rows[i]`` (default: memory i), so samples of one progression
        share one encoding. ``memory``, its mask and ``memory_rows`` are read when there is no
        cache yet; a cache carries them from then on.
        """
        if cache is None:
            if memory_rows is None:
                rows = MemoryRows.plain(len(memory), memory.device)
            else:
                rows = MemoryRows.of(memory_rows, len(memory))
            cross = [block.cross_attn.keys_values(memory) for block in self.decoder]
            cache = KVCache(
                (),
                (),
                tuple(k for k, _ in cross),
                tuple(v for _, v in cross),
                memory_pad_mask,
                rows,
            )
        x = self.drop(self.melody_pos(self.melody_embed(tokens), cache.length))
        self_k, self_v = [], []
        for i, block in enumerate(self.decoder):
            past_k = cache.self_k[i] if cache.self_k else None
            past_v = cache.self_v[i] if cache.self_v else None
            x, k, v = block(
                x,
                past_k,
                past_v,
                cache.length,
                cache.cross_k[i],
                cache.cross_v[i],
                cache.memory_mask,
                cache.memory,
            )
            self_k.append(k)
            self_v.append(v)
        length = cache.length + tokens.shape[1]
        return self.dec_ln(x), replace(
            cache, self_k=tuple(self_k), self_v=tuple(self_v), length=length
        )

    def forward(self, chords: Tensor, melody_in: Tensor) -> Tensor:
        memory, mask = self.encode(chords)
        logits, _ = self.decode(melody_in, memory, mask)
        return logits

    def loss_and_tokens(self, batch) -> tuple[Tensor, Tensor]:
        chords, melody = batch["chords"], batch["melody"]
        target = melody[:, 1:]
        real = target != PAD_ID
        memory, mask = self.encode(chords)
        states, _ = self.decoder_states(melody[:, :-1], memory, mask)
        # Head and loss only where a token is predicted: about half of a batch's positions are
        # padding, and the [positions, vocab] logits with their softmax are a large part of a step.
        predicted = states[real]
        # Label smoothing regularises training only: evaluation reports the plain negative
        # log-likelihood, so val/test losses (and perplexity) compare across settings.
        smoothing = self.hparams.label_smoothing if self.training else 0.0
        full_precision = predicted.dtype == torch.float32 and self.head.weight.dtype == torch.float32
        if full_precision and not torch.is_autocast_enabled(predicted.device.type):
            # block by block, never holding the [positions, vocab] logits
            loss = linear_cross_entropy(
                predicted, self.head.weight, self.head.bias, target[real], label_smoothing=smoothing
            )
        else:  # the head in reduced precision, its loss in float32
            logits = self.head(predicted)
            loss = cross_entropy(logits.float(), target[real], label_smoothing=smoothing)
        tokens = (chords != PAD_ID).sum() + real.sum()  # read + predicted
        return loss, tokens
