"""A folder of MIDI files as piano scores, for MAR-Y and the LSTM baseline.

Files are parsed with symusic (far faster than pretty_midi or music21: ``benchmarks/``) in
worker processes. Times come from ticks and the file's resolution, so a note's onset is in
beats whatever the tempo map says. Drum tracks are dropped and the rest merged into one piano
part. A bad file never stops the run: it is skipped with its reason, or cleaned (zero-length
notes and pitches outside 0-127 are dropped and counted), and the report says which.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import symusic
from tqdm import tqdm

from musicgen.data.cache import file_digest
from musicgen.music.records import PianoScore

MIDI_SUFFIXES = (".mid", ".midi")
DEFAULT_TEMPO = 120.0  # what MIDI players assume when a file sets none
MAX_TEMPO = 1000.0  # faster than any real piece: a corrupt tempo event, replaced by the default
MAX_BEATS = 100_000.0  # about 14 hours at 120 bpm: notes beyond come from corrupt delta times


@dataclass
class _Parsed:
    """What a worker sends back for one file: a score, or why there is none."""

    file: str
    kind: str = ""  # why it was skipped, in a few words (the error message counts these)
    detail: str = ""
    score: PianoScore | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    digest: str = ""  # of the file's bytes, so copies under two names can share a group

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


def _keep_track(track: Any, tracks: tuple[str | int, ...] | None) -> bool:
    if tracks is None:
        return True
    return track.name in tracks or track.program in tracks


def _first_tempo(score: Any) -> float:
    if not len(score.tempos):
        return DEFAULT_TEMPO
    qpm = round(float(score.tempos[0].qpm), 3)  # undo the whole microseconds MIDI stores
    return qpm if 0 < qpm <= MAX_TEMPO else DEFAULT_TEMPO


def _time_signature(score: Any) -> str:
    if not len(score.time_signatures):
        return "4/4"
    ts = score.time_signatures[0]
    return f"{ts.numerator}/{ts.denominator}"


def parse_midi_file(
    path: Path,
    rel: str,
    tracks: tuple[str | int, ...] | None = None,
    min_notes: int = 1,
    max_beats: float = MAX_BEATS,
) -> _Parsed:
    """One file as a PianoScore, or the reason it cannot be one (never raises on bad data)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _Parsed(rel, "unreadable", str(exc.strerror or exc))
    if not data:
        return _Parsed(rel, "empty file")
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if not data.startswith(b"MThd"):
        return _Parsed(rel, "not MIDI", "no MThd header")
    try:
        midi = symusic.Score.from_midi(data, ttype="tick")
    except Exception as exc:  # symusic reports every malformed byte stream as some exception
        return _Parsed(rel, "corrupt MIDI", str(exc).splitlines()[0])
    tpq = int(midi.ticks_per_quarter)
    if tpq <= 0:
        return _Parsed(rel, "bad resolution", f"{tpq} ticks per beat")

    drum_notes = sum(t.note_num() for t in midi.tracks if t.is_drum)
    other_notes = sum(t.note_num() for t in midi.tracks if not t.is_drum)
    kept = [t for t in midi.tracks if not t.is_drum and t.note_num() and _keep_track(t, tracks)]
    if not kept:
        if other_notes:
            return _Parsed(rel, "no notes", f"none in the selected tracks {list(tracks or ())}")
        return _Parsed(rel, "drums only" if drum_notes else "no notes")

    arrays = [t.notes.numpy() for t in kept]
    time, length, pitch, velocity = (
        np.concatenate([a[key] for a in arrays]).astype(np.int64)
        for key in ("time", "duration", "pitch", "velocity")
    )
    zero_length = length <= 0
    out_of_range = ~zero_length & ((pitch < 0) | (pitch > 127))
    keep = ~zero_length & ~out_of_range
    dropped = {
        "zero_length": int(zero_length.sum()),
        "pitch_out_of_range": int(out_of_range.sum()),
        "drums": drum_notes,
    }
    if keep.sum() < max(min_notes, 1):
        detail = f"{int(keep.sum())} usable (min_notes={min_notes})"
        return _Parsed(rel, kind="too few notes", detail=detail, dropped=dropped)
    time, length, pitch, velocity = time[keep], length[keep], pitch[keep], velocity[keep]
    last_beat = float((time + length).max()) / tpq
    if time.min() < 0 or last_beat > max_beats:
        detail = f"a note ends at beat {last_beat:.0f} (max_beats={max_beats:g})"
        return _Parsed(rel, kind="absurd positions", detail=detail, dropped=dropped)

    order = np.lexsort((pitch, time))
    score = PianoScore(
        id=rel,
        onsets=time[order] / tpq,
        durations=length[order] / tpq,
        pitches=pitch[order],
        velocities=np.clip(velocity[order], 0, 127),
        group=rel,
        meta={
            "path": str(path),
            "ticks_per_beat": tpq,
            "tempo": _first_tempo(midi),
            "time_signature": _time_signature(midi),
        },
    )
    return _Parsed(rel, score=score, dropped=dropped, digest=digest)


def _parse_chunk(jobs: list[tuple[Path, str]], options: dict[str, Any]) -> list[_Parsed]:
    return [parse_midi_file(path, rel, **options) for path, rel in jobs]


