"""The one path from a model to music: generation inputs in, records out.

Every caller that makes music with a model (``sample.py``, the demo, the evaluation of decoding
transforms, the music-metrics callback during training) goes through ``generate_records``. What
the model writes is decided once, by ``model_kind``, from the model's own ``data_info`` (saved
in every checkpoint): lead sheets (JazzGPT: a melody over each chord progression) or piano
scores (MAR-Y, the LSTM: a continuation of each primer, decoded with the checkpoint's tokenizer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from musicgen.data.tokenizers import tokenizer_from_info
from musicgen.data.vocab import Vocabulary
from musicgen.music.key import Key, score_key
from musicgen.music.records import RECORD_KINDS, LeadSheet, Record
from musicgen.sampling.engine import (
    GenerationModel,
    TokenFilter,
    TokenSampler,
    generate_melodies,
    generate_sequences,
)


def model_kind(model: GenerationModel) -> str:
    """What a model writes, from its own ``data_info["kind"]``: ``"lead_sheet"`` or ``"piano"``."""
    kind = (model.hparams.get("data_info") or {}).get("kind")
    if kind not in RECORD_KINDS:
        raise ValueError(
            f"{type(model).__name__}: its data_info names no record kind ({' or '.join(RECORD_KINDS)}), "
            "so what it writes cannot be decoded"
        )
    return kind


def generate_records(
    model: Any,
    sampler: TokenSampler,
    inputs: Sequence[Sequence[Any]],
    *,
    count: int = 1,
    max_tokens: int | None = None,
    num_tokens: int = 256,
    seed: int = 0,
    first: int = 0,
    token_filter: TokenFilter | None = None,
    windowed: bool = False,
    with_primer: bool = False,
    melody_primer: Sequence[str] = (),
    id_format: str = "sample{}",
    key: Key | None = None,
) -> list[Record]:
    """The records ``model`` writes with ``sampler``, one input after another.

    Lead sheets: ``inputs`` are chord progressions (one chord symbol per beat) and ``count``
    melodies are written over each, progression by progression; ``max_tokens`` bounds a melody
    (default: the model's ``max_len - 1``; ``windowed``: each window's), ``token_filter`` may edit
    each step's logits (``engine.hold_eos_until_filled``), and ``windowed`` plays chords longer
    than the model's training windows (``data_info["window_bars"]``) as overlapping windows of
    that length (``engine.generate_melodies``), and every melody starts with ``melody_primer``
    (melody tokens).
    Piano scores: ``inputs`` are primers (token ids, ``[]``
    for a piece's opening), one piece of ``num_tokens`` new tokens each, the primer kept at its
    start when ``with_primer``. A key-conditioned model (``key_conditioning``) writes in ``key``,
    or without one in each primer's estimated key (``primer_key``). Record i is named
    ``id_format.format(first + i)`` and drawn with seed ``seed + first + i``, so a run made in
    batches writes what one batch would.
    """
    hp = model.hparams
    info = hp.data_info
    conditioned = bool(hp.get("key_conditioning", False))
    if key is not None and not conditioned:
        raise ValueError(
            f"key={key.name}: this {type(model).__name__} was trained without "
            "model.key_conditioning=true, so it cannot be asked for a key"
        )
    if model_kind(model) == "lead_sheet":
        melodies = generate_melodies(
            model, inputs, sampler, count, hp.max_len - 1 if max_tokens is None else max_tokens,
            seed + first, token_filter=token_filter,
            window_bars=info.get("window_bars") if windowed else None, primer=melody_primer,
        )
        return [
            LeadSheet.from_tokens(
                id_format.format(first + i), tokens, tuple(inputs[i // count]),
                ticks_per_beat=info["ticks_per_beat"], beats_per_bar=info["beats_per_bar"],
            )
            for i, tokens in enumerate(melodies)
        ]
    vocab = Vocabulary(hp.vocab)
    tokenizer = tokenizer_from_info(info["tokenizer"])
    keys = None
    if conditioned:
        keys = [(key if key is not None else primer_key(model, primer)).midi_number for primer in inputs]
    sequences = generate_sequences(model, inputs, sampler, num_tokens, seed + first, keys)
    return [
        tokenizer.decode(vocab.decode([*primer, *seq] if with_primer else seq))
        .with_(id=id_format.format(first + i))
        for i, (primer, seq) in enumerate(zip(inputs, sequences, strict=True))
    ]


def primer_key(model: Any, primer: Sequence[int]) -> Key:
    """The key of a piano primer (token ids), decoded with the model's tokenizer and estimated
    as in training (``score_key``); an empty primer gives C major (``estimate_key``)."""
    tokenizer = tokenizer_from_info(model.hparams.data_info["tokenizer"])
    score = tokenizer.decode(Vocabulary(model.hparams.vocab).decode(list(primer)))
    return score_key(score.pitches, score.durations)


def spread(available: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(available)`` (repeating when it is short):
    which validation windows or primers a handful of samples start from."""
    if available < 1:
        raise ValueError("nothing to choose from: the validation split is empty")
    if count > available:
        return [i % available for i in range(count)]
    return [i * available // count for i in range(count)]
