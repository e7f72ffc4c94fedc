import json
import sqlite3

import numpy as np
import pytest
from helpers import WJD_SCHEMA, make_wjd_db, run_stats, stats_error

from musicgen.data.wjazzd import (
    WJazzDError,
    WJazzDSource,
    read_solo,
    solo_ids,
    solo_progression,
)
from musicgen.music.chords import ChordParseError, parse_chord
from musicgen.music.records import REST
from musicgen.music.transpose import transpose_lead_sheet
from musicgen.paths import shared_data_dir


@pytest.fixture
def tiny_db(tmp_path):
    return make_wjd_db(tmp_path / "tiny.db")


def test_solo_starts_on_a_bar_line_with_forward_filled_chords_to_the_end_of_the_bar(tiny_db):
    sheet = read_solo(tiny_db, 1)
    # two lead-in beats (solo starts on beat 3), seven annotated beats, three to close bar 2
    assert sheet.chords == ("NC",) * 4 + ("Bb6",) * 2 + ("G79b",) * 6
    assert sheet.durations.sum() == len(sheet.chords) * sheet.ticks_per_beat
    assert solo_progression(tiny_db, 1) == list(sheet.chords)


def test_notes_land_on_the_beat_grid_with_rests_between(tiny_db):
    sheet = read_solo(tiny_db, 1, ticks_per_beat=4)
    # 1.0 s = beat 2 (after the 2-beat lead-in), 0.5 s per beat, 4 ticks per beat
    notes = [
        (int(o), int(p), int(d))
        for o, p, d in zip(sheet.onsets, sheet.pitches, sheet.durations, strict=True)
    ]
    assert notes == [
        (0, REST, 8), (8, 70, 2), (10, REST, 4), (14, 72, 2), (16, 74, 2), (18, REST, 8),
        (26, 65, 8), (34, REST, 14),
    ]  # fmt: skip
    assert sheet.meta["melid"] == 1
    assert sheet.id == "wjazzd:1" and sheet.group == "wjazzd:1"
    assert sheet.meta["template"] == "I Got Rhythm" and sheet.meta["melid"] == 1


def test_each_selection_step_is_counted_in_the_report(tiny_db):
    sheets, report = WJazzDSource(tiny_db, max_choruses=7).load()
    assert [s.id for s in sheets] == ["wjazzd:1", "wjazzd:5"]
    assert report["solos_in_file"] == 5
    assert report["solos_after_signature_filter"] == 4
    assert report["solos_after_chorus_filter"] == 3
    assert report["solos_skipped_beats_not_in_signature"] == [4]
    assert report["solos"] == 2 and report["notes_in"] == 4 and report["note_events"] == 4
    _, everything = WJazzDSource(tiny_db, max_choruses=None).load()
    assert everything["solos"] == 3


def test_unparseable_chord_raises_naming_symbol_and_melid_or_becomes_unk(tmp_path):
    path = make_wjd_db(tmp_path / "bad.db", bad_chord=True)
    with pytest.raises(ChordParseError, match=r"'Gxyz'.*melid 1, bar 1, beat 3"):
        WJazzDSource(path).load()
    sheets, report = WJazzDSource(path, unknown_chords="unk").load()
    assert report["unparsed_chords"] == {"Gxyz": 1}
    assert sheets[0].chords[-1] == "<unk>"


def test_long_notes_split_into_bounded_durations(tiny_db):
    sheet = read_solo(tiny_db, 1, ticks_per_beat=4, max_duration_beats=1)
    assert sheet.durations.max() <= 4
    assert sheet.durations.sum() == len(sheet.chords) * 4


