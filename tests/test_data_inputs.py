"""Data inputs an outside probe tried (issue #14): each ends in one line naming what is wrong, or
is skipped and reported, and reading never writes beside the source.

Every case builds its own bad input in a temporary folder. Tests run as root in CI, where file
permissions do not bind, so unreadable files and read-only folders are also simulated by making
the one call that would fail raise PermissionError; the real-permission branch runs as any other
user.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    CountingSource,
    ListSource,
    make_sheet,
    make_wjd_db,
    sequence_module,
    stats_error,
    write_song,
)

from musicgen.cli import one_line
from musicgen.data import cache
from musicgen.data.leadsheet import LeadSheetDataModule
from musicgen.data.midi import MidiFolderSource
from musicgen.data.sequence import SequenceDataModule
from musicgen.data.wjazzd import WJazzDError, WJazzDSource
from musicgen.music.chords import ChordParseError
from musicgen.music.records import PianoScore
from musicgen.sampling.progressions import resolve_chords


def permissions_bind() -> bool:
    """Whether a file without read permission is unreadable here (not for root, whose
    CAP_DAC_OVERRIDE reads anything)."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_bytes(b"x")
        probe.chmod(0)
        try:
            probe.read_bytes()
        except PermissionError:
            return True
        return False


NEEDS_PERMISSIONS = pytest.mark.skipif(
    not permissions_bind(), reason="file permissions do not bind this user (root)"
)


def wjd(tmp_path: Path, *statements: str) -> Path:
    """The tiny official-schema database, changed by ``statements``."""
    path = make_wjd_db(tmp_path / "tiny.db")
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    return path


# -- data with no notes -----------------------------------------------------------------------


def test_a_wjd_file_with_an_empty_melody_table_is_refused_naming_the_table(tmp_path, capsys):
    path = wjd(tmp_path, "DELETE FROM melody")
    line = stats_error(["data=wjazzd", f"data.path={path}"], capsys)
    assert line == f"error: {path}: table melody has no notes for the 2 selected solos"


def test_ticks_per_beat_zero_is_refused_before_reading_any_solo(tmp_path, capsys):
    path = wjd(tmp_path)
    line = stats_error(["data=wjazzd", f"data.path={path}", "data.source.ticks_per_beat=0"], capsys)
    assert line.startswith("error: data.source: ticks_per_beat=0: expected a whole number of at least 1")


def test_notes_that_every_filter_drops_are_refused_naming_the_filter(tmp_path):
    path = wjd(tmp_path, "UPDATE melody SET pitch = 0")
    with pytest.raises(WJazzDError) as error:
        WJazzDSource(path).load()
    assert str(error.value) == (
        f"{path}: every one of the 4 notes of the 2 selected solos was dropped "
        "(dropped_pitch_outside_1_127: 4)"
    )


def test_training_windows_of_silence_are_refused_by_the_jazz_module():
    silent = [make_sheet(i).with_(pitches=np.zeros_like(make_sheet(i).pitches)) for i in range(6)]
    module = LeadSheetDataModule(ListSource(silent, "silent"), transpositions=[0], use_cache=False)
    with pytest.raises(ValueError, match=r"^ListSource: the training split has \d+ windows but not one note"):
        module.setup()


def test_scores_without_notes_are_refused_by_the_sequence_module():
    nothing = np.zeros(0)
    empty = [PianoScore(f"p{i}", nothing, nothing, nothing.astype(int), group=f"p{i}") for i in range(4)]
    module = SequenceDataModule(ListSource(empty, "empty"), transpositions=[0], use_cache=False)
    with pytest.raises(ValueError, match=r"^ListSource: the training split has no tokens"):
        module.setup()


def test_a_chorale_limit_of_zero_is_refused_instead_of_reading_all_chorales(capsys):
    line = stats_error(["data.source.limit=0"], capsys)
    assert line == "error: data.source: limit=0: expected at least 1 chorale (null = all of them)"


# -- unreadable, symlinked and special MIDI files ----------------------------------------------


def three_songs(folder: Path) -> Path:
    for i in range(3):
        write_song(folder / f"song{i}.mid", notes=[(b * 0.5, 0.5, 60 + i + b % 5) for b in range(16)])
    return folder


def skipped(report: dict) -> dict[str, str]:
    return {entry["file"]: entry["reason"] for entry in report["files_skipped"]}


def test_a_file_that_cannot_be_read_is_skipped_and_reported_not_fatal(tmp_path, monkeypatch):
    folder = three_songs(tmp_path / "midi")
    write_song(folder / "locked.mid")
    real_open = Path.open

    def permission_denied(self, *args, **kwargs):
        if self.name == "locked.mid":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", permission_denied)
    source = MidiFolderSource(folder, workers=0, progress=False)
    assert ["locked.mid", "unreadable: Permission denied"] in source.fingerprint()["files"]
    scores, report = source.load()
    assert skipped(report) == {"locked.mid": "unreadable: Permission denied"}
    assert sorted(s.id for s in scores) == ["song0.mid", "song1.mid", "song2.mid"]