class MidiFolderSource:
    """Every .mid/.midi file under ``path`` as one PianoScore (id and group = relative path).

    ``tracks`` keeps only tracks with these names or General MIDI program numbers; ``workers``
    defaults to the CPU count (0 or 1 parse in this process). ``max_beats`` bounds a file's length,
    so a corrupt delta time cannot put notes hours away.
    """

    def __init__(
        self,
        path: str | Path,
        recursive: bool = True,
        workers: int | None = None,
        tracks: Sequence[str | int] | None = None,
        min_notes: int = 1,
        progress: bool = True,
        max_beats: float = MAX_BEATS,
    ):
        self.path = Path(path).expanduser()
        self.recursive = recursive
        self.workers = workers if workers is not None else os.cpu_count() or 1
        self.tracks = tuple(tracks) if tracks is not None else None
        self.min_notes = min_notes
        self.progress = progress
        self.max_beats = max_beats

    def files(self) -> list[Path]:
        """The MIDI files to read, sorted by relative path; a missing or empty folder is an error."""
        return self._scan()[0]

    def _scan(self) -> tuple[list[Path], list[_Parsed]]:
        """Regular files named .mid/.midi, and the entries so named that are not (with why)."""
        if not self.path.is_dir():
            if self.path.exists():
                raise NotADirectoryError(
                    f"{self.path} is a file, but a MIDI folder is expected: give the folder that "
                    "holds the .mid/.midi files"
                )
            raise FileNotFoundError(f"MIDI folder not found: {self.path}")
        candidates = self.path.rglob("*") if self.recursive else self.path.iterdir()
        files, unusable = [], []
        for path in sorted(candidates, key=lambda p: p.relative_to(self.path).as_posix()):
            if path.suffix.lower() not in MIDI_SUFFIXES:
                continue
            kind = _entry_kind(path)
            if kind == "file":
                files.append(path)
            elif kind != "folder":
                rel = path.relative_to(self.path).as_posix()
                unusable.append(_Parsed(rel, *kind.split(": ", 1)))
        if not files and not unusable:
            where = "under" if self.recursive else "directly in"
            raise ValueError(f"no .mid/.midi files {where} {self.path}")
        return files, unusable

    def _options(self) -> dict[str, Any]:
        return {"tracks": self.tracks, "min_notes": self.min_notes, "max_beats": self.max_beats}

    def fingerprint(self) -> dict:
        return {
            "source": "midi_folder",
            "parser": f"symusic {symusic.__version__}",
            "config": {"recursive": self.recursive, **self._options()},
            "files": [[p.relative_to(self.path).as_posix(), _digest_or_why(p)] for p in self.files()],
        }

    def _parse_all(self, jobs: list[tuple[Path, str]]) -> list[_Parsed]:
        options = self._options()
        bar = tqdm(total=len(jobs), unit="file", file=sys.stderr, disable=not self.progress,
                   desc=f"reading {self.path.name}")
        results: list[_Parsed] = []
        with bar:
            if self.workers <= 1 or len(jobs) < 2:
                for path, rel in jobs:
                    results.append(parse_midi_file(path, rel, **options))
                    bar.update(1)
                return results
            size = max(1, len(jobs) // (self.workers * 4))
            chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
            with ProcessPoolExecutor(min(self.workers, len(chunks))) as pool:
                for parsed in pool.map(_parse_chunk, chunks, [options] * len(chunks)):
                    results += parsed
                    bar.update(len(parsed))
        return results

    def load(self) -> tuple[list[PianoScore], dict]:
        files, unusable = self._scan()
        jobs = [(p, p.relative_to(self.path).as_posix()) for p in files]
        parsed = self._parse_all(jobs)
        results = sorted(parsed + unusable, key=lambda r: r.file)
        read = [r for r in parsed if r.score is not None]
        duplicates = _group_duplicates(read)
        scores = [r.score for r in read]
        skipped = [{"file": r.file, "reason": r.reason} for r in results if r.score is None]
        dropped: Counter[str] = Counter()
        for r in read:
            dropped.update(r.dropped)
        report = {
            "files_found": len(results),
            "files_read": len(scores),
            "files_skipped": skipped,
            "duplicates": {
                "copies": sum(len(names) - 1 for names in duplicates),
                "groups": duplicates,
            },
            "notes": sum(len(s) for s in scores),
            "notes_dropped": {k: dropped[k] for k in ("zero_length", "pitch_out_of_range", "drums")},
        }
        if not scores:
            kinds = Counter(r.kind for r in results)
            why = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
            raise ValueError(f"no usable MIDI files in {self.path}: {len(skipped)} skipped ({why})")
        return scores, report


def _entry_kind(path: Path) -> str:
    """"file", "folder", or "<kind>: <detail>" for an entry that cannot be read as a file.

    Only ``stat`` is called, so a FIFO is never opened (opening one waits for a writer).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return "broken symlink: its target does not exist"
        return "unreadable: removed while the folder was read"
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    what = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"not a regular file: {what}"


def _digest_or_why(path: Path) -> str:
    """The file's digest for the cache key, or why it cannot be read (it is then skipped and
    reported by ``load``, and the key changes once it becomes readable)."""
    try:
        return file_digest(path)
    except OSError as error:
        return f"unreadable: {error.strerror or error}"


def _group_duplicates(read: list[_Parsed]) -> list[list[str]]:
    """Give files with identical bytes the group of the first one (so one split holds them all),
    and return each set of names, first name first."""
    by_digest: dict[str, list[_Parsed]] = {}
    for parsed in read:
        by_digest.setdefault(parsed.digest, []).append(parsed)
    groups = []
    for same in by_digest.values():
        if len(same) > 1:
            for copy in same[1:]:
                copy.score = copy.score.with_(group=same[0].file)
            groups.append([p.file for p in same])
    return groups
