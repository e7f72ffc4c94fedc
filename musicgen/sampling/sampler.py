"""The Sampler: one decoding strategy (transform, temperature, top-k/top-p, chord bias).

Hydra builds it from ``conf/sampler/*.yaml``; the generation engine calls ``sample`` (or
``weights`` for beam search) once per step. Chord-aware decoding is an additive logit bias,
so it composes with every transform.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from musicgen.music.records import REST
from musicgen.music.tokens import melody_events
from musicgen.sampling.transforms import NEEDS_K, SCALE_FREE, TRANSFORMS

CHORD_MODES = ("tones", "scale")


def _token_pitch(token: str) -> int | None:
    """MIDI pitch of a melody token ``"{pitch}:{ticks}"``, a lick's first sounded pitch (REST when
    it sounds none); None for special tokens ``<...>``."""
    if token.startswith("<"):
        return None
    return next((p for p, _ in melody_events(token) if p != REST), REST)


def chord_bias(
    melody_vocab: Sequence[str], chord_symbol: str, strength: float, mode: str = "tones"
) -> Tensor:
    """Additive logit penalty ``-strength`` on pitches whose class lies outside the chord.

    Rests, special tokens and "NC" are never penalised, and nothing is under ``<unk>`` (a chord
    the model's data did not name); ``strength=inf`` is a hard restriction.
    """
    if mode not in CHORD_MODES:
        raise ValueError(f"chord mode {mode!r} is not one of {CHORD_MODES}")
    if strength < 0:
        raise ValueError(f"chord-aware strength must be >= 0, got {strength}")
    from musicgen.music.chords import parse_chord

    bias = torch.zeros(len(melody_vocab))
    if strength == 0 or chord_symbol.startswith("<"):  # <unk>: a chord the model never saw
        return bias
    chord = parse_chord(chord_symbol)
    if chord.is_nc:
        return bias
    allowed = set(chord.tones if mode == "tones" else chord.scale)
    for i, token in enumerate(melody_vocab):
        pitch = _token_pitch(token)
        if pitch is not None and pitch != REST and pitch % 12 not in allowed:
            bias[i] = -strength
    return bias


class Sampler:
    """Turns logits ``[B, V]`` into token ids ``[B]`` with one decoding strategy.

    Temperature divides the logits before the transform; ``top_p`` then keeps the smallest set
    of tokens whose normalised weight reaches ``top_p``. ``k`` is read only by the top-k
    transforms and ``alpha`` only by leaky ReLU, so a sweep may pass them to every sampler.
    """

    def __init__(
        self,
        transform: str = "softmax",
        temperature: float = 1.0,
        k: int | None = None,
        top_p: float | None = None,
        alpha: float = 0.01,
        beam_width: int = 1,
        chord_aware: float = 0.0,
        chord_mode: str = "tones",
        repeat_penalty: float = 0.0,
    ):
        if transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; valid: {', '.join(TRANSFORMS)}")
        if transform in NEEDS_K and k is None:
            raise ValueError(f"transform {transform!r} needs k (e.g. sampler.k=15)")
        if k is not None and int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0 <= alpha < 1:
            raise ValueError(f"leaky ReLU alpha must be in [0, 1), got {alpha}")
        if int(beam_width) < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        if chord_aware < 0:
            raise ValueError(f"chord_aware strength must be >= 0, got {chord_aware}")
        if chord_mode not in CHORD_MODES:
            raise ValueError(f"chord_mode {chord_mode!r} is not one of {CHORD_MODES}")
        if not 0 <= repeat_penalty < float("inf"):
            raise ValueError(f"repeat_penalty must be >= 0 and finite, got {repeat_penalty}")
        self.transform = transform
        self.temperature = float(temperature)
        self.k = int(k) if k is not None else None
        self.top_p = top_p
        self.alpha = float(alpha)
        self.beam_width = int(beam_width)
        self.chord_aware = float(chord_aware)
        self.chord_mode = chord_mode
        self.repeat_penalty = float(repeat_penalty)
        self._bias_vocab: list[str] | None = None
        self._bias_cache: dict[str, Tensor] = {}

    @property
    def name(self) -> str:
        """Short, file-name safe label listing only the settings that change the output."""
        parts = [f"beam{self.beam_width}"] if self.beam_width > 1 else []
        parts.append(self.transform)
        if self.transform in NEEDS_K:
            parts.append(f"k{self.k}")
        if self.transform == "leaky_relu":
            parts.append(f"a{self.alpha:g}")
        if self.temperature != 1.0 and self.transform not in SCALE_FREE:
            parts.append(f"t{self.temperature:g}")
        if self.top_p is not None and self.top_p < 1:
            parts.append(f"p{self.top_p:g}")
        if self.chord_aware > 0:
            parts.append(f"chord-{self.chord_mode}{self.chord_aware:g}")
        if self.repeat_penalty > 0:
            parts.append(f"repeat{self.repeat_penalty:g}")
        return "_".join(parts)

    def __repr__(self) -> str:
        return f"Sampler({self.name})"

    def chord_bias(self, melody_vocab: Sequence[str], chords: Sequence[str]) -> Tensor | None:
        """Per-row logit bias ``[B, V]`` for the current chord of each row; None when off."""
        if self.chord_aware == 0:
            return None
        if self._bias_vocab != list(melody_vocab):
            self._bias_vocab, self._bias_cache = list(melody_vocab), {}
        for symbol in set(chords) - self._bias_cache.keys():
            self._bias_cache[symbol] = chord_bias(
                melody_vocab, symbol, self.chord_aware, self.chord_mode
            )
        return torch.stack([self._bias_cache[s] for s in chords])

    def repeat_bias(self, token_pitches: Tensor, last_pitches: Tensor) -> Tensor | None:
        """Per-row logit bias ``[B, V]``: ``-repeat_penalty`` on the pitch each row sounded last
        (``last_pitches`` Long[B], 0 before the first note); None when off. ``token_pitches``
        [V] is each token's pitch (0 for rests and specials), which the caller builds once.

        Striking the same note again at once is what a stuck sampler does (the repetition rate
        metric); rests in between do not reset it, since the metric skips rests too.
        """
        if self.repeat_penalty == 0:
            return None
        pitches = token_pitches.to(last_pitches.device)
        repeat = (pitches[None, :] == last_pitches[:, None]) & (last_pitches[:, None] != REST)
        return repeat.float() * -self.repeat_penalty

    def weights(self, logits: Tensor, bias: Tensor | None = None) -> Tensor:
        """Normalised weights ``[B, V]``; a row with no usable weight becomes argmax one-hot."""
        w = self._draw_weights(logits, bias)
        return w / w.sum(dim=-1, keepdim=True)

    def _draw_weights(self, logits: Tensor, bias: Tensor | None) -> Tensor:
        """Non-negative weights ``[B, V]`` that ``weights`` normalises and sampling draws by.

        Drawing needs no normalisation (the inverse CDF scales by each row's total), and a
        check per row instead of per token keeps this a few passes over the logits: it runs
        once per generated token over the whole vocabulary.
        """
        x = logits.float()
        if bias is not None:
            x = x + bias.to(x.device)
        if self.temperature != 1.0:
            x = x / self.temperature
        w = TRANSFORMS[self.transform](x, k=self.k, alpha=self.alpha)
        total = w.sum(dim=-1, keepdim=True)
        usable = torch.isfinite(total) & (total > 0)  # weights are >= 0: a finite sum means all are
        if not bool(usable.all()):
            best = x.nan_to_num(nan=float("-inf")).argmax(dim=-1, keepdim=True)
            w = torch.where(usable, w, torch.zeros_like(w).scatter(-1, best, 1.0))
            total = torch.where(usable, total, 1.0)
        if self.top_p is not None and self.top_p < 1:
            w = self._nucleus(w / total)
        return w

    def _nucleus(self, w: Tensor) -> Tensor:
        """Keep the smallest top set whose mass reaches top_p (ties broken by token id)."""
        sorted_w, order = w.sort(dim=-1, descending=True, stable=True)
        mass_before = sorted_w.cumsum(dim=-1) - sorted_w
        keep_sorted = mass_before < self.top_p - 1e-6
        keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
        w = w * keep
        return w / w.sum(dim=-1, keepdim=True).clamp(min=torch.finfo(w.dtype).tiny)

    def sample(
        self, logits: Tensor, generator: torch.Generator | None = None, bias: Tensor | None = None
    ) -> Tensor:
        """One token id per row, drawn in proportion to ``weights`` (greedy for argmax)."""
        w = self._draw_weights(logits, bias)
        if self.transform == "argmax":
            return w.argmax(dim=-1)
        return inverse_cdf(w, torch.rand(w.shape[0], generator=generator, device=w.device))

    def sample_rows(
        self, logits: Tensor, generators: Sequence[torch.Generator], bias: Tensor | None = None
    ) -> Tensor:
        """``sample`` row by row, row j drawing from ``generators[j]``: one uniform number per
        row and step, so a batch costs what one row does plus a tiny draw per extra row."""
        w = self._draw_weights(logits, bias)
        if self.transform == "argmax":
            return w.argmax(dim=-1)
        u = torch.cat([torch.rand(1, generator=g, device=w.device) for g in generators])
        return inverse_cdf(w, u)


def inverse_cdf(weights: Tensor, u: Tensor) -> Tensor:
    """Token ids [B] drawn from non-negative ``weights`` [B, V] by uniform numbers ``u`` [B] in
    [0, 1): the first token whose cumulative weight exceeds ``u`` times the row total.

    A zero-weight token never exceeds its predecessor's cumulative weight, so it is never drawn;
    when rounding puts ``u * total`` at the total itself, the last token with weight is drawn.
    ``torch.multinomial`` would draw a random number per token, thousands per row and step.
    """
    cdf = weights.cumsum(dim=-1)
    target = u.to(cdf.dtype)[:, None] * cdf[:, -1:]
    ids = torch.searchsorted(cdf, target, right=True)[:, 0]
    past_end = ids == weights.shape[-1]
    if bool(past_end.any()):
        positions = torch.arange(weights.shape[-1], device=weights.device)
        last = torch.where(weights[past_end] > 0, positions, 0).amax(dim=-1)
        ids = ids.masked_scatter(past_end, last)
    return ids
