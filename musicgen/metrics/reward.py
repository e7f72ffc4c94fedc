"""A music-theory reward for fine-tuning a melody model with policy gradients.

The reward is computed from the decoded music with the metrics of ``functional``, so it reads
what a listener hears, not tokens. It has three parts, each a penalty in [0, 1]:

- **inside**: how far the melody's inside ratio (share of notes on chord tones) is from a
  target, the human figure measured on the training data. A target rather than "more is better",
  so the model is not pushed into arpeggiating chord tones.
- **repetition**: the repetition rate (the same pitch and duration struck again at once, rests
  skipped): note hammering.
- **copying**: the share of the melody's n-grams found in the training data (plagiarism).

``reward = -(inside * |inside_ratio - target| + repetition * rate + copying * share)``, so 0 is
the best. A melody without a scored note (all rests, or only under NC) gets every part's worst
value: silence must not be the easy way out of the penalties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from musicgen.metrics import functional as F
from musicgen.metrics.ngrams import NGramIndex
from musicgen.music.records import LeadSheet


def inside_penalty(sheet: LeadSheet, target: float) -> float:
    """``|inside ratio - target|``; 1 when the melody has no note under a known chord."""
    ratio = F.inside_ratio(sheet)
    return 1.0 if math.isnan(ratio) else abs(ratio - target)


def repetition_penalty(sheet: LeadSheet) -> float:
    """The repetition rate of the melody's notes; 1 with fewer than two notes."""
    rate = F.record_repetition_rate(sheet)
    return 1.0 if math.isnan(rate) else rate


def copying_penalty(sheet: LeadSheet, index: NGramIndex | None) -> float:
    """Share of the melody's n-grams found in ``index`` (0 without one); 1 when it is too short to
    have an n-gram (a melody of a few notes says nothing new either)."""
    if index is None:
        return 0.0
    share = F.plagiarism(sheet, index)
    return 1.0 if math.isnan(share) else share


def human_inside_ratio(sheets: Sequence[LeadSheet]) -> float:
    """The pooled inside ratio of human melodies: chord-tone notes over all scored notes."""
    counts = [F.inside_count(s) for s in sheets]
    total = sum(c.total for c in counts)
    if not total:
        raise ValueError("no melody note under a known chord: cannot measure the human inside ratio")
    return sum(c.inside for c in counts) / total


@dataclass(frozen=True)
class MusicReward:
    """The weighted reward of the module docstring; call it on a lead sheet."""

    inside_target: float
    index: NGramIndex | None = None
    inside: float = 1.0
    repetition: float = 1.0
    copying: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.inside_target <= 1:
            raise ValueError(f"inside_target must lie in [0, 1], got {self.inside_target}")
        for name in ("inside", "repetition", "copying"):
            if getattr(self, name) < 0:
                raise ValueError(f"reward weight {name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_records(
        cls, records: Sequence[LeadSheet], inside: float = 1.0, repetition: float = 1.0,
        copying: float = 1.0, inside_target: float | None = None, ngram_kind: str = "interval",
        ngram_n: int | None = None,
    ) -> MusicReward:
        """The reward against training ``records``: their n-gram index (``ngram_kind``, length
        ``ngram_n``, default ``ngrams.DEFAULT_N``) and, unless given, their inside ratio as the
        target."""
        target = human_inside_ratio(records) if inside_target is None else float(inside_target)
        index = NGramIndex.from_records(records, ngram_kind, ngram_n) if copying else None
        return cls(target, index, inside, repetition, copying)

    def parts(self, sheet: LeadSheet) -> dict[str, float]:
        """Each penalty, unweighted."""
        return {
            "inside": inside_penalty(sheet, self.inside_target),
            "repetition": repetition_penalty(sheet),
            "copying": copying_penalty(sheet, self.index),
        }

    def __call__(self, sheet: LeadSheet) -> float:
        parts = self.parts(sheet)
        return -(self.inside * parts["inside"] + self.repetition * parts["repetition"]
                 + self.copying * parts["copying"])
