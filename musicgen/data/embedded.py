"""The embedded default data: Bach chorales from music21's corpus (shipped inside the pip package).

They keep the project runnable with no download. Two views of the same chorales:
- ``ChoralePianoSource``: all four voices as one piano score (for MAR-Y and the LSTM);
- ``ChoraleLeadSheetSource``: the soprano as a melody over one chord per beat, named from the
  pitches the alto, tenor and bass sound on that beat (for JazzGPT).
Parsed chorales are cached, so only the first run pays for music21's parser.
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from tqdm import tqdm

from musicgen.data import cache
from musicgen.music.harmony import name_chord
from musicgen.music.quantize import quantize_melody
from musicgen.music.records import LeadSheet, PianoScore

_PARSE_VERSION = 1


def _chorale_paths(limit: int | None) -> list[Path]:
    from music21 import corpus

    paths = sorted(p for p in corpus.getComposer("bach") if Path(p).name.startswith("bwv"))
    return paths if limit is None else paths[:limit]


def _parse_chorale(path: Path) -> dict | None:
    """One chorale as plain arrays: per voice (onsets, offsets, pitches) in quarter notes from bar 1."""
    from music21 import converter, meter

    score = converter.parse(path)
    signatures = score.recurse().getElementsByClass(meter.TimeSignature)
    if not signatures or len(score.parts) < 2:
        return None
    ts = signatures[0]
    first_measure = score.parts[0].getElementsByClass("Measure")[0]
    pickup = float(first_measure.paddingLeft or 0.0)
    shift = (ts.barDuration.quarterLength - pickup) % ts.barDuration.quarterLength
    voices = []
    for part in score.parts:
        onsets, offsets, pitches = [], [], []
        for note in part.stripTies().flatten().notes:
            length = float(note.quarterLength)
            if length <= 0:
                continue
            for pitch in note.pitches:
                onsets.append(float(note.offset) + shift)
                offsets.append(float(note.offset) + shift + length)
                pitches.append(int(pitch.midi))
        voices.append((np.array(onsets), np.array(offsets), np.array(pitches, dtype=np.int64)))
    return {
        "id": f"bach:{Path(path).stem}",
        "voices": voices,
        "numerator": ts.numerator,
        "denominator": ts.denominator,
        "bar_quarters": float(ts.barDuration.quarterLength),
    }


def load_chorales(limit: int | None = None, workers: int = 2, progress: bool = True) -> list[dict]:
    """Parse (or load from the cache) the chorales of music21's corpus, with a progress bar:
    music21's parser takes about a minute for all of them on two cores."""
    import music21

    paths = _chorale_paths(limit)
    key = cache.cache_key({"v": _PARSE_VERSION, "music21": music21.__version__, "paths": [p.name for p in paths]})
    path = cache.cache_path("chorales", key)
    parsed = cache.load(path)
    if parsed is None:
        bar = tqdm(total=len(paths), unit="chorale", file=sys.stderr, disable=not progress,
                   desc="parsing Bach chorales with music21 (first run only, then cached)")
        with bar, ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
            results = pool.map(_parse_chorale, paths, chunksize=8) if pool else map(_parse_chorale, paths)
            parsed = []
            for chorale in results:
                bar.update(1)
                if chorale is not None:
                    parsed.append(chorale)
        cache.save(path, parsed)
    return parsed


class _ChoraleSource:
    def __init__(self, limit: int | None = None, workers: int = 2, progress: bool = True):
        if limit is not None and limit < 1:
            raise ValueError(f"limit={limit}: expected at least 1 chorale (null = all of them)")
        self.limit = limit
        self.workers = workers
        self.progress = progress

    def fingerprint(self) -> dict:
        return {"source": type(self).__name__, "limit": self.limit, "parse_version": _PARSE_VERSION}


class ChoralePianoSource(_ChoraleSource):
    """Every voice of every chorale, merged into one piano part (beats = quarter notes)."""

    def load(self) -> tuple[list[PianoScore], dict]:
        scores = []
        for chorale in load_chorales(self.limit, self.workers, self.progress):
            onsets = np.concatenate([v[0] for v in chorale["voices"]])
            offsets = np.concatenate([v[1] for v in chorale["voices"]])
            pitches = np.concatenate([v[2] for v in chorale["voices"]])
            order = np.lexsort((pitches, onsets))
            scores.append(
                PianoScore(
                    id=chorale["id"],
                    onsets=onsets[order],
                    durations=(offsets - onsets)[order],
                    pitches=pitches[order],
                    group=chorale["id"],
                    meta={"time_signature": f"{chorale['numerator']}/{chorale['denominator']}"},
                )
            )
        return scores, {"source": "bach chorales (music21 corpus)", "files_read": len(scores)}


class ChoraleLeadSheetSource(_ChoraleSource):
    """Soprano melody over one chord per beat named from the lower voices (x/4 chorales only)."""

    def __init__(
        self, limit: int | None = None, workers: int = 2, ticks_per_beat: int = 24, progress: bool = True
    ):
        super().__init__(limit, workers, progress)
        self.ticks_per_beat = ticks_per_beat

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "ticks_per_beat": self.ticks_per_beat}

    def load(self) -> tuple[list[LeadSheet], dict]:
        chorales = load_chorales(self.limit, self.workers, self.progress)
        sheets = [s for s in map(self._lead_sheet, chorales) if s is not None]
        report = {
            "source": "bach chorales (music21 corpus)",
            "chorales": len(chorales),
            "chorales_not_in_quarter_meter": len(chorales) - len(sheets),
            "lead_sheets": len(sheets),
        }
        return sheets, report

    def _lead_sheet(self, chorale: dict) -> LeadSheet | None:
        if chorale["denominator"] != 4:
            return None
        beats_per_bar = chorale["numerator"]
        on, off, pitch = chorale["voices"][0]
        end = max(v[1].max() for v in chorale["voices"] if len(v[1]))
        num_beats = math.ceil(end / beats_per_bar - 1e-9) * beats_per_bar
        melody = quantize_melody(
            on, off, pitch, ticks_per_beat=self.ticks_per_beat, total_ticks=num_beats * self.ticks_per_beat
        )
        return LeadSheet(
            id=chorale["id"],
            pitches=melody.pitches,
            durations=melody.durations,
            chords=tuple(_beat_chords(chorale["voices"][1:], num_beats)),
            ticks_per_beat=self.ticks_per_beat,
            beats_per_bar=beats_per_bar,
            group=chorale["id"],
        )


def _beat_chords(voices: list[tuple[np.ndarray, np.ndarray, np.ndarray]], num_beats: int) -> list[str]:
    """One chord per beat from the pitches sounding at the beat's onset; silence keeps the last chord."""
    onsets = np.concatenate([v[0] for v in voices])
    offsets = np.concatenate([v[1] for v in voices])
    pitches = np.concatenate([v[2] for v in voices])
    chords, previous = [], "NC"
    for beat in range(num_beats):
        sounding = pitches[(onsets <= beat + 1e-9) & (offsets > beat + 1e-9)]
        if len(sounding):
            previous = name_chord(sounding, bass=int(sounding.min()))
        chords.append(previous)
    return chords
