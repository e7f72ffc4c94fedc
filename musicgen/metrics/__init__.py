"""Music metrics: pure functions of records, the training n-gram index, and torchmetrics wrappers."""

from musicgen.metrics.functional import compute_all
from musicgen.metrics.modules import (
    DownbeatSTD,
    InsideRatio,
    MusicMetrics,
    PieceMean,
    Plagiarism,
    RepetitionRate,
)
from musicgen.metrics.ngrams import NGramIndex

__all__ = [
    "DownbeatSTD",
    "InsideRatio",
    "MusicMetrics",
    "NGramIndex",
    "PieceMean",
    "Plagiarism",
    "RepetitionRate",
    "compute_all",
]