@NEEDS_PERMISSIONS
def test_a_file_without_read_permission_is_skipped_and_reported(tmp_path):
    folder = three_songs(tmp_path / "midi")
    locked = write_song(folder / "locked.mid")
    locked.chmod(0)
    source = MidiFolderSource(folder, workers=0, progress=False)
    source.fingerprint()
    assert skipped(source.load()[1]) == {"locked.mid": "unreadable: Permission denied"}


def test_a_broken_symlink_and_a_fifo_are_reported_and_the_fifo_never_blocks(tmp_path):
    folder = three_songs(tmp_path / "midi")
    (folder / "broken.mid").symlink_to(tmp_path / "gone.mid")
    (folder / "linked.mid").symlink_to(folder / "song0.mid")
    os.mkfifo(folder / "pipe.mid")

    def blocked(signum, frame):
        raise TimeoutError("reading the folder blocked on the FIFO")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(60)
    try:
        source = MidiFolderSource(folder, workers=0, progress=False)
        source.fingerprint()
        scores, report = source.load()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert skipped(report) == {
        "broken.mid": "broken symlink: its target does not exist",
        "pipe.mid": "not a regular file: a FIFO",
    }
    assert report["files_found"] == 6 and report["files_read"] == 4


def test_a_folder_holding_only_special_files_says_what_it_skipped(tmp_path):
    (tmp_path / "broken.mid").symlink_to(tmp_path / "gone.mid")
    os.mkfifo(tmp_path / "pipe.mid")
    with pytest.raises(ValueError) as error:
        MidiFolderSource(tmp_path, workers=0, progress=False).load()
    assert str(error.value) == (
        f"no usable MIDI files in {tmp_path}: 2 skipped (1 broken symlink, 1 not a regular file)"
    )


# -- duplicates --------------------------------------------------------------------------------


def test_copies_under_two_names_share_one_split_and_are_reported(tmp_path):
    folder = three_songs(tmp_path / "midi")
    shutil.copy(folder / "song1.mid", folder / "copy_of_1.mid")
    (folder / "more").mkdir()
    shutil.copy(folder / "song1.mid", folder / "more" / "again.mid")
    scores, report = MidiFolderSource(folder, workers=0, progress=False).load()
    assert report["duplicates"] == {
        "copies": 2,
        "groups": [["copy_of_1.mid", "more/again.mid", "song1.mid"]],
    }
    groups = {s.id: s.group for s in scores}
    assert groups["song1.mid"] == groups["more/again.mid"] == groups["copy_of_1.mid"] == "copy_of_1.mid"
    assert len(set(groups.values())) == 3


def test_duplicates_never_reach_validation_or_test_apart_from_their_copies(tmp_path):
    folder = tmp_path / "midi"
    for i in range(10):
        song = write_song(folder / f"song{i}.mid", notes=[(b * 0.5, 0.5, 50 + i + b % 7) for b in range(16)])
        shutil.copy(song, folder / f"dup{i}.mid")
    module = SequenceDataModule(
        MidiFolderSource(folder, workers=0, progress=False), transpositions=[0], context=4,
        val_fraction=0.2, test_fraction=0.2, use_cache=False,
    )  # fmt: skip
    module.setup()
    assert module.report["source"]["duplicates"]["copies"] == 10
    assert module.report["sources_per_split"] == {"train": 12, "val": 4, "test": 4}


# -- the WJD opened truly read-only -----------------------------------------------------------


def wal_database(folder: Path) -> Path:
    folder.mkdir()
    path = make_wjd_db(folder / "wal.db")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    return path


def test_a_plain_read_only_open_of_a_wal_database_writes_beside_it(tmp_path):
    """The control: what the probe saw before ``immutable=1`` (SQLite's own behaviour)."""
    path = wal_database(tmp_path / "plain")
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    db.execute("SELECT count(*) FROM melody").fetchone()
    assert {p.name for p in path.parent.iterdir()} > {"wal.db"}
    db.close()


def test_a_wal_database_in_a_read_only_folder_reads_and_leaves_nothing_beside_it(tmp_path):
    path = wal_database(tmp_path / "wjd")
    path.parent.chmod(0o555)
    try:
        source = WJazzDSource(path)
        source.fingerprint()
        sheets, report = source.load()
        assert report["solos"] == 2 and len(sheets) == 2
        assert [p.name for p in path.parent.iterdir()] == ["wal.db"]
    finally:
        path.parent.chmod(0o755)


def test_a_non_sqlite_file_in_a_read_only_folder_is_diagnosed_as_such(tmp_path):
    folder = tmp_path / "wjd"
    folder.mkdir()
    (folder / "notes.db").write_text("these are my notes, not a database\n" * 20)
    folder.chmod(0o555)
    try:
        with pytest.raises(WJazzDError, match=r"notes\.db is not an SQLite database"):
            WJazzDSource(folder / "notes.db").load()
        assert [p.name for p in folder.iterdir()] == ["notes.db"]
    finally:
        folder.chmod(0o755)


