"""Chord inputs for sampling (musicgen.sampling.progressions): typed bars, named progressions, keys."""

from __future__ import annotations

import pytest

from musicgen.sampling.progressions import parse_progression, resolve_chords


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
