"""The generation engine: batched, reproducible decoding for every musicgen model.

JazzGPT melodies: the encoder runs once, the decoder advances one token per step with its
key/value cache, and finished samples leave the batch. Sequence models (MAR-Y, LSTM) re-read
their last ``context`` tokens each step. Either way each sample draws from its own
``torch.Generator`` seeded with ``seed + i``, so sample i of a batch is exactly the single
sample generated with seed ``seed + i``: batching never changes what a seed produces.

Lick tokens (``data.tokenizer.bpe_vocab``, ``musicgen.data.licks``) are runs of notes: a lick
lasts the sum of its notes, the chord-aware and repeat biases judge it by its first sounded
pitch (the note it strikes first, over the chord at its onset), and the pitch it leaves sounding
last is its last sounded pitch. Melodies come out as their plain notes.

A sampler with ``beam_width > 1`` switches to beam search (length-normalised log-probability,
scored on the sampler's ``weights``, so temperature and top-k/top-p still shape the search).

What the engine needs from a model and from a sampler is stated below as ``Protocol``s:
``MelodyModel`` (JazzGPT), ``SequenceModel`` (MAR-Y, the LSTM) and ``TokenSampler``
(``musicgen.sampling.sampler.Sampler``). Turning what it writes into records is
``musicgen.sampling.records``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import copy
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from musicgen.data.licks import LickTokenizer
from musicgen.data.vocab import Vocabulary
from musicgen.music.records import REST
from musicgen.music.tokens import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIALS,
    UNK_ID,
    expand_melody,
    melody_events,
    melody_token,
    parse_melody_token,
)

MELODY_BANNED = [PAD_ID, BOS_ID, UNK_ID]
SEQUENCE_BANNED = list(range(len(SPECIALS)))


class GenerationModel(Protocol):
    """What every model the engine drives offers: hyperparameters holding its vocabularies and
    ``data_info`` (plus ``max_len`` for melodies, ``context`` for sequences), and torch's
    module state (parameters for the device, train/eval mode)."""

    hparams: Mapping[str, Any]
    training: bool

    def parameters(self) -> Iterator[Tensor]: ...

    def eval(self) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...


class MelodyModel(GenerationModel, Protocol):
    """A chord-conditioned melody model (JazzGPT): chord ids are encoded once, melody ids are
    decoded a step at a time against that memory, with a cache that has ``select(rows)``."""

    def encode(self, chords: Tensor) -> tuple[Tensor, Tensor]: ...

    def decode(
        self, tokens: Tensor, memory: Tensor, memory_pad_mask: Tensor, cache: Any = None,
        memory_rows: Tensor | None = None,
    ) -> tuple[Tensor, Any]: ...


class SequenceModel(GenerationModel, Protocol):
    """A next-token model (MAR-Y, the LSTM): windows of ids [B, T] -> next-token logits [B, V]."""

    def __call__(self, windows: Tensor) -> Tensor: ...


class TokenSampler(Protocol):
    """What the engine needs from a sampler: draws, normalised weights (beam search scores),
    the chord-aware and repeat logit biases (None when off) and the beam width (1: sampling)."""

    beam_width: int

    def sample_rows(
        self, logits: Tensor, generators: Sequence[torch.Generator], bias: Tensor | None = None
    ) -> Tensor: ...

    def weights(self, logits: Tensor, bias: Tensor | None = None) -> Tensor: ...

    def chord_bias(self, melody_vocab: Sequence[str], chords: Sequence[str]) -> Tensor | None: ...

    def repeat_bias(self, token_pitches: Tensor, last_pitches: Tensor) -> Tensor | None: ...


@dataclass(frozen=True)
class MelodyState:
    """What a ``token_filter`` sees at each melody step; row j describes row j of the logits.

    ``onset_ticks[j]`` is the tick (from beat 0) where the token being chosen would start, so
    its chord is ``chords[j][onset_ticks[j] // ticks_per_beat]`` (also given as
    ``current_chords[j]``). ``samples[j]`` is the output index of that row (rows leave the
    batch as they finish); in beam search it is the progression's index, shared by its beams.
    ``last_pitches[j]`` is the pitch of the row's last note (0 before the first).
    """

    step: int
    samples: list[int]
    onset_ticks: Tensor  # Long[B]
    span_ticks: Tensor  # Long[B], len(chords) * ticks_per_beat
    chords: list[list[str]]
    current_chords: list[str]
    ticks_per_beat: int
    melody_vocab: list[str]
    last_pitches: Tensor  # Long[B]


TokenFilter = Callable[[Tensor, MelodyState], Tensor]


def hold_eos_until_filled(logits: Tensor, state: MelodyState) -> Tensor:
    """A token filter: no ``<eos>`` while the chords are not yet filled.

    A model trained on N-bar windows learns to stop after N bars; over a longer progression
    this keeps it playing to the last chord instead of resting through the rest.
    """
    return logits.masked_fill(
        (state.onset_ticks < state.span_ticks)[:, None]
        & (torch.arange(logits.shape[1], device=logits.device) == EOS_ID)[None, :],
        float("-inf"),
    )


def sample_generators(seed: int, count: int, device: torch.device) -> list[torch.Generator]:
    """One generator per sample, seeded ``seed + i``: sample i never depends on the batch."""
    return [torch.Generator(device=device).manual_seed(seed + i) for i in range(count)]


def token_durations(melody_vocab: Sequence[str]) -> list[int]:
    """Ticks of each melody token, a lick's the sum of its notes (0 for specials); names a
    token that is not pitch:ticks."""
    return [0 if t in SPECIALS else sum(d for _, d in melody_events(t)) for t in melody_vocab]


def token_pitches(melody_vocab: Sequence[str], last: bool = False) -> list[int]:
    """The first (or ``last``) sounded pitch of each melody token; 0 for rests, rest-only licks
    and specials."""
    pitches = []
    for token in melody_vocab:
        sounded = [] if token in SPECIALS else [p for p, _ in melody_events(token) if p != REST]
        pitches.append((sounded[-1] if last else sounded[0]) if sounded else REST)
    return pitches


def melody_strings(ids: Sequence[int], vocab: Sequence[str], span: int) -> list[str]:
    """Token ids -> plain note strings (licks as their notes) that fill exactly ``span`` ticks.

    The note that crosses the end is cut there; a melody that stops early (``<eos>`` or the
    token limit) is completed with a rest, so every melody lines up with its chords.
    """
    out: list[str] = []
    onset = 0
    ids = list(ids)
    stop = ids.index(EOS_ID) if EOS_ID in ids else len(ids)
    for event in expand_melody([vocab[i] for i in ids[:stop]]):
        if onset >= span:
            break
        pitch, ticks = parse_melody_token(event)
        ticks = min(ticks, span - onset)
        out.append(melody_token(pitch, ticks))
        onset += ticks
    if onset < span:
        if out and parse_melody_token(out[-1])[0] == REST:
            onset -= parse_melody_token(out.pop())[1]
        out.append(melody_token(REST, span - onset))
    return out


def _as_progressions(chords: Sequence[Sequence[str]] | Sequence[str]) -> list[list[str]]:
    progressions = (
        [list(chords)] if chords and isinstance(chords[0], str) else [list(c) for c in chords]
    )
    if not progressions or any(not p for p in progressions):
        raise ValueError("generate_melodies: every chord progression needs at least one chord")
    return progressions


def _pad_rows(rows: Sequence[Sequence[int]], device: torch.device, left: bool = False) -> Tensor:
    """Rows of ids in one tensor, padded with the pad id on the right (or the left)."""
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            columns = slice(width - len(r), width) if left else slice(0, len(r))
            out[i, columns] = torch.as_tensor(r, dtype=torch.long)
    return out.to(device)


def _check_rows(logits: Tensor, step: int) -> None:
    dead = logits.amax(dim=-1) == float("-inf")  # one reduction: this runs at every step
    if bool(dead.any()):
        row = int(dead.nonzero()[0, 0])
        raise ValueError(
            f"step {step}: every token of row {row} is masked (check the token_filter)"
        )


def _log_weights(sampler: TokenSampler | None, logits: Tensor, bias: Tensor | None) -> Tensor:
    """Beam search scores: the sampler's weights, or without one the model's own softmax."""
    if sampler is not None:
        return sampler.weights(logits, bias).log()
    return torch.log_softmax(logits if bias is None else logits + bias, dim=-1)


class _MelodySteps:
    """The per-step logits pipeline for melodies: mask specials, filter, chord bias."""

    def __init__(self, model, chords, sampler, token_filter, max_tokens: int):
        if max_tokens >= model.hparams.max_len:
            raise ValueError(
                f"max_tokens={max_tokens} must be below the model's max_len={model.hparams.max_len}"
            )
        self.sampler, self.token_filter = sampler, token_filter
        self.progressions = _as_progressions(chords)
        self.vocab: list[str] = list(model.hparams.melody_vocab)
        info = model.hparams.get("data_info") or {}
        if "ticks_per_beat" not in info:
            raise ValueError("the model's data_info has no ticks_per_beat: cannot measure melodies")
        self.tpb = int(info["ticks_per_beat"])
        self.beats_per_bar = int(info.get("beats_per_bar", 4))
        self.durations = token_durations(self.vocab)
        self.pitches = token_pitches(self.vocab)  # what the biases judge a token by
        self.last_sounded = token_pitches(self.vocab, last=True)  # what it leaves sounding
        self.pitch_table = torch.tensor(self.pitches)
        self.last_table = torch.tensor(self.last_sounded)
        ids = Vocabulary(self.vocab).encode
        licks = LickTokenizer.from_info(info["licks"]) if info.get("licks") else None
        self.encode = (lambda tokens: ids(licks.encode(tokens))) if licks else ids

    def over(self, progressions: list[list[str]]) -> _MelodySteps:
        """The same pipeline over other chords (one window of each progression)."""
        window = copy(self)
        window.progressions = progressions
        return window

    def logits(
        self, raw: Tensor, step: int, samples: list[int], rows: list[int], onsets: list[int],
        last_pitches: list[int],
    ):
        """(filtered logits [B, V] in float32, the sampler's bias [B, V] or None).

        Row j is output ``samples[j]``, over progression ``rows[j]``, at tick ``onsets[j]``,
        after a note of pitch ``last_pitches[j]``.
        """
        logits = raw.float()
        logits[:, MELODY_BANNED] = float("-inf")
        chords = [self.progressions[r] for r in rows]
        current = [c[min(o // self.tpb, len(c) - 1)] for c, o in zip(chords, onsets, strict=True)]
        last = torch.tensor(last_pitches, device=logits.device)
        if self.token_filter is not None:
            state = MelodyState(
                step=step,
                samples=samples,
                onset_ticks=torch.tensor(onsets, device=logits.device),
                span_ticks=torch.tensor([len(c) * self.tpb for c in chords], device=logits.device),
                chords=chords,
                current_chords=current,
                ticks_per_beat=self.tpb,
                melody_vocab=self.vocab,
                last_pitches=last,
            )
            logits = self.token_filter(logits, state)
        _check_rows(logits, step)
        biases = []
        if self.sampler is not None:
            biases.append(self.sampler.chord_bias(self.vocab, current))
            biases.append(self.sampler.repeat_bias(self.pitch_table, last))
        biases = [b.to(logits.device) for b in biases if b is not None]
        return logits, sum(biases[1:], biases[0]) if biases else None


Writer = Callable[[_MelodySteps, int, list[int], list[int], list[list[int]], list[int]], list[list[int]]]
"""``write(window, index, outputs, rows, prefixes, starts)``: the token ids written after each
output's prefix (see ``_play_windows``)."""


def _play_windows(
    steps: _MelodySteps, rows: list[int], window_bars: int | None, write: Writer,
    primer: Sequence[str] = (),
) -> list[list[str]]:
    """Output i (over progression ``rows[i]``) written window by window.

    Window k covers the beats ``[k * hop, k * hop + window)`` (hop: half a window); every window
    after the first starts from the melody already written over its first half, as a training
    window starts in the middle of a solo: a note sounding into it becomes a rest. Without
    ``window_bars`` the one window is the whole progression. Every melody starts with the
    ``primer``'s tokens, which the windows read as if the model had written them.
    """
    tpb, longest = steps.tpb, max(len(p) for p in steps.progressions)
    window = window_bars * steps.beats_per_bar if window_bars else longest
    hop = max(1, window_bars // 2) * steps.beats_per_bar if window_bars else window
    primer_ids = _primer_ids(steps, primer)
    melodies: list[list[int]] = [list(primer_ids) for _ in rows]
    ends = [sum(steps.durations[t] for t in primer_ids)] * len(rows)  # tick where each melody's last token ends
    finished = [False] * len(rows)
    for k in range(-(-longest // hop)):
        start = k * hop
        outputs = [
            i for i, p in enumerate(rows)
            if not finished[i] and ends[i] < min(start + window, len(steps.progressions[p])) * tpb
        ]
        if not outputs:
            continue
        keys = sorted({rows[i] for i in outputs})
        chords = steps.over([steps.progressions[p][start : start + window] for p in keys])
        prefixes = [steps.encode(_tail(melodies[i], steps, start * tpb)) for i in outputs]
        written = write(
            chords, k, outputs, [keys.index(rows[i]) for i in outputs], prefixes,
            [ends[i] - start * tpb for i in outputs],
        )
        for i, ids in zip(outputs, written, strict=True):
            for token in ids:
                if token == EOS_ID:
                    finished[i] = True
                    break
                melodies[i].append(token)
                ends[i] += steps.durations[token]
            finished[i] |= not ids
    return [
        melody_strings(ids, steps.vocab, len(steps.progressions[p]) * tpb)
        for ids, p in zip(melodies, rows, strict=True)
    ]


def _primer_ids(steps: _MelodySteps, primer: Sequence[str]) -> list[int]:
    """A melody primer's ids, refused when the model has no such token or it fills the chords."""
    unknown = [t for t in primer if t not in steps.vocab or t in SPECIALS]
    if unknown:
        raise ValueError(f"melody primer: tokens the model has no entry for: {' '.join(unknown[:8])}")
    ids = steps.encode(primer)
    ticks = sum(steps.durations[t] for t in ids)
    shortest = min(len(p) for p in steps.progressions) * steps.tpb
    if ids and ticks >= shortest:
        raise ValueError(
            f"melody primer: it lasts {ticks / steps.tpb:g} beats, but the chords end after "
            f"{shortest // steps.tpb}: nothing would be left to write"
        )
    return ids


def _last_pitch(steps: _MelodySteps, ids: list[int]) -> int:
    """The pitch of the last note among ``ids`` (0: none)."""
    return next((steps.last_sounded[t] for t in reversed(ids) if steps.last_sounded[t]), REST)


def _tail(ids: list[int], steps: _MelodySteps, tick: int) -> list[str]:
    """The melody from ``tick`` on, as plain notes, as a window starting there reads it: the
    note sounding at ``tick`` becomes a rest, joined with the rests after it."""
    onset, out = 0, []
    for event in expand_melody([steps.vocab[t] for t in ids]):
        pitch, ticks = parse_melody_token(event)
        end = onset + ticks
        if end > tick:
            if onset < tick:
                pitch, ticks = REST, end - tick
            if out and pitch == REST and parse_melody_token(out[-1])[0] == REST and len(out) == 1:
                ticks += parse_melody_token(out.pop())[1]
            out.append(melody_token(pitch, ticks))
        onset = end
    return out


@torch.inference_mode()
def generate_melodies(
    model: MelodyModel,
    chords: Sequence[Sequence[str]] | Sequence[str],
    sampler: TokenSampler,
    num_samples: int = 1,
    max_tokens: int = 1024,
    seed: int = 0,
    use_cache: bool = True,
    token_filter: TokenFilter | None = None,
    window_bars: int | None = None,
    primer: Sequence[str] = (),
) -> list[list[str]]:
    """Melodies (token strings, no specials) over one progression or several.

    ``chords`` is one chord symbol per beat, or a list of such progressions; the result holds
    ``num_samples`` melodies per progression, progression by progression. Each melody fills its
    progression's span exactly (see ``melody_strings``). Unknown chord symbols are read as
    ``<unk>``. ``token_filter(logits [B, V], MelodyState) -> logits`` may edit each step's
    logits after the specials are masked. ``use_cache=False`` re-decodes the whole prefix at
    each step (for benchmarks and tests; same result, slower).

    ``window_bars`` (the bars the model was trained on, ``data_info["window_bars"]``) plays a
    longer progression as overlapping windows, the way the model saw music in training: each
    window reads the chords of its ``window_bars`` bars, starts from the melody already
    written over its first half and writes the second half. ``max_tokens`` then bounds the
    tokens of each window. Without it a model trained on 8-bar windows loses its place after
    about 8 bars and breaks the melody into ever shorter notes.

    ``primer`` (melody tokens, e.g. a user's phrase) starts every melody: the model reads it as
    its own first notes and goes on from where it ends.
    """
    width = sampler.beam_width
    if width > 1:
        return beam_search_melodies(
            model, chords, width, sampler, num_samples, max_tokens, token_filter, window_bars, primer
        )
    steps, rows, generators = _draws(model, chords, sampler, num_samples, max_tokens, seed, token_filter)

    on_cpu = next(model.parameters()).device.type == "cpu"

    def write(window, index, outputs, window_rows, prefixes, starts) -> list[list[int]]:
        with _one_thread_if(use_cache and on_cpu and len(window_rows) <= ONE_THREAD_ROWS):
            return _sample_melodies(
                model, window, generators, max_tokens, use_cache, outputs, window_rows, prefixes, starts
            )

    with _eval_mode(model):
        return _play_windows(steps, rows, window_bars, write, primer)


@torch.inference_mode()
def sample_melody_ids(
    model: MelodyModel, chords: Sequence[Sequence[str]] | Sequence[str], sampler: TokenSampler,
    num_samples: int = 1, max_tokens: int = 1024, seed: int = 0, token_filter: TokenFilter | None = None,
) -> list[list[int]]:
    """The token ids each sample drew over one window of chords, exactly as drawn: ``<eos>``
    kept when it was drawn, the last note not yet cut to the chords (``melody_strings`` does
    that). What a policy gradient scores; ``generate_melodies`` is these same draws made into
    melodies. Samples are ordered as in ``generate_melodies``: progression by progression.
    """
    if sampler.beam_width > 1:
        raise ValueError("sample_melody_ids draws samples; beam search has none to score")
    steps, rows, generators = _draws(model, chords, sampler, num_samples, max_tokens, seed, token_filter)
    outputs = list(range(len(rows)))
    with _eval_mode(model):
        return _sample_melodies(
            model, steps, generators, max_tokens, True, outputs, rows, [[] for _ in rows], [0] * len(rows)
        )


def _draws(model, chords, sampler, num_samples: int, max_tokens: int, seed: int, token_filter):
    """(the steps pipeline, the progression of each output, each output's generator) for
    ``num_samples`` samples over each progression, progression by progression."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    steps = _MelodySteps(model, chords, sampler, token_filter, max_tokens)
    rows = [p for p in range(len(steps.progressions)) for _ in range(num_samples)]
    return steps, rows, sample_generators(seed, len(rows), next(model.parameters()).device)


@torch.inference_mode()
def beam_search_melodies(
    model: MelodyModel,
    chords: Sequence[Sequence[str]] | Sequence[str],
    width: int,
    sampler: TokenSampler | None = None,
    num_samples: int = 1,
    max_tokens: int = 1024,
    token_filter: TokenFilter | None = None,
    window_bars: int | None = None,
    primer: Sequence[str] = (),
) -> list[list[str]]:
    """The ``num_samples`` best of ``width`` beams per progression, best first.

    Beams are ranked by log-probability divided by their length (``<eos>`` included), scored on
    ``sampler.weights`` when a sampler is given and on the model's softmax otherwise. Width 1
    is greedy decoding. With ``window_bars`` (see ``generate_melodies``) the first window keeps
    its ``num_samples`` best beams and each later window continues every one of them with the
    best beam of a new search. Every beam starts with the ``primer``'s tokens.
    """
    if not 1 <= num_samples <= width:
        raise ValueError(f"beam search returns 1 to beam_width={width} melodies, not {num_samples}")
    steps = _MelodySteps(model, chords, sampler, token_filter, max_tokens)
    rows = [p for p in range(len(steps.progressions)) for _ in range(num_samples)]

    def write(window, index, outputs, window_rows, prefixes, starts) -> list[list[int]]:
        if index == 0:  # the num_samples best beams of each progression's first window
            groups = list(range(len(window.progressions)))
            count = len(groups)
            return _beam_melodies(  # every output starts from the same primer
                model, window, width, num_samples, max_tokens, groups, groups,
                [prefixes[0]] * count, [starts[0]] * count,
            )  # one output per beam, progression by progression: the order of ``rows``
        labels = [rows[i] for i in outputs]  # each later window: the best beam after each melody
        return _beam_melodies(model, window, width, 1, max_tokens, window_rows, labels, prefixes, starts)

    with _eval_mode(model):
        return _play_windows(steps, rows, window_bars, write, primer)


@contextmanager
def _eval_mode(model: GenerationModel) -> Iterator[None]:
    """Dropout off while generating, and the caller's train/eval mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


ONE_THREAD_ROWS = 8
"""Cached decoding of at most this many rows runs on one CPU thread: a decoded token is about a
hundred small operations, and waking a second thread for each costs more than it gives. Measured
2026-12-01 on 2 cores (JazzGPT at paper size, 128 tokens): one thread 1.15x faster for 1 row,
1.41x for 2, 1.19x for 8, 1.05x for 16; 1.13x slower for 64. MAR-Y and the LSTM re-read their
whole window for every token, and two threads stayed about 2x faster for them even at 1 row."""


@contextmanager
def _one_thread_if(small: bool) -> Iterator[None]:
    """torch on one thread inside the block when ``small``; the caller's thread count after.
    The thread count is the process's: generations running at once in several Python threads
    (the demo server takes one request at a time) would share it."""
    before = torch.get_num_threads()
    if small and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _encode_progressions(model, progressions: list[list[str]]) -> tuple[Tensor, Tensor]:
    """Each progression encoded once; its samples (or beams) all read that one memory."""
    device = next(model.parameters()).device
    ids = Vocabulary(model.hparams.chord_vocab).encode
    return model.encode(_pad_rows([ids(p) for p in progressions], device))


def _decode_limit(model, steps: _MelodySteps, prefixes: list[list[int]], max_tokens: int) -> int:
    """Decoder steps for one window: its longest prefix plus ``max_tokens``, within max_len."""
    return min(max_tokens + max(map(len, prefixes)), int(model.hparams.max_len) - 1)


def _sample_melodies(
    model, steps: _MelodySteps, generators: list[torch.Generator], max_tokens: int,
    use_cache: bool, outputs: list[int], rows: list[int], prefixes: list[list[int]],
    starts: list[int],
) -> list[list[int]]:
    """The ids each row writes: row j plays output ``outputs[j]`` over progression ``rows[j]``
    with ``generators[outputs[j]]``, reading its ``prefixes[j]`` first (not written again; its
    first written token starts at tick ``starts[j]``). A row's prefix draws no random numbers."""
    memory, memory_mask = _encode_progressions(model, steps.progressions)
    device = memory.device
    memory_rows = torch.tensor(rows, device=device)
    spans = [len(steps.progressions[p]) * steps.tpb for p in rows]
    written: list[list[int]] = [[] for _ in rows]
    onsets = list(starts)
    last_pitches = [_last_pitch(steps, p) for p in prefixes]
    active = list(range(len(rows)))  # the row of each batch row still generating
    prefix = torch.full((len(rows), 1), BOS_ID, dtype=torch.long, device=device)
    cache = None
    for step in range(_decode_limit(model, steps, prefixes, max_tokens)):
        if use_cache:
            raw, cache = model.decode(prefix[:, -1:], memory, memory_mask, cache, memory_rows)
        else:
            raw, _ = model.decode(prefix, memory, memory_mask, memory_rows=memory_rows)
        picks = [prefixes[i][step] if step < len(prefixes[i]) else -1 for i in active]
        free = [j for j, token in enumerate(picks) if token < 0]
        if free:
            chosen = [active[j] for j in free]
            logits, bias = steps.logits(
                raw[:, -1] if len(free) == len(active) else raw[free, -1], step,
                [outputs[i] for i in chosen], [rows[i] for i in chosen], [onsets[i] for i in chosen],
                [last_pitches[i] for i in chosen],
            )
            drawn = steps.sampler.sample_rows(logits, [generators[outputs[i]] for i in chosen], bias)
            for j, token in zip(free, drawn.tolist(), strict=True):
                picks[j] = token
        keep = []
        for j, (i, token) in enumerate(zip(active, picks, strict=True)):
            if step < len(prefixes[i]):
                keep.append(j)
                continue
            written[i].append(token)
            onsets[i] += steps.durations[token]
            last_pitches[i] = steps.last_sounded[token] or last_pitches[i]
            if token != EOS_ID and onsets[i] < spans[i] and len(written[i]) < max_tokens:
                keep.append(j)
        if not keep:
            break
        prefix = torch.cat([prefix, torch.tensor(picks, device=device)[:, None]], dim=1)
        if len(keep) < len(active):
            index = torch.tensor(keep, device=device)
            prefix, memory_rows = prefix[index], memory_rows[index]
            cache = cache.select(index) if cache is not None else None
            active = [active[j] for j in keep]
    return written


def _beam_melodies(
    model, steps: _MelodySteps, width: int, num_samples: int, max_tokens: int,
    groups: list[int], labels: list[int], prefixes: list[list[int]], starts: list[int],
) -> list[list[int]]:
    """The ids of the ``num_samples`` best beams of each group, best first: group r searches
    over progression ``groups[r]`` (its token filter sees ``labels[r]`` as the sample), after
    reading ``prefixes[r]`` (its first written token starts at tick ``starts[r]``)."""
    R, W = len(groups), width
    memory, memory_mask = _encode_progressions(model, steps.progressions)
    device = memory.device
    memory_rows = torch.tensor(groups, device=device).repeat_interleave(W)
    durations = torch.tensor(steps.durations, device=device)
    spans = torch.tensor([len(steps.progressions[g]) * steps.tpb for g in groups], device=device)[:, None]
    scores = torch.full((R, W), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live beam at first, or all W beams would pick the same tokens
    lengths = torch.zeros(R, W, dtype=torch.long, device=device)
    onsets = torch.tensor(starts, dtype=torch.long, device=device)[:, None].repeat(1, W)
    pitches = steps.last_table.to(device)
    sounded = torch.tensor([_last_pitch(steps, p) for p in prefixes], device=device)[:, None].repeat(1, W)
    done = torch.zeros(R, W, dtype=torch.bool, device=device)
    tokens = torch.empty(R * W, 0, dtype=torch.long, device=device)
    last = torch.full((R * W, 1), BOS_ID, dtype=torch.long, device=device)
    beam_groups = [g for g in groups for _ in range(W)]
    beam_labels = [label for label in labels for _ in range(W)]
    cache = None
    for step in range(_decode_limit(model, steps, prefixes, max_tokens)):
        raw, cache = model.decode(last, memory, memory_mask, cache, memory_rows)
        logits, bias = steps.logits(
            raw[:, -1], step, beam_labels, beam_groups, onsets.view(-1).tolist(), sounded.view(-1).tolist()
        )
        logp = _log_weights(steps.sampler, logits, bias).view(R, W, -1)
        forcing = torch.tensor([step < len(p) for p in prefixes], device=device)
        if bool(forcing.any()):  # a prefix token: the one candidate, at no cost
            forced = torch.tensor([p[step] if step < len(p) else 0 for p in prefixes], device=device)
            one_hot = torch.full_like(logp[:, 0], float("-inf")).scatter_(1, forced[:, None], 0.0)
            logp = torch.where(forcing[:, None, None], one_hot[:, None, :], logp)
        candidates = scores[..., None] + logp
        # A finished beam offers one candidate, itself, at its final score (token ignored).
        candidates = torch.where(done[..., None], float("-inf"), candidates)
        candidates[..., EOS_ID] = torch.where(done, scores, candidates[..., EOS_ID])
        new_lengths = lengths + (~done & ~forcing[:, None]).long()
        normalised = (candidates / new_lengths.clamp(min=1)[..., None]).view(R, -1)
        V = logp.shape[-1]
        best = normalised.topk(W, dim=-1).indices
        beam, token = best // V, best % V
        scores = candidates.view(R, -1).gather(1, best)
        lengths, onsets = new_lengths.gather(1, beam), onsets.gather(1, beam)
        was_done = done.gather(1, beam)
        onsets = onsets + torch.where(was_done | forcing[:, None], 0, durations[token])
        sounded = sounded.gather(1, beam)
        sounded = torch.where(was_done | (pitches[token] == REST), sounded, pitches[token])
        done = was_done | (token == EOS_ID) | (onsets >= spans) | (lengths >= max_tokens)
        rows = (torch.arange(R, device=device)[:, None] * W + beam).view(-1)
        token = torch.where(was_done, PAD_ID, token)
        tokens = torch.cat([tokens[rows], token.view(-1, 1)], dim=1)
        cache = cache.select(rows)
        last = token.view(-1, 1)
        if bool(done.all()):
            break
    order = (scores / lengths.clamp(min=1)).argsort(dim=-1, descending=True)
    return [
        [t for t in tokens[r * W + b, len(prefixes[r]) :].tolist() if t != PAD_ID]
        for r in range(R)
        for b in order[r, :num_samples].tolist()
    ]


@torch.inference_mode()
def generate_sequences(
    model: SequenceModel,
    primers: Sequence[Sequence[int]],
    sampler: TokenSampler,
    num_tokens: int,
    seed: int = 0,
    keys: Sequence[int] | None = None,
) -> list[list[int]]:
    """``num_tokens`` new token ids after each primer (the primers are not repeated).

    Every primer is read after ``<bos>``, as sequences start in training, so an empty primer is
    a piece's opening. Specials are never emitted. A sampler with ``beam_width > 1`` returns the
    best beam per primer. ``keys`` (a key id per primer) is the key input of a key-conditioned
    model, held for the whole piece.
    """
    width = sampler.beam_width
    if width > 1:
        return beam_search_sequences(model, primers, width, num_tokens, sampler, keys)
    _check_primers(model, primers, keys)
    with _eval_mode(model):
        return _sample_sequences(model, primers, sampler, num_tokens, seed, keys)


@torch.inference_mode()
def beam_search_sequences(
    model: SequenceModel, primers: Sequence[Sequence[int]], width: int, num_tokens: int,
    sampler: TokenSampler | None = None, keys: Sequence[int] | None = None,
) -> list[list[int]]:
    """The best of ``width`` beams after each primer (width 1 is greedy decoding)."""
    if width < 1:
        raise ValueError(f"beam width must be >= 1, got {width}")
    _check_primers(model, primers, keys)
    with _eval_mode(model):
        return _beam_sequences(model, primers, sampler, num_tokens, width, keys)


def _check_primers(model, primers: Sequence[Sequence[int]], keys: Sequence[int] | None) -> None:
    if not primers:
        raise ValueError("generate_sequences: give at least one primer (an empty list is fine)")
    if keys is not None and len(keys) != len(primers):
        raise ValueError(f"generate_sequences: {len(keys)} keys for {len(primers)} primers")
    size = len(model.hparams.vocab)
    for i, primer in enumerate(primers):
        bad = [t for t in primer if not 0 < int(t) < size]
        if bad:
            raise ValueError(
                f"primer {i}: token id {bad[0]} is not in the vocabulary (1..{size - 1})"
            )


def _key_ids(keys: Sequence[int] | None, device: torch.device) -> Tensor | None:
    return None if keys is None else torch.as_tensor(list(keys), dtype=torch.long, device=device)


def _sequence_logits(model, windows: Tensor, keys: Tensor | None) -> Tensor:
    context = windows[:, -model.hparams.context :]
    logits = (model(context) if keys is None else model(context, keys)).float()
    logits[:, SEQUENCE_BANNED] = float("-inf")
    return logits


def _sample_sequences(model, primers, sampler, num_tokens, seed, keys):
    device = next(model.parameters()).device
    windows = _pad_rows([[BOS_ID, *p] for p in primers], device, left=True)
    key_ids = _key_ids(keys, device)
    generators = sample_generators(seed, len(primers), device)
    for _ in range(num_tokens):
        picks = sampler.sample_rows(_sequence_logits(model, windows, key_ids), generators)
        windows = torch.cat([windows, picks[:, None]], dim=1)
    return windows[:, windows.shape[1] - num_tokens :].tolist()


def _beam_sequences(model, primers, sampler, num_tokens, width, keys):
    device = next(model.parameters()).device
    R, W = len(primers), width
    windows = _pad_rows([[BOS_ID, *p] for p in primers], device, left=True).repeat_interleave(
        W, dim=0
    )
    key_ids = _key_ids(keys, device)
    if key_ids is not None:  # a primer's beams share its key
        key_ids = key_ids.repeat_interleave(W)
    scores = torch.full((R, W), float("-inf"), device=device)
    scores[:, 0] = 0.0
    for _ in range(num_tokens):
        logp = _log_weights(sampler, _sequence_logits(model, windows, key_ids), None).view(R, W, -1)
        V = logp.shape[-1]
        # Every beam has the same length, so normalising by it would not change the ranking.
        best = (scores[..., None] + logp).view(R, -1).topk(W, dim=-1)
        scores = best.values
        rows = (torch.arange(R, device=device)[:, None] * W + best.indices // V).view(-1)
        windows = torch.cat([windows[rows], (best.indices % V).view(-1, 1)], dim=1)
    top = windows.view(R, W, -1)[torch.arange(R, device=device), scores.argmax(dim=-1)]
    return top[:, top.shape[1] - num_tokens :].tolist()
