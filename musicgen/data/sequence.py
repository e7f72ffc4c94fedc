"""SequenceDataModule: piano scores → transposed copies → tokens → (previous c tokens → next token)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from musicgen.data.base import SPLITS, PreparedDataModule
from musicgen.data.tokenizers import make_tokenizer
from musicgen.data.vocab import Vocabulary
from musicgen.music.key import Key, key_from_id, score_key, transpose_key
from musicgen.music.records import PianoScore
from musicgen.music.transpose import transpose_score


def copy_key(score: PianoScore) -> Key:
    """The key of a (transposed) copy: the key estimated for the piece as written
    (``meta["key"]``, a key id) moved by the copy's ``meta["transposition"]``."""
    return transpose_key(key_from_id(score.meta["key"]), score.meta.get("transposition", 0))


class NextTokenWindows(Dataset):
    """Windows over a flat token array: ``x`` = the c tokens before position i, ``y`` = token i.

    Only the positions are stored; windows are sliced on demand (and a whole batch at once
    through ``__getitems__``), so stride 1 over a large corpus costs no memory. Windows near a
    sequence start are left-padded with the pad id, which teaches the models to start from short
    primers.

    With ``keys`` (the key id of each target's sequence, ``Key.midi_number``) an item is
    ``(x, y, key)``, for the key-conditioned models.
    """

    def __init__(
        self,
        tokens: torch.Tensor,
        targets: torch.Tensor,
        starts: torch.Tensor,
        context: int,
        keys: torch.Tensor | None = None,
    ):
        self.tokens = tokens
        self.targets = targets  # position of each target token in ``tokens``
        self.starts = starts  # first position of the target's own sequence
        self.context = context
        self.keys = keys

    def __len__(self) -> int:
        return len(self.targets)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        idx = torch.as_tensor(indices)
        targets, starts = self.targets[idx], self.starts[idx]
        positions = targets[:, None] - self.context + torch.arange(self.context)[None, :]
        valid = positions >= starts[:, None]
        x = torch.where(valid, self.tokens[positions.clamp(min=0)], torch.zeros((), dtype=torch.long))
        if self.keys is None:
            return x, self.tokens[targets]
        return x, self.tokens[targets], self.keys[idx]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(part[0] for part in self.__getitems__([index]))


