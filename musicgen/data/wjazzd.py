"""The Weimar Jazz Database (WJD, MeloSpy SQLite schema) as lead sheets: solo melody over changes.

Each selected solo becomes one ``LeadSheet``:

* the beat grid is the solo's annotated beats (``beats``, ordered by onset); notes are mapped
  from seconds to beats through it (``melody.onset`` and ``onset + duration``), then quantized to
  ``ticks_per_beat`` (``musicgen.music.quantize``);
* beat 0 is the first beat of the first bar that has an annotated beat: a solo whose first beat
  is beat 3 of its bar gets two beats of leading rest under ``NC``, so the lead sheet's bar lines
  fall on multiples of ``beats_per_bar`` beats;
* ``beats.chord`` is written only where the chord changes; it is forward-filled so every beat
  carries one canonical chord (``NC`` before the first), and the last bar is completed with the
  last chord;
* solos are selected by ``solo_info.signature`` and ``chorus_count``; a solo whose beat track
  does not keep that signature in every bar (a 5/4 bar, a 3/4 section) is skipped, since its bar
  lines would not fall where the lead sheet puts them. Every filter's effect is in the report.

The database is read by column name only, after a schema check, and opened truly read-only
(SQLite's ``immutable=1``): nothing is ever written beside it, not even the ``-shm`` file of a
database in WAL journal mode, so it reads from a read-only folder too.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import numpy as np

from musicgen.data.cache import file_digest
from musicgen.errors import UserError, shorten
from musicgen.music.chords import NC, ChordParseError, canonical
from musicgen.music.quantize import LONG_POLICIES, quantize_melody, seconds_to_beats
from musicgen.music.records import LeadSheet
from musicgen.music.tokens import UNK

_VERSION = 1
UNKNOWN_CHORD_POLICIES = ("error", "unk")

REQUIRED_COLUMNS = {
    "melody": ("melid", "onset", "pitch", "duration"),
    "beats": ("melid", "onset", "bar", "beat", "signature", "chord"),
    "solo_info": (
        "melid", "compid", "performer", "title", "instrument", "style", "key", "avgtempo",
        "signature", "chorus_count",
    ),
    "composition_info": ("compid", "template"),
}  # fmt: skip
META_COLUMNS = ("performer", "title", "instrument", "style", "key", "avgtempo", "template")


class WJazzDError(UserError, ValueError):
    """A file that is not a usable Weimar Jazz Database, or a solo that cannot be read."""


class WJazzDSource:
    """Solos of a WJD SQLite file as lead sheets (see the module docstring for the mapping).

    ``max_choruses`` keeps solos with at most that many choruses (None: all);
    ``max_duration_beats`` bounds event lengths (``long_policy`` split or clip, see
    ``musicgen.music.quantize``); ``unknown_chords="unk"`` writes ``<unk>`` for a chord symbol
    that does not parse (and counts it) instead of raising.
    """

    def __init__(
        self,
        path: str | Path,
        signature: str = "4/4",
        max_choruses: int | None = 7,
        ticks_per_beat: int = 24,
        max_duration_beats: float | None = None,
        long_policy: str = "split",
        unknown_chords: str = "error",
    ):
        if long_policy not in LONG_POLICIES:
            raise ValueError(f"long_policy {long_policy!r} is not one of {LONG_POLICIES}")
        if unknown_chords not in UNKNOWN_CHORD_POLICIES:
            raise ValueError(
                f"unknown_chords {unknown_chords!r} is not one of {UNKNOWN_CHORD_POLICIES}"
            )
        if isinstance(ticks_per_beat, bool) or not isinstance(ticks_per_beat, int) or ticks_per_beat < 1:
            raise ValueError(
                f"ticks_per_beat={ticks_per_beat}: expected a whole number of at least 1 (the "
                "grid every note onset is rounded to)"
            )
        self.path = Path(path)
        self.signature = signature
        self.beats_per_bar = _beats_per_bar(signature)
        self.max_choruses = max_choruses
        self.ticks_per_beat = int(ticks_per_beat)
        self.max_duration_beats = max_duration_beats
        self.long_policy = long_policy
        self.unknown_chords = unknown_chords

    def fingerprint(self) -> dict:
        return {
            "source": "wjazzd",
            "version": _VERSION,
            "signature": self.signature,
            "max_choruses": self.max_choruses,
            "ticks_per_beat": self.ticks_per_beat,
            "max_duration_beats": self.max_duration_beats,
            "long_policy": self.long_policy,
            "unknown_chords": self.unknown_chords,
            "file": file_digest(_existing(self.path)),
        }

    def load(self) -> tuple[list[LeadSheet], dict]:
        """All selected solos, and a report of what selection and quantization did."""
        with closing(_connect(self.path)) as db:
            everything = _solo_rows(db)
            report: dict = {
                "file": self.path.name,
                "signature": self.signature,
                "max_choruses": self.max_choruses,
                "solos_in_file": len(everything),
            }
            if not everything:
                raise WJazzDError(f"{self.path}: solo_info has no solos")
            solos = [s for s in everything if s["signature"] == self.signature]
            report["solos_after_signature_filter"] = len(solos)
            if not solos:
                found = Counter(s["signature"] or "none" for s in everything)
                raise WJazzDError(
                    f"no solo left after the signature filter (signature={self.signature}; "
                    f"the file has {', '.join(f'{sig}: {n}' for sig, n in found.most_common())})"
                )
            if self.max_choruses is not None:
                solos = [s for s in solos if (s["chorus_count"] or 0) <= self.max_choruses]
            report["solos_after_chorus_filter"] = len(solos)
            if not solos:
                raise WJazzDError(
                    f"no solo left after the chorus filter (max_choruses={self.max_choruses}; "
                    f"{report['solos_after_signature_filter']} {self.signature} solos have more)"
                )
            sheets, counts = self._read(db, solos)
        skipped = counts.pop("skipped_beat_grid")
        if not sheets:
            raise WJazzDError(
                f"no solo left after the beat-grid check: all {len(skipped)} selected solos have "
                f"bars that are not {self.signature} in their beats"
            )
        report["solos_skipped_beats_not_in_signature"] = skipped
        report["solos"] = len(sheets)
        report["beats"] = sum(s.num_beats for s in sheets)
        report.update(counts)
        if not counts.get("note_events"):
            raise WJazzDError(f"{self.path}: {_why_no_notes(counts, len(sheets))}")
        return sheets, report

    def read_solo(self, melid: int) -> LeadSheet:
        """One solo by melid, whatever its chorus count (its beats must keep the signature)."""
        with closing(_connect(self.path)) as db:
            solos = [s for s in _solo_rows(db) if s["melid"] == melid]
            if not solos:
                raise WJazzDError(f"{self.path}: no solo with melid {melid}")
            sheets, counts = self._read(db, solos)
        if not sheets:
            raise WJazzDError(
                f"{self.path}: melid {melid} has bars that are not {self.signature} in its beats"
            )
        return sheets[0]

    def _read(self, db: sqlite3.Connection, solos: list[dict]) -> tuple[list[LeadSheet], dict]:
        melids = [s["melid"] for s in solos]
        beats = _beats_by_solo(db, melids)
        notes = _notes_by_solo(db, melids)
        counts: Counter = Counter()
        unparsed: Counter = Counter()
        skipped: list[int] = []
        sheets = []
        for solo in solos:
            melid = solo["melid"]
            grid = _beat_grid(beats.get(melid), self.beats_per_bar, self.signature)
            if grid is None:
                skipped.append(melid)
                continue
            sheet, solo_counts = self._solo(solo, grid, notes.get(melid), unparsed)
            counts.update(solo_counts)
            sheets.append(sheet)
        result = dict(counts)
        result["unparsed_chords"] = dict(unparsed.most_common())
        result["skipped_beat_grid"] = skipped
        return sheets, result

    def _solo(
        self, solo: dict, grid: dict, notes: dict | None, unparsed: Counter
    ) -> tuple[LeadSheet, dict]:
        melid = solo["melid"]
        chords = _chords_per_beat(grid, melid, self.unknown_chords, unparsed)
        total_ticks = len(chords) * self.ticks_per_beat
        if notes is None:
            notes = {k: np.zeros(0) for k in ("onset", "duration", "pitch")}
        pitches = np.rint(notes["pitch"]).astype(np.int64)
        in_range = (pitches >= 1) & (pitches <= 127)
        onsets = seconds_to_beats(notes["onset"][in_range], grid["onsets"]) + grid["lead"]
        offsets = (
            seconds_to_beats((notes["onset"] + notes["duration"])[in_range], grid["onsets"])
            + grid["lead"]
        )
        max_ticks = (
            None
            if self.max_duration_beats is None
            else max(1, round(self.max_duration_beats * self.ticks_per_beat))
        )
        melody = quantize_melody(
            onsets,
            offsets,
            pitches[in_range],
            ticks_per_beat=self.ticks_per_beat,
            max_ticks=max_ticks,
            long_policy=self.long_policy,
            total_ticks=total_ticks,
        )
        counts = dict(melody.counts)
        counts["dropped_pitch_outside_1_127"] = int(np.count_nonzero(~in_range))
        counts["notes_in"] += counts["dropped_pitch_outside_1_127"]
        meta = {k: solo[k] for k in META_COLUMNS}
        meta.update(melid=melid, signature=solo["signature"], chorus_count=solo["chorus_count"])
        sheet = LeadSheet(
            id=f"wjazzd:{melid}",
            pitches=melody.pitches,
            durations=melody.durations,
            chords=tuple(chords),
            ticks_per_beat=self.ticks_per_beat,
            beats_per_bar=self.beats_per_bar,
            group=f"wjazzd:{melid}",
            meta=meta,
        )
        return sheet, counts


def solo_ids(
    path: str | Path, template: str | None = None, signature: str | None = "4/4"
) -> list[int]:
    """Melids of the solos with this signature (None: any) and composition template.

    ``template="I Got Rhythm"`` selects Rhythm Changes, ``"Blues"`` the blues.
    """
    with closing(_connect(path)) as db:
        return [
            s["melid"]
            for s in _solo_rows(db)
            if (signature is None or s["signature"] == signature)
            and (template is None or s["template"] == template)
        ]


def read_solo(path: str | Path, melid: int, **options) -> LeadSheet:
    """One solo as a lead sheet; ``options`` as for ``WJazzDSource``."""
    return WJazzDSource(path, **options).read_solo(melid)


def solo_progression(path: str | Path, melid: int, signature: str = "4/4") -> list[str]:
    """The solo's changes, one canonical chord per beat, aligned with ``read_solo``'s lead sheet."""
    with closing(_connect(path)) as db:
        beats = _beats_by_solo(db, [melid]).get(melid)
    if beats is None:
        raise WJazzDError(f"{path}: no beats for melid {melid}")
    grid = _beat_grid(beats, _beats_per_bar(signature), signature)
    if grid is None:
        raise WJazzDError(f"{path}: melid {melid} has bars that are not {signature} in its beats")
    return _chords_per_beat(grid, melid, "error", Counter())


def _beats_per_bar(signature: str) -> int:
    numerator, slash, denominator = signature.partition("/")
    if not (slash and numerator.isdigit() and denominator.isdigit() and int(numerator) > 0):
        raise ValueError(f"signature must look like '4/4', got {signature!r}")
    return int(numerator)


def _why_no_notes(counts: dict, solos: int) -> str:
    """Which step left the selected solos without a single note, in words."""
    found = counts.get("notes_in", 0)
    if not found:
        return f"table melody has no notes for the {solos} selected solos"
    steps = {k: v for k, v in counts.items() if k.startswith("dropped") and v}
    named = ", ".join(f"{k}: {v}" for k, v in steps.items())
    return f"every one of the {found} notes of the {solos} selected solos was dropped ({named})"


def _existing(path: Path) -> Path:
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder, but the Weimar Jazz Database is a file: give the path of wjazzd.db"
        )
    if not path.is_file():
        raise FileNotFoundError(f"Weimar Jazz Database not found: {path}")
    return path


def _connect(path: str | Path) -> sqlite3.Connection:
    """Open read-only and check every table and column this module reads.

    ``immutable=1`` tells SQLite the file cannot change, so it takes no locks and creates no
    ``-shm``/``-wal`` files; a ``-wal`` file that still holds changes would then be ignored,
    so that case is refused with what to do.
    """
    path = _existing(Path(path))
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size:
        raise WJazzDError(
            f"{path}: its write-ahead log {wal.name} holds changes not yet in the file; open it "
            f"once for writing (sqlite3 {path.name} 'PRAGMA wal_checkpoint') or close the program "
            "that writes it"
        )
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    db.row_factory = sqlite3.Row
    try:
        for table, columns in REQUIRED_COLUMNS.items():
            present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
            if not present:
                raise WJazzDError(f"{path} is not a Weimar Jazz Database: no table {table!r}")
            missing = [c for c in columns if c not in present]
            if missing:
                raise WJazzDError(f"{path} is not a Weimar Jazz Database: {table} lacks {missing}")
    except sqlite3.DatabaseError as error:
        db.close()
        raise WJazzDError(f"{path} is not an SQLite database ({error})") from None
    except WJazzDError:
        db.close()
        raise
    return db


def _solo_rows(db: sqlite3.Connection) -> list[dict]:
    rows = db.execute(
        "SELECT s.melid, s.performer, s.title, s.instrument, s.style, s.key, s.avgtempo,"
        " s.signature, s.chorus_count, c.template"
        " FROM solo_info AS s LEFT JOIN composition_info AS c ON s.compid = c.compid"
        " ORDER BY s.melid"
    )
    return [dict(row) for row in rows]


def _placeholders(values: list) -> str:
    return ",".join("?" * len(values))


def _beats_by_solo(db: sqlite3.Connection, melids: list[int]) -> dict[int, dict]:
    rows = db.execute(
        f"SELECT melid, onset, bar, beat, signature, chord FROM beats"
        f" WHERE melid IN ({_placeholders(melids)}) ORDER BY melid, onset",
        melids,
    ).fetchall()
    by_solo: dict[int, dict] = {}
    for melid, first, last in _runs([row["melid"] for row in rows]):
        solo = rows[first:last]
        by_solo[melid] = {
            "onsets": _numbers(db, "beats", solo, "onset", np.float64),
            "bars": _numbers(db, "beats", solo, "bar", np.int64),
            "beats": _numbers(db, "beats", solo, "beat", np.int64),
            "signatures": [r["signature"] or "" for r in solo],
            "chords": [r["chord"] or "" for r in solo],
            "positions": [(r["bar"], r["beat"]) for r in solo],
        }
    return by_solo


def _notes_by_solo(db: sqlite3.Connection, melids: list[int]) -> dict[int, dict]:
    rows = db.execute(
        f"SELECT melid, onset, duration, pitch FROM melody"
        f" WHERE melid IN ({_placeholders(melids)}) ORDER BY melid, onset",
        melids,
    ).fetchall()
    columns = {
        name: _numbers(db, "melody", rows, name, np.float64) for name in ("onset", "duration", "pitch")
    }
    return {
        melid: {name: values[first:last] for name, values in columns.items()}
        for melid, first, last in _runs([row["melid"] for row in rows])
    }


def _numbers(
    db: sqlite3.Connection, table: str, rows: list[sqlite3.Row], column: str, dtype: type
) -> np.ndarray:
    """A column as an array; a value that is not a number (text, blob, NULL) is named with its
    file, table, column and solo, instead of numpy's "could not convert string to float"."""
    bad = next((row for row in rows if type(row[column]) not in (int, float)), None)
    if bad is not None:
        value = "NULL" if bad[column] is None else shorten(repr(bad[column]))
        file = db.execute("PRAGMA database_list").fetchone()["file"]
        raise WJazzDError(
            f"{file}: table {table}, column {column}, melid {bad['melid']}: {value} is not a number"
        )
    return np.array([row[column] for row in rows], dtype=dtype)


