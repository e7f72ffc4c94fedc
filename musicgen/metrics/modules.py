"""Music metrics as torchmetrics ``Metric``s, accumulated over batches and synced across DDP.

``update`` takes decoded records (``list[LeadSheet | PianoScore]``), not tensors: the metrics
are defined on music (chords per beat, onsets in beats), which only the decoded records carry,
and each model tokenizes differently. The *states* are tensors reduced with ``sum``, so
torchmetrics can all-reduce them across processes (and ``merge_state`` can combine two
instances) before ``compute`` forms the ratio.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torchmetrics import Metric

from musicgen.metrics import functional as F
from musicgen.metrics.ngrams import NGramIndex
from musicgen.music.records import LeadSheet, Record


class _RecordMetric(Metric):
    is_differentiable = False
    full_state_update = False

    def _count_state(self, name: str) -> None:
        self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")


class InsideRatio(_RecordMetric):
    """Chord-tone notes / scored notes over every lead sheet seen (the ratio of sums).

    Pooling notes weights long solos more than a mean of per-piece ratios would; rests and
    notes under NC are excluded as in ``functional.count_inside``. Closer to the human
    corpus is better, not higher: an all-arpeggio solo scores 1.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._count_state("inside_notes")
        self._count_state("scored_notes")

    def update(self, records: Sequence[LeadSheet]) -> None:
        for record in records:
            if not isinstance(record, LeadSheet):
                raise TypeError(f"InsideRatio needs lead sheets (chords per beat), got "
                                f"{type(record).__name__} {getattr(record, 'id', '')!r}")
            count = F.inside_count(record)
            self.inside_notes += count.inside
            self.scored_notes += count.total

    def compute(self) -> torch.Tensor:
        return self.inside_notes.double() / self.scored_notes


class PieceMean(_RecordMetric):
    """Mean over pieces of a per-piece metric ``fn(record) -> float``; NaN pieces are skipped."""

    def __init__(self, fn: Callable[[Record], float], **kwargs: Any):
        super().__init__(**kwargs)
        self.fn = fn
        self.add_state("value_sum", default=torch.tensor(0.0, dtype=torch.float64),
                       dist_reduce_fx="sum")
        self._count_state("pieces")

    def update(self, records: Sequence[Record]) -> None:
        for record in records:
            value = self.fn(record)
            if not math.isnan(value):
                self.value_sum += value
                self.pieces += 1

    def compute(self) -> torch.Tensor:
        return self.value_sum / self.pieces


class DownbeatSTD(PieceMean):
    """Per-piece std of onset-to-nearest-downbeat distances, averaged over pieces."""

    def __init__(self, beats_per_bar: int | None = None,
                 downbeats: Sequence[float] | None = None, **kwargs: Any):
        fn = partial(F.downbeat_std, beats_per_bar=beats_per_bar,
                     downbeats=None if downbeats is None else tuple(downbeats))
        super().__init__(fn, **kwargs)


class Plagiarism(_RecordMetric):
    """Generated n-grams found in the training index / generated n-grams, pooled over pieces.

    ``n`` and the reading (intervals or pitch-duration events) are the index's own.
    """

    higher_is_better = False

    def __init__(self, index: NGramIndex, **kwargs: Any):
        super().__init__(**kwargs)
        self.index = index
        self._count_state("matched_ngrams")
        self._count_state("total_ngrams")

    def update(self, records: Sequence[Record]) -> None:
        for record in records:
            found, total = self.index.matches(self.index.encode(record))
            self.matched_ngrams += found
            self.total_ngrams += total

    def compute(self) -> torch.Tensor:
        return self.matched_ngrams.double() / self.total_ngrams


class RepetitionRate(_RecordMetric):
    """Consecutive notes repeating pitch and duration / consecutive note pairs, pooled."""

    higher_is_better = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._count_state("repeated_pairs")
        self._count_state("note_pairs")

    def update(self, records: Sequence[Record]) -> None:
        for record in records:
            repeats, pairs = F.repetition_counts(F.note_tokens(record))
            self.repeated_pairs += repeats
            self.note_pairs += pairs

    def compute(self) -> torch.Tensor:
        return self.repeated_pairs.double() / self.note_pairs
