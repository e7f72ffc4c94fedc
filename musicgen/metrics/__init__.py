"""Music metrics: pure functions of records, the training n-gram index, torchmetrics wrappers,
and the registry that lists them once (``registry.METRICS``)."""

from musicgen.metrics.modules import DownbeatSTD, InsideRatio, PieceMean, Plagiarism, RepetitionRate
from musicgen.metrics.ngrams import NGramIndex
from musicgen.metrics.registry import METRICS, MusicMetric, MusicMetrics, compute_all, summarize

__all__ = [
    "METRICS",
    "DownbeatSTD",
    "InsideRatio",
    "MusicMetric",
    "MusicMetrics",
    "NGramIndex",
    "PieceMean",
    "Plagiarism",
    "RepetitionRate",
    "compute_all",
    "summarize",
]