def test_non_wjd_sqlite_names_the_missing_table(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE melody (melid INTEGER, onset REAL, pitch REAL, duration REAL)")
    with pytest.raises(WJazzDError, match="no table 'beats'"):
        WJazzDSource(path).load()


def test_missing_column_and_non_sqlite_file_give_clear_errors(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(WJD_SCHEMA.replace('"chord" TEXT,', ""))
    with pytest.raises(WJazzDError, match=r"beats lacks \['chord'\]"):
        solo_ids(path)
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, just some text " * 10)
    with pytest.raises(WJazzDError, match="not an SQLite database"):
        solo_ids(text)
    with pytest.raises(FileNotFoundError, match="nowhere.db"):
        solo_ids(tmp_path / "nowhere.db")


def test_solo_ids_select_by_template_and_signature(tiny_db):
    assert solo_ids(tiny_db, template="I Got Rhythm") == [1]
    assert solo_ids(tiny_db, template="Blues") == [3, 4, 5]
    assert solo_ids(tiny_db, signature=None) == [1, 2, 3, 4, 5]


def test_fingerprint_follows_file_content_and_settings(tiny_db, tmp_path):
    other = make_wjd_db(tmp_path / "bad.db", bad_chord=True)
    base = WJazzDSource(tiny_db).fingerprint()
    assert WJazzDSource(tiny_db).fingerprint() == base
    assert WJazzDSource(other).fingerprint() != base
    assert WJazzDSource(tiny_db, ticks_per_beat=12).fingerprint() != base


def test_stats_command_prints_the_source_report_as_json(tiny_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICGEN_CACHE_DIR", str(tmp_path / "cache"))
    run_stats(["data=wjazzd", f"data.path={tiny_db}", "data.source.max_choruses=null"])
    report = json.loads(capsys.readouterr().out)
    assert report["source"]["solos"] == 3
    assert report["source"]["solos_skipped_beats_not_in_signature"] == [4]


# -- the shared database ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_db():
    path = shared_data_dir() / "wjazzd" / "wjazzd.db"
    if not path.exists():
        pytest.skip(f"shared Weimar Jazz Database not found at {path}")
    return path


@pytest.fixture(scope="module")
def shared_sheets(shared_db):
    return WJazzDSource(shared_db, max_choruses=None).load()


def _source_beat_positions(db_path, melid):
    """Note onsets in beats from the lead sheet's origin, computed straight from the tables."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        beats = db.execute(
            "SELECT onset, beat FROM beats WHERE melid = ? ORDER BY onset", (melid,)
        ).fetchall()
        notes = db.execute(
            "SELECT onset, pitch FROM melody WHERE melid = ? ORDER BY onset", (melid,)
        ).fetchall()
    beat_onsets = np.array([b[0] for b in beats])
    onsets = np.array([n[0] for n in notes])
    positions = np.interp(onsets, beat_onsets, np.arange(len(beats)))
    return positions + beats[0][1] - 1, np.array([n[1] for n in notes], dtype=int)


def test_shared_db_quantization_round_trip_keeps_notes_within_half_a_grid_step(
    shared_db, shared_sheets
):
    sheets, report = shared_sheets
    assert report["solos"] > 400 and report["unparsed_chords"] == {}
    within = total = 0
    for sheet in sheets[::10]:
        positions, pitches = _source_beat_positions(shared_db, sheet.meta["melid"])
        sounding = sheet.pitches != REST
        onsets = sheet.onsets[sounding] / sheet.ticks_per_beat
        for position, pitch in zip(positions, pitches, strict=True):
            close = np.abs(onsets - position) <= 0.5 / sheet.ticks_per_beat + 1e-9
            within += bool(np.any(close & (sheet.pitches[sounding] == pitch)))
            total += 1
    assert total > 10_000
    assert within / total >= 0.99


def test_shared_db_rests_fill_every_gap_and_bars_are_whole(shared_sheets):
    sheets, _ = shared_sheets
    for sheet in sheets:
        assert sheet.durations.sum() == sheet.num_beats * sheet.ticks_per_beat, sheet.id
        assert sheet.num_beats % sheet.beats_per_bar == 0, sheet.id
        assert np.all(sheet.durations > 0), sheet.id


def test_shared_db_transposed_solo_keeps_melody_and_chords_aligned(shared_db):
    sheet = read_solo(shared_db, 1)
    copy = transpose_lead_sheet(sheet, 5, low=1, high=127)
    sounding = sheet.pitches != REST
    assert np.all(copy.pitches[sounding] - sheet.pitches[sounding] == 5)
    for before, after in zip(sheet.chords, copy.chords, strict=True):
        if before != "NC":
            assert (parse_chord(after).root - parse_chord(before).root) % 12 == 5


def test_shared_db_has_rhythm_changes_solos(shared_db):
    melids = solo_ids(shared_db, template="I Got Rhythm")
    assert len(melids) >= 14
    progression = solo_progression(shared_db, melids[0])
    assert len(progression) % 4 == 0 and any(parse_chord(c).quality == "-7" for c in progression)


def test_an_sqlite_file_of_another_schema_names_the_missing_table(tmp_path, capsys):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE melody (melid INTEGER, onset REAL, pitch REAL, duration REAL)")
    line = stats_error(["data=wjazzd", f"data.path={path}"], capsys)
    assert line == f"error: {path} is not a Weimar Jazz Database: no table 'beats'"


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (
            ["data.source.signature=7/4"],
            "no solo left after the signature filter (signature=7/4; the file has 4/4: 4, 3/4: 1)",
        ),
        (
            ["data.source.max_choruses=0"],
            "no solo left after the chorus filter (max_choruses=0; 4 4/4 solos have more)",
        ),
        (
            ["data.source.max_choruses=1"],
            "no solo left after the beat-grid check: all 1 selected solos have bars that are not "
            "4/4 in their beats",
        ),
    ],
    ids=["signature", "choruses", "beat-grid"],
)
def test_wjd_filters_that_leave_nothing_say_which_filter(overrides, expected, tmp_path, capsys):
    db = make_wjd_db(tmp_path / "tiny.db")
    assert (
        stats_error(["data=wjazzd", f"data.path={db}", *overrides], capsys) == f"error: {expected}"
    )
