"""Peers: the tools a user would pick instead, measured in the same run on the same data.

- The classic Keras LSTM composer (Classical-Piano-Composer): its model as that project builds
  it (3 x LSTM 512, recurrent dropout 0.3 on the first two, batch norm, dropout 0.3, dense 256,
  softmax, RMSprop, batch 128, 100-token windows fed as scalars) under TensorFlow/Keras, against
  our LSTM baseline set up the same way (``input=scalar``, same sizes, the same recurrent dropout,
  RMSprop, no gradient clipping), both training on the same ``skuli`` windows of the same folder,
  batch by batch. Once as built and once without recurrent dropout. The matrix products are the
  same; Keras also runs two batch norms on [batch, 512] and [batch, 256] (a rounding error of
  the step's work).
- That project's preprocessing (music21 ``converter.parse``, ``partitionByInstrument``, notes
  by name, chords as ``normalOrder`` strings) against ours on the whole folder. music21 keeps a
  pickle of every file it parsed in its temp folder and reads that instead next time; the
  benchmark parses the files themselves (``forceSource``), as a first run does.
- MidiTok's REMI tokenizer (default config, a file path in, token ids out) against our ``paper``
  and ``skuli`` tokenizers on the whole folder: files/s and tokens per file.

The peers come with ``pip install -e .[peers]``; a peer that is not installed is skipped with
its reason. Every ratio is the median of interleaved rounds (ours, theirs, ours, theirs ...).
Keras runs in a process of its own, as it would for a user: TensorFlow's thread pools would
otherwise compete with PyTorch's inside one process.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicgen.bench.data import midi_files, our_tokens
from musicgen.bench.processes import ProcessRival, serve_steps
from musicgen.bench.profile import TOP, profile_ops
from musicgen.bench.report import Row, Skipped
from musicgen.bench.timing import race, race_over
from musicgen.bench.train import train_step
from musicgen.bench.workloads import MODELS, Sizes, model_context, piano_data
from musicgen.data.tokenizers import PaperTokenizer, SkuliTokenizer
from musicgen.models import LSTMBaseline

SECTION = "peers"
SKULI_AS_WRITTEN = {"kind": "skuli"}
LSTM_GOAL = ">= 1.5"
INSTALL = "pip install -e .[peers]"
WARMUP_STEPS = 2  # Keras traces and compiles its step in the first; ours grows its heap to a step's peak


def missing(*modules: str) -> str | None:
    """Why a peer cannot run here (a module not installed), or None."""
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    return f"{', '.join(absent)} not installed ({INSTALL})" if absent else None


def import_keras() -> Any:
    """Keras, with TensorFlow's start-up chatter (its info and warning lines) turned off."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def composer_config(model: LSTMBaseline) -> dict:
    """The sizes the Keras network takes from ours, so both do the same products."""
    hp = model.hparams
    return {k: hp[k] for k in ("hidden", "layers", "context", "dense", "dropout", "recurrent_dropout")} | {
        "vocab_size": len(hp.vocab)
    }


def keras_composer(config: dict) -> Any:
    """The Keras composer's network at ``config``'s sizes (3 x LSTM 512 ... at paper size)."""
    keras = import_keras()
    layers = keras.layers
    count = config["layers"]
    recurrent = [
        layers.LSTM(
            config["hidden"],
            recurrent_dropout=config["recurrent_dropout"][i],
            return_sequences=i < count - 1,
        )
        for i in range(count)
    ]
    network = keras.Sequential(
        [
            keras.Input((config["context"], 1)),
            *recurrent,
            layers.BatchNormalization(),
            layers.Dropout(config["dropout"]),
            layers.Dense(config["dense"]),
            layers.Activation("relu"),
            layers.BatchNormalization(),
            layers.Dropout(config["dropout"]),
            layers.Dense(config["vocab_size"]),
            layers.Activation("softmax"),
        ]
    )
    network.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    return network


