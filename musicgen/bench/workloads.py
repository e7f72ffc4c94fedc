"""What the benchmarks run on: the real data when it is there, the models at the research's sizes.

The Weimar Jazz Database and the ``ff_midi`` folder come from ``musicgen.paths.shared_data_dir()``;
without them the embedded Bach chorales stand in, so the benchmark always runs (and says which
data it used). Data settings mirror ``conf/data/wjazzd.yaml`` and ``conf/data/midi.yaml``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

from musicgen.data.embedded import ChoraleLeadSheetSource, ChoralePianoSource
from musicgen.data.leadsheet import ALL_KEYS, LeadSheetDataModule
from musicgen.data.midi import MidiFolderSource
from musicgen.data.sequence import SequenceDataModule
from musicgen.data.wjazzd import WJazzDSource
from musicgen.models import JazzGPT, LSTMBaseline, Mary, MusicModel
from musicgen.paths import shared_data_dir

MODELS: dict[str, type[MusicModel]] = {"jazzgpt": JazzGPT, "mary": Mary, "lstm": LSTMBaseline}
WJAZZD = {"max_duration_beats": 8}  # conf/data/wjazzd.yaml (the rest are WJazzDSource defaults)
WJAZZD_WINDOWS = {"window_bars": 8, "hop_bars": 4}
CHORALE_WINDOWS = {"window_bars": 4, "hop_bars": 2}  # conf/data/chorales_leadsheet.yaml
PAPER_TOKENS = {"kind": "paper", "grid": 4}


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does; ``FULL`` is the research's setting, ``QUICK`` a smoke run."""

    midi_files: int | None  # files our MIDI pipeline reads (None: the whole folder)
    music21_files: int  # the subset music21 reads (per-file times are compared)
    transpositions: tuple[int, ...]  # of the jazz data (all 12 keys for the real figure)
    chorale_limit: int | None  # chorales used when the real data is absent
    model_overrides: dict[str, dict] = field(default_factory=dict)  # empty: paper size
    batch_size: int = 64
    warmup_steps: int = 2
    train_steps: int = 5
    melody_tokens: int = 512  # KV cache against re-decoding
    batch_samples: int = 64  # one batch against as many single runs
    batch_tokens: int = 128
    sequence_tokens: int = 32
    repeats: int = 3
    matmul_size: int = 2048
    peer_batch_size: int = 128  # the Keras composer's batch
    peer_rounds: int = 3  # interleaved rounds of each peer comparison
    music21_slices: int = 5  # the folder parsed by music21 once, in this many interleaved slices

    @property
    def keys(self) -> str:
        """How many keys the jazz data is transposed into, in words."""
        count = len(self.transpositions)
        return f"{count} key" + ("s" if count > 1 else "")


FULL = Sizes(midi_files=None, music21_files=10, transpositions=ALL_KEYS, chorale_limit=60)
QUICK = Sizes(
    midi_files=4,
    music21_files=1,
    transpositions=(0,),
    chorale_limit=3,
    model_overrides={
        "jazzgpt": {"d_model": 32, "n_heads": 4, "d_ff": 64, "enc_layers": 1, "dec_layers": 1},
        "mary": {"blocks": 1, "hidden": 16, "embed_dim": 16, "dense": 16, "context": 16},
        "lstm": {"hidden": 16, "layers": 2, "embed_dim": 16, "dense": 16, "context": 16},
    },
    batch_size=8,
    warmup_steps=1,
    train_steps=2,
    melody_tokens=16,
    batch_samples=4,
    batch_tokens=8,
    sequence_tokens=4,
    repeats=1,
    matmul_size=256,
    peer_batch_size=4,
    peer_rounds=2,
    music21_slices=2,
)


def wjazzd_file() -> Path | None:
    path = shared_data_dir() / "wjazzd" / "wjazzd.db"
    return path if path.is_file() else None


def midi_folder() -> Path | None:
    path = shared_data_dir() / "ff_midi"
    return path if path.is_dir() and any(path.glob("*.mid")) else None


def jazz_data(sizes: Sizes, **kwargs) -> tuple[LeadSheetDataModule, str]:
    """The JazzGPT data module (``data=wjazzd`` when the WJD is there) and what it reads."""
    path = wjazzd_file()
    common = {"transpositions": sizes.transpositions, "batch_size": sizes.batch_size, **kwargs}
    if path is not None:
        source = WJazzDSource(path, **WJAZZD)
        return LeadSheetDataModule(source, **WJAZZD_WINDOWS, **common), f"WJD ({path})"
    source = ChoraleLeadSheetSource(limit=sizes.chorale_limit)
    return LeadSheetDataModule(source, **CHORALE_WINDOWS, **common), _chorales(sizes)


def piano_data(
    sizes: Sizes, context: int, tokenizer: dict = PAPER_TOKENS, **kwargs
) -> tuple[SequenceDataModule, str]:
    """The MAR-Y / LSTM data module (``data=midi`` on ff_midi when it is there)."""
    folder = midi_folder()
    common = {"tokenizer": tokenizer, "context": context, "batch_size": sizes.batch_size, **kwargs}
    if folder is not None:
        source = MidiFolderSource(folder, progress=False)
        return SequenceDataModule(source, **common), f"MIDI folder ({folder})"
    source = ChoralePianoSource(limit=sizes.chorale_limit)
    return SequenceDataModule(source, **common), _chorales(sizes)


def _chorales(sizes: Sizes) -> str:
    count = "all" if sizes.chorale_limit is None else f"first {sizes.chorale_limit}"
    return f"Bach chorales, {count} (music21 corpus; the shared data is absent)"


def build_model(name: str, sizes: Sizes, data_inputs: dict) -> MusicModel:
    """A model at paper size (its class defaults), without an LR schedule (no Trainer here)."""
    return MODELS[name](**data_inputs, **sizes.model_overrides.get(name, {}), schedule="none")


def model_context(name: str, sizes: Sizes) -> int:
    """The window a sequence model reads: its paper default unless the sizes override it."""
    default = inspect.signature(MODELS[name]).parameters["context"].default
    return int(sizes.model_overrides.get(name, {}).get("context", default))


def data_for(name: str, sizes: Sizes) -> tuple[LeadSheetDataModule | SequenceDataModule, str]:
    """The data module a model trains on, and what it reads."""
    if name == "jazzgpt":
        return jazz_data(sizes)
    return piano_data(sizes, model_context(name, sizes))