class SequenceDataModule(PreparedDataModule):
    """Next-token windows for MAR-Y and the LSTM baseline, from any piano-score source.

    Each score is played in each key of ``transpositions`` (0 = as written; by default the
    original and five other keys). Each sequence starts with ``<bos>``; targets are every later token.

    ``key_conditioning``: each score's key is estimated once, from its notes as written
    (Krumhansl-Kessler), and moved with each transposed copy; windows then carry their
    sequence's key id (``Key.midi_number``) for the models' ``[X; M]`` key input.
    """

    namespace = "sequence"
    version = 1

    def __init__(
        self,
        source,
        tokenizer: dict[str, Any] | None = None,
        transpositions: Sequence[int] = (-3, -2, -1, 0, 1, 2),
        context: int = 64,
        stride: int = 1,
        min_count: int = 1,
        key_conditioning: bool = False,
        **kwargs,
    ):
        super().__init__(source, transpositions, **kwargs)
        self.tokenizer_config = dict(tokenizer or {"kind": "paper"})
        self.tokenizer = make_tokenizer(**self.tokenizer_config)
        self.context = context
        self.stride = stride
        self.min_count = min_count
        self.key_conditioning = bool(key_conditioning)

    def preparation_config(self) -> dict:
        # Keys enter the config only when on, so plain preparations keep their cache entries.
        return {
            **super().preparation_config(),
            "tokenizer": self.tokenizer.info(),
            "stride": self.stride,
            "min_count": self.min_count,
            **({"keys": "krumhansl-kessler"} if self.key_conditioning else {}),
        }

    def _prepare(self, records: list[PianoScore], splits: dict[str, set[str]], source_report: dict) -> dict:
        if self.key_conditioning:  # once per piece, as written; each copy shifts it (transpose_key)
            records = [
                r.with_(meta={**r.meta, "key": score_key(r.pitches, r.durations).midi_number})
                for r in records
            ]
        scores, counts = self.transposed_by_split(
            records, splits, lambda score, offset: transpose_score(score, offset) if offset else score
        )
        sequences = {split: [self.tokenizer.encode(score) for score in scores[split]] for split in SPLITS}
        self.refuse_empty(
            sum(len(score) for score in scores["train"]), sum(map(len, sequences["train"])), "tokens"
        )
        vocab = Vocabulary.build(sequences["train"], self.min_count)
        flat = {split: self._flatten(sequences[split], vocab) for split in SPLITS}
        if self.key_conditioning:
            for split in SPLITS:
                flat[split]["keys"] = torch.tensor(
                    [copy_key(score).midi_number for score in scores[split]], dtype=torch.long
                )
        report = {
            "source": source_report,
            **counts,
            "sequences": {s: len(sequences[s]) for s in SPLITS},
            "tokens": {s: sum(map(len, sequences[s])) for s in SPLITS},
            "unknown_tokens": {s: int((flat[s]["tokens"] == vocab.unk_id).sum()) for s in SPLITS},
            "vocab_size": len(vocab),
            "min_count": self.min_count,
        }
        return {
            "vocab": vocab.tokens,
            "data_info": {"kind": "piano", "tokenizer": self.tokenizer.info()},
            "flat": flat,
            "report": report,
        }

    @staticmethod
    def _flatten(sequences: list[list[str]], vocab: Vocabulary) -> dict[str, torch.Tensor]:
        """All sequences in one array, each behind a ``<bos>``, with each sequence's start."""
        ids = [np.array([vocab.bos_id, *vocab.encode(seq)], dtype=np.int64) for seq in sequences]
        lengths = np.array([len(a) for a in ids], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(ids) else np.zeros(0, np.int64)
        tokens = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        return {
            "tokens": torch.from_numpy(tokens),
            "starts": torch.from_numpy(starts),
            "lengths": torch.from_numpy(lengths),
        }

    def _dataset(self, split: str) -> NextTokenWindows:
        flat = self.load_prepared()["flat"][split]
        targets, owners = [], []
        for start, length in zip(flat["starts"].tolist(), flat["lengths"].tolist(), strict=True):
            positions = np.arange(start + 1, start + length, self.stride)
            targets.append(positions)
            owners.append(np.full(len(positions), start))
        targets_t = torch.from_numpy(np.concatenate(targets)) if targets else torch.zeros(0, dtype=torch.long)
        owners_t = torch.from_numpy(np.concatenate(owners)) if owners else torch.zeros(0, dtype=torch.long)
        keys = None
        if self.key_conditioning:
            counts = torch.tensor([len(t) for t in targets], dtype=torch.long)
            keys = flat["keys"].repeat_interleave(counts)
        return NextTokenWindows(flat["tokens"], targets_t, owners_t, self.context, keys)

    def collate(self, batch: Any) -> Any:
        return batch if isinstance(batch, tuple) else super().collate(batch)

    def model_inputs(self) -> dict:
        prepared = self.load_prepared()
        return {"vocab": prepared["vocab"], "data_info": prepared["data_info"]}

    def records(self, split: str) -> list[PianoScore]:
        """Each whole sequence of a split (transposed copies included) decoded with the data's own
        tokenizer: the pieces as the model sees them, on the tokenizer's grid."""
        vocab = Vocabulary(self.load_prepared()["vocab"])
        return [
            self.tokenizer.decode(vocab.decode(seq)).with_(id=f"{split}:{i}")
            for i, seq in enumerate(self.primers(split, length=sys.maxsize - 1))
        ]

    def primers(self, split: str = "val", length: int | None = None) -> list[list[int]]:
        """The opening tokens of each sequence of a split (without ``<bos>``), for generation."""
        flat = self.load_prepared()["flat"][split]
        length = length or self.context
        return [
            flat["tokens"][s + 1 : s + min(n, length + 1)].tolist()
            for s, n in zip(flat["starts"].tolist(), flat["lengths"].tolist(), strict=True)
        ]
