"""Chord inputs a user types or keeps in a file, including the chord-changes notation of jazz databases."""

from __future__ import annotations

import pytest

from musicgen.music.chords import ChordParseError
from musicgen.sampling.progressions import parse_progression, resolve_chords

CHANGES = "A1: ||G- |G- |F7 |Bb7 ||\nB: ||Eb7 D7 |G-   ||"


def test_chord_changes_notation_reads_section_labels_and_double_bars_as_bars():
    beats = parse_progression(CHANGES)
    assert beats == ["G-"] * 8 + ["F7"] * 4 + ["Bb7"] * 4 + ["Eb7", "Eb7", "D7", "D7"] + ["G-"] * 4


def test_a_text_file_of_bars_is_read_with_its_section_labels(tmp_path):
    tune = tmp_path / "tune.txt"
    tune.write_text(CHANGES)
    assert resolve_chords(str(tune), choruses=2) == parse_progression(CHANGES) * 2


def test_a_bad_chord_in_a_file_names_the_file_and_the_bar(tmp_path):
    tune = tmp_path / "tune.txt"
    tune.write_text("A: || C7 | F7 |\nB: || Xyz7 ||")
    with pytest.raises(ChordParseError, match=r"Xyz7.*tune\.txt, bar 3"):
        resolve_chords(str(tune))


def test_a_missing_chord_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"chords=.*nothere\.txt: no such file"):
        resolve_chords(str(tmp_path / "nothere.txt"))


def test_chords_written_without_spaces_are_split_where_a_new_root_starts():
    assert parse_progression("Gj7F7E7 | A-7Ab7G-7C7 | Bb7NC | G6/D G7") == [
        "Gj7", "Gj7", "F7", "E7", "A-7", "Ab7", "G-7", "C7", "Bb7", "Bb7", "NC", "NC",
        "G6/D", "G6/D", "G7", "G7",
    ]
    with pytest.raises(ChordParseError, match="Gj7Xq"):
        parse_progression("Gj7Xq")


def test_every_chord_changes_field_of_the_shared_wjd_reads(shared_data):
    import sqlite3

    db = shared_data / "wjazzd" / "wjazzd.db"
    with sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True) as con:
        rows = con.execute("SELECT melid, chord_changes, signature FROM solo_info").fetchall()
    assert len(rows) > 400
    for melid, changes, signature in rows:
        beats_per_bar = int(signature.split("/")[0]) if signature and "/" in signature else 4
        assert parse_progression(changes, beats_per_bar), melid


@pytest.mark.parametrize(
    "text",
    [
        "Bb6 G7 | C-7 F7",
        "Bb6 G7|C-7 F7",
        " Bb6  G7 | | C-7\tF7 ",
        "Bb6 G7\nC-7 F7\n",
        "|Bb6 G7|\r\nC-7 F7|",
    ],
    ids=["spaced", "tight", "tabs-and-empty-bar", "newlines", "bar-lines-and-crlf"],
)
def test_bar_separators_and_whitespace_variants_read_the_same_progression(text):
    assert parse_progression(text) == ["Bb6", "Bb6", "G7", "G7", "C-7", "C-7", "F7", "F7"]


def test_a_line_break_ends_a_bar_instead_of_merging_two_bars():
    assert parse_progression("C7\nF7 G7") == ["C7"] * 4 + ["F7", "F7", "G7", "G7"]


def test_a_key_that_is_not_a_note_name_is_named():
    with pytest.raises(ValueError, match=r"^key=H: not a key name"):
        resolve_chords("blues", key="H")