def keras_batch(batch: tuple[torch.Tensor, torch.Tensor], vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Our window batch as the composer feeds it: ids / vocabulary size, one-hot targets."""
    x, y = batch
    inputs = (x.numpy() / vocab_size).astype(np.float32)[..., None]
    return inputs, np.eye(vocab_size, dtype=np.float32)[y.numpy()]


def _keras_worker(conn: Connection, config: dict, batches: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """The Keras side, in a process of its own: trains on batch ``i`` for each ``i`` received."""
    keras = import_keras()
    keras.utils.set_random_seed(0)
    network = keras_composer(config)
    serve_steps(conn, lambda i: network.train_on_batch(*batches[i]), keras.__version__)


def our_composer(vocab: list[str], sizes: Sizes, recurrent_dropout: float) -> LSTMBaseline:
    """Our LSTM baseline set up as the composer: scalar input, its sizes, RMSprop, and
    ``recurrent_dropout`` on every layer but the last (whose state Keras's composer keeps)."""
    torch.manual_seed(0)
    overrides = sizes.model_overrides.get("lstm", {})
    layers = overrides.get("layers", inspect.signature(LSTMBaseline).parameters["layers"].default)
    per_layer = [recurrent_dropout] * (layers - 1) + [0.0]
    return MODELS["lstm"](vocab=vocab, **overrides, input="scalar", recurrent_dropout=per_layer, schedule="none")


def bench_composer_training(sizes: Sizes) -> list[Row]:
    """Training windows/s, ours against the Keras composer, with and without recurrent dropout."""
    data, what = piano_data(
        sizes, model_context("lstm", sizes), SKULI_AS_WRITTEN,
        transpositions=(0,), batch_size=sizes.peer_batch_size,
    )
    data.setup("fit")
    vocab = data.model_inputs()["vocab"]
    batches = [b for b, _ in zip(data.train_dataloader(), range(sizes.peer_rounds + 1), strict=False)]
    batches = [b for b in batches if len(b[1]) == sizes.peer_batch_size]
    if len(batches) < 2:
        raise RuntimeError(f"peers: {what} gives fewer than 2 full batches of {sizes.peer_batch_size}")
    rows = []
    for recurrent_dropout in (0.3, 0.0):
        ours = our_composer(vocab, sizes, recurrent_dropout)
        optimizer = ours.configure_optimizers()
        ours.train()
        theirs = ProcessRival(  # as a user runs it: TensorFlow's thread pools never share a process with PyTorch's
            "Keras", _keras_worker, (composer_config(ours), [keras_batch(b, len(vocab)) for b in batches])
        )

        def our_step(i: int, model=ours, optimizer=optimizer) -> None:
            train_step(model, optimizer, batches[i], clip=None)

        try:
            for _ in range(WARMUP_STEPS):
                our_step(0), theirs.step(0)
            rounds = list(range(1, len(batches)))
            timed = race_over(rounds, our_step, theirs.step)
        finally:
            theirs.close()
        B = sizes.peer_batch_size
        setting = "as built (recurrent dropout 0.3)" if recurrent_dropout else "without recurrent dropout"
        row = Row(
            SECTION,
            f"LSTM composer training, {setting}: ours vs Keras",
            timed.ratio,
            "x",
            LSTM_GOAL,
            f"ours {B / timed.fast_s:,.1f} vs Keras {B / timed.plain_s:,.1f} windows/s, "
            f"batch {B}, {ours.hparams.context}-token skuli windows, {len(rounds)} rounds",
            {"ours_s": [f for f, _ in timed.rounds], "keras_s": [p for _, p in timed.rounds],
             "data": what, "vocab": len(vocab), "keras": theirs.ready},
        ).timed(timed)
        if row.met is False:
            row.profile = profile_ops(lambda m=ours, o=optimizer: train_step(m, o, batches[0], clip=None))[:TOP]
        rows.append(row)
    return rows


def composer_notes(path: Path) -> list[str]:
    """The composer's preprocessing of one file (see the module docstring)."""
    from music21 import chord, converter, instrument, note

    with warnings.catch_warnings():  # music21 warns about every track name it cannot map
        warnings.simplefilter("ignore")
        score = converter.parse(path, forceSource=True)
    try:  # as the composer does: the first instrument part, else every note
        elements = instrument.partitionByInstrument(score).parts[0].recurse()
    except (AttributeError, IndexError):
        elements = score.flatten().notes
    tokens = []
    for element in elements:
        if isinstance(element, note.Note):
            tokens.append(str(element.pitch))
        elif isinstance(element, chord.Chord):
            tokens.append(".".join(str(n) for n in element.normalOrder))
    return tokens


def folder_slices(files: list[Path], count: int) -> list[list[Path]]:
    """``files`` dealt into ``count`` interleaved slices (every slice spans the folder)."""
    return [files[i::count] for i in range(min(count, len(files)))]


def bench_composer_preprocessing(sizes: Sizes, work: Path) -> list[Row]:
    """The composer's music21 preprocessing of the folder against ours, slice by slice."""
    files, what = midi_files(sizes, work)
    skuli = SkuliTokenizer()
    counts: dict[str, list[int]] = {"ours": [], "theirs": []}

    def ours(part: list[Path]) -> None:
        counts["ours"] += [len(our_tokens(p, skuli)) for p in part]

    def theirs(part: list[Path]) -> None:
        counts["theirs"] += [len(composer_notes(p)) for p in part]

    composer_notes(min(files, key=lambda p: p.stat().st_size))  # music21's imports and set-up
    timed = race_over(folder_slices(files, sizes.music21_slices), ours, theirs)
    ours_s, theirs_s = (sum(column) for column in zip(*timed.rounds, strict=True))
    n = len(files)
    return [
        Row(
            SECTION,
            "MIDI folder to note/chord strings: ours vs the composer's music21 preprocessing",
            theirs_s / ours_s,
            "x",
            detail=f"ours {n / ours_s:,.0f} vs music21 {n / theirs_s:.2f} files/s over {n} files; "
            f"{np.mean(counts['ours']):,.0f} vs {np.mean(counts['theirs']):,.0f} tokens per file",
            extra={"ours_s": ours_s, "music21_s": theirs_s, "data": what,
                   "tokens_per_file": {k: float(np.mean(v)) for k, v in counts.items()}},
        ).timed(timed)
    ]


def bench_miditok(sizes: Sizes, work: Path) -> list[Row]:
    """MidiTok REMI against our paper and skuli tokenizers, each over the whole folder."""
    from miditok import REMI, TokenizerConfig

    files, what = midi_files(sizes, work)
    remi = REMI(TokenizerConfig())

    def remi_count(path: Path) -> int:
        encoded = remi.encode(path)
        return sum(len(seq.ids) for seq in (encoded if isinstance(encoded, list) else [encoded]))

    def folder(count: Callable[[Path], int]) -> Callable[[], list[int]]:
        return lambda: [count(p) for p in files]

    theirs = folder(remi_count)
    remi_tokens = theirs()  # warm-up, and the token counts
    rows = []
    for tokenizer in (PaperTokenizer(), SkuliTokenizer()):
        ours = folder(lambda p, t=tokenizer: len(our_tokens(p, t)))
        our_counts = ours()
        timed = race(ours, theirs, sizes.repeats)
        n = len(files)
        rows.append(
            Row(
                SECTION,
                f"MIDI folder tokenization: our {tokenizer.kind} tokens vs MidiTok REMI",
                timed.ratio,
                "x",
                ">= 1",
                f"{n / timed.fast_s:,.0f} vs {n / timed.plain_s:,.0f} files/s over {n} files; "
                f"{np.mean(our_counts):,.0f} vs {np.mean(remi_tokens):,.0f} tokens per file",
                {"data": what, "tokens_per_file": float(np.mean(our_counts)),
                 "remi_tokens_per_file": float(np.mean(remi_tokens))},
            ).timed(timed)
        )
    return rows


PEERS: tuple[tuple[str, tuple[str, ...], Callable[[Sizes, Path], list[Row]]], ...] = (
    ("Keras LSTM composer training", ("tensorflow", "keras"), lambda sizes, work: bench_composer_training(sizes)),
    ("the composer's music21 preprocessing", ("music21",), bench_composer_preprocessing),
    ("MidiTok REMI tokenization", ("miditok",), bench_miditok),
)


def bench_peers(sizes: Sizes, work: Path) -> tuple[list[Row], list[Skipped]]:
    """The rows of every installed peer, and the peers skipped with their reasons."""
    rows, skipped = [], []
    for name, modules, bench in PEERS:
        reason = missing(*modules)
        if reason:
            print(f"[{SECTION}] skipped {name}: {reason}", flush=True)
            skipped.append(Skipped(name, reason))
        else:
            rows += bench(sizes, work)
    return rows, skipped