def _runs(keys: list[int]) -> list[tuple[int, int, int]]:
    """(key, first, last) of each run of equal keys in an ordered list."""
    keys_array = np.asarray(keys)
    if len(keys_array) == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], keys_array[1:] != keys_array[:-1]]))
    ends = np.append(starts[1:], len(keys_array))
    return [(int(keys_array[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def _beat_grid(beats: dict | None, beats_per_bar: int, signature: str) -> dict | None:
    """The solo's beats if every bar has ``beats_per_bar`` consecutive beats (first and last
    bars may be partial); adds ``lead`` (beats before the first one in its bar) and ``tail``."""
    if beats is None or len(beats["onsets"]) < 2:
        return None
    if any(s and s != signature for s in beats["signatures"]):
        return None
    numbers = beats["beats"]
    if numbers.min() < 1 or numbers.max() > beats_per_bar:
        return None
    absolute = beats["bars"] * beats_per_bar + numbers - 1
    if np.any(np.diff(absolute) != 1) or np.any(np.diff(beats["onsets"]) <= 0):
        return None
    return {**beats, "lead": int(numbers[0] - 1), "tail": int(beats_per_bar - numbers[-1])}


def _chords_per_beat(grid: dict, melid: int, unknown: str, unparsed: Counter) -> list[str]:
    """Forward-filled canonical chords: ``NC`` for the lead-in, the last chord for the tail."""
    chords = [NC] * grid["lead"]
    current = NC
    for symbol, (bar, beat) in zip(grid["chords"], grid["positions"], strict=True):
        if symbol:
            try:
                current = canonical(symbol)
            except ChordParseError as error:
                if unknown == "error":
                    raise ChordParseError(
                        symbol, f"melid {melid}, bar {bar}, beat {beat}"
                    ) from error
                unparsed[symbol] += 1
                current = UNK
        chords.append(current)
    return chords + [current] * grid["tail"]
