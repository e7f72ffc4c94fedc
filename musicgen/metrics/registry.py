"""The one list of music metrics, read by both ways of computing them.

``METRICS`` names each metric once: its per-piece function (``functional``), the records it
applies to, and its torchmetrics form (``modules``; by default the mean of the function over
pieces). ``compute_all`` (one record: sample files, evaluation tables) and ``MusicMetrics``
(pooled over batches and DDP ranks: the training callback) both iterate it, so a new metric is
one function and one entry here. Plagiarism metrics are added per n-gram index, named
``plagiarism_<kind>_<n>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from torchmetrics import Metric, MetricCollection

from musicgen.metrics import functional as F
from musicgen.metrics.modules import InsideRatio, PieceMean, Plagiarism, RepetitionRate
from musicgen.metrics.ngrams import NGramIndex
from musicgen.music.records import RECORD_KINDS, Record, record_kind


@dataclass(frozen=True)
class MusicMetric:
    """A metric of one piece, and where and how it is computed."""

    fn: Callable[[Record], float]
    """The value for one piece; NaN where it is undefined (no notes, too few bars)."""
    kinds: tuple[str, ...] = RECORD_KINDS
    """The record kinds it applies to (``music.records.RECORD_KINDS``)."""
    needs_chords: bool = False
    """Only for lead sheets whose chords are known (not a placeholder chart)."""
    pooled: Callable[[], Metric] | None = None
    """Its torchmetrics form; None: the mean of ``fn`` over the pieces (``PieceMean``)."""
    per_piece_only: bool = False
    """Reported by ``compute_all`` only (a count beside another metric, not a corpus figure)."""

    def applies(self, kind: str, chords_known: bool) -> bool:
        return kind in self.kinds and (chords_known or not self.needs_chords)


METRICS: dict[str, MusicMetric] = {
    "inside_ratio": MusicMetric(F.inside_ratio, ("lead_sheet",), needs_chords=True, pooled=InsideRatio),
    "nc_notes": MusicMetric(F.nc_notes, ("lead_sheet",), needs_chords=True, per_piece_only=True),
    "downbeat_std": MusicMetric(F.downbeat_std),
    "pitch_class_entropy": MusicMetric(F.pitch_class_entropy),
    "scale_consistency": MusicMetric(F.scale_consistency),
    "groove_consistency": MusicMetric(F.groove_consistency),
    "empty_beat_rate": MusicMetric(F.empty_beat_rate),
    "pitch_range": MusicMetric(F.pitch_range),
    "polyphony": MusicMetric(F.polyphony, ("piano",)),  # a lead sheet's melody is monophonic
    "repetition_rate": MusicMetric(F.record_repetition_rate, pooled=RepetitionRate),
}
"""Metric name -> what it is; the order is the order of every report."""


def plagiarism_name(index: NGramIndex) -> str:
    return f"plagiarism_{index.kind}_{index.n}"


def compute_all(record: Record, chords_known: bool = True,
                ngram_indexes: Sequence[NGramIndex] = ()) -> dict[str, float]:
    """Every metric of ``METRICS`` that applies to the record, then one plagiarism per index.

    ``chords_known=False`` skips the chord metrics for lead sheets whose chart is a placeholder.
    """
    kind = record_kind(record)
    results = {name: m.fn(record) for name, m in METRICS.items() if m.applies(kind, chords_known)}
    for index in ngram_indexes:
        results[plagiarism_name(index)] = F.plagiarism(record, index)
    return results


def summarize(records: Sequence[Record], chords_known: bool = True,
              indexes: Sequence[NGramIndex] = ()) -> dict[str, dict[str, float]]:
    """Each metric of ``compute_all``: mean, std (population) and the number of pieces where it
    is defined (a NaN piece is left out of that metric)."""
    values = [compute_all(r, chords_known, indexes) for r in records]
    names = list(dict.fromkeys(name for v in values for name in v))
    summary = {}
    for name in names:
        x = np.array([v[name] for v in values if name in v], dtype=np.float64)
        x = x[~np.isnan(x)]
        summary[name] = {
            "mean": float(x.mean()) if len(x) else math.nan,
            "std": float(x.std()) if len(x) else math.nan,
            "pieces": len(x),
        }
    return summary


class MusicMetrics(MetricCollection):
    """Every metric of ``METRICS`` that applies to one model's output, updated together from
    records, plus one plagiarism metric per index.

    ``record_type`` says what the model writes (``music.records.RECORD_KINDS``). Compute groups
    are off: different metrics can hold equal counts by coincidence, and torchmetrics would then
    wrongly share their states.
    """

    def __init__(self, record_type: str = "lead_sheet", chords_known: bool = True,
                 ngram_indexes: Sequence[NGramIndex] = (), prefix: str | None = None):
        if record_type not in RECORD_KINDS:
            raise ValueError(f"record_type must be one of {RECORD_KINDS}, got {record_type!r}")
        metrics: dict[str, Metric] = {
            name: m.pooled() if m.pooled else PieceMean(m.fn)
            for name, m in METRICS.items()
            if m.applies(record_type, chords_known) and not m.per_piece_only
        }
        for index in ngram_indexes:
            name = plagiarism_name(index)
            if name in metrics:
                raise ValueError(f"two n-gram indexes would both be logged as {name!r}")
            metrics[name] = Plagiarism(index)
        super().__init__(metrics, prefix=prefix, compute_groups=False)