def test_changes_still_in_the_write_ahead_log_are_refused_not_silently_ignored(tmp_path):
    path = wal_database(tmp_path / "wjd")
    writer = sqlite3.connect(path)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("DELETE FROM melody")
        writer.commit()
        with pytest.raises(WJazzDError, match=r"write-ahead log wal\.db-wal holds changes"):
            WJazzDSource(path).load()
    finally:
        writer.close()


def test_a_folder_given_as_the_database_is_called_a_folder(tmp_path, capsys):
    line = stats_error(["data=wjazzd", f"data.path={tmp_path}"], capsys)
    assert line == (
        f"error: {tmp_path} is a folder, but the Weimar Jazz Database is a file: give the path "
        "of wjazzd.db"
    )


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("UPDATE melody SET pitch = 'abc' WHERE melid = 1", "table melody, column pitch, melid 1: 'abc'"),
        ("UPDATE beats SET bar = NULL WHERE melid = 5", "table beats, column bar, melid 5: NULL"),
    ],
    ids=["text-pitch", "null-bar"],
)
def test_a_value_that_is_not_a_number_names_table_column_and_solo(statement, expected, tmp_path):
    path = wjd(tmp_path, statement)
    with pytest.raises(WJazzDError) as error:
        WJazzDSource(path).load()
    assert str(error.value) == f"{path}: {expected} is not a number"


# -- MIDI path that is a file -----------------------------------------------------------------


def test_a_midi_file_given_as_the_folder_is_called_a_file(tmp_path, capsys):
    song = write_song(tmp_path / "8.mid")
    line = stats_error(["model=mary", "data=midi", f"data.path={song}"], capsys)
    assert line == (
        f"error: {song} is a file, but a MIDI folder is expected: give the folder that holds the "
        ".mid/.midi files"
    )


# -- a damaged cache in a read-only cache folder ----------------------------------------------


def damaged_cache(name: str) -> tuple[CountingSource, Path, dict]:
    source = CountingSource(name)
    first = sequence_module(source)
    first.setup()
    path = cache.cache_path(first.namespace, first.cache_key())
    path.write_bytes(path.read_bytes()[:100])
    return source, path, first.model_inputs()


def prepared_again_with_one_warning(source, path, expected, capsys) -> None:
    capsys.readouterr()
    again = sequence_module(source)
    again.setup()
    warnings = capsys.readouterr().err.strip().splitlines()
    assert source.loads == 2 and again.model_inputs() == expected
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: cannot write the cache in {path.parent}")


def test_a_damaged_cache_that_cannot_be_replaced_is_prepared_again_in_memory(monkeypatch, capsys):
    source, path, expected = damaged_cache("read-only-cache")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    prepared_again_with_one_warning(source, path, expected, capsys)


@NEEDS_PERMISSIONS
def test_a_damaged_cache_in_a_read_only_folder_is_prepared_again_in_memory(capsys):
    source, path, expected = damaged_cache("read-only-cache-chmod")
    path.parent.chmod(0o555)
    try:
        prepared_again_with_one_warning(source, path, expected, capsys)
    finally:
        path.parent.chmod(0o755)


# -- long inputs echoed in errors -------------------------------------------------------------


def test_a_progression_typed_without_spaces_gives_a_short_line_naming_the_bar():
    with pytest.raises(ValueError) as joined:  # chords run together read one by one: too many
        resolve_chords("Cj7 | " + "C7," * 5000)
    assert str(joined.value) == "chords: bar 2 has 5000 chords but only 4 beats"
    with pytest.raises(ChordParseError) as error:  # no split reads: the whole word is named
        resolve_chords("Cj7 | " + "Cq7," * 5000)
    message = str(error.value)
    assert len(message) < 200 and "… (20002 characters): bar 2," in message


def test_no_error_line_is_longer_than_a_screenful():
    line = one_line(ValueError("chords=" + "C7 | " * 8000 + "is too long"))
    assert len(line) <= 400 and line.endswith("(40018 characters)")


@pytest.mark.parametrize(
    "data, make, expected",
    [
        ("wjazzd", lambda p: p / "missing.db", "Weimar Jazz Database not found: {path}"),
        (
            "wjazzd",
            lambda p: p,
            "{path} is a folder, but the Weimar Jazz Database is a file: give the path of wjazzd.db",
        ),
        ("midi", lambda p: p / "missing", "MIDI folder not found: {path}"),
        ("midi", lambda p: p, "no .mid/.midi files under {path}"),
    ],
    ids=["missing-wjd", "wjd-path-is-a-folder", "missing-midi-folder", "empty-midi-folder"],
)
def test_data_paths_that_hold_no_data_are_named(data, make, expected, tmp_path, capsys):
    path = make(tmp_path)
    line = stats_error(["model=mary", f"data={data}", f"data.path={path}"], capsys)
    assert line == "error: " + expected.format(path=path)


def test_a_data_config_without_its_path_asks_for_it(capsys):
    assert stats_error(["data=wjazzd"], capsys) == (
        "error: data.path is not set: add data.path=... to the command"
    )
