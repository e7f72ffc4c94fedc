import random
import sqlite3

import pytest

from musicgen.music.chords import (
    Chord,
    ChordParseError,
    canonical,
    parse_chord,
    transpose_chord,
)
from musicgen.paths import shared_data_dir

WJD_QUALITIES = (
    "7 -7 j7 m7b5 - 6 79b -6 o sus sus7 +7 79 o7 j7911# 79# 7alt sus7913 7911# -79 7913 -7911 69 "
    "-69 + -j7 j79 sus79 +79# 79b13b 7913b 79#11# -j7913 -j7911# -7913 79b13 +j7 6911# +79 "
    "+7911# 79#13 j79# -79b +79b j79#11# 7911"
).split()

# hand-checked chord tones (pitch classes) in both WJD and lead-sheet spellings
TONES = {
    "C": {0, 4, 7},
    "C-": {0, 3, 7},
    "Cm": {0, 3, 7},
    "C7": {0, 4, 7, 10},
    "C-7": {0, 3, 7, 10},
    "Cm7": {0, 3, 7, 10},
    "Fj7": {5, 9, 0, 4},
    "Fmaj7": {5, 9, 0, 4},
    "FΔ7": {5, 9, 0, 4},
    "Am7b5": {9, 0, 3, 7},
    "Aø7": {9, 0, 3, 7},
    "Bbo7": {10, 1, 4, 7},
    "Bbdim7": {10, 1, 4, 7},
    "Bbo": {10, 1, 4},
    "E7alt": {4, 8, 10, 0, 2},
    "C69": {0, 4, 7, 9},
    "C6/9": {0, 4, 7, 9},
    "Bb-7/Eb": {10, 1, 5, 8},
    "Cø7": {0, 3, 6, 10},
    "Cdim7": {0, 3, 6, 9},
    "C79#": {0, 4, 7, 10},
    "C7#9": {0, 4, 7, 10},
    "B+7": {11, 3, 7, 9},
    "C7#5": {0, 4, 8, 10},
    "Fsus7913": {5, 10, 0, 3},
    "C7sus4": {0, 5, 7, 10},
    "C-j7": {0, 3, 7, 11},
    "Cm(maj7)": {0, 3, 7, 11},
    "Gb-6": {6, 9, 1, 3},
    "Cm6": {0, 3, 7, 9},
    "Cb7": {11, 3, 6, 9},
    "A#-7": {10, 1, 5, 8},
    "NC": set(),
}

SAME_CHORD = {
    "C-7": ["Cm7", "Cmin7", "Cmi7", "C-7"],
    "Cj7": ["Cmaj7", "CM7", "CΔ7", "CΔ", "Cj7"],
    "C79#": ["C7#9", "C7(#9)", "C7+9"],
    "C79b": ["C7b9", "C7(b9)", "C7-9"],
    "C79b13b": ["C7(b9,b13)", "C7b9b13"],
    "Cm7b5": ["Cø7", "Cø", "Cm7b5", "C-7b5", "Cmin7b5"],
    "Co7": ["Cdim7", "C°7", "Co7"],
    "Co": ["Cdim", "C°"],
    "C+": ["Caug", "C+"],
    "C+7": ["C7+", "Caug7", "C7#5"],
    "C+j7": ["C+M7", "Cmaj7#5"],
    "C-": ["Cm", "Cmin"],
    "C": ["C", "Cmaj", "CM", "Cpower"],
    "C-6": ["Cm6"],
    "C79": ["C9", "Cdom9"],
    "C7913": ["C13"],
    "C7911#": ["C9#11", "C9(#11)"],
    "Cj79": ["Cmaj9", "CM9"],
    "C-79": ["Cm9"],
    "Csus": ["Csus4", "Csus"],
    "Csus7": ["C7sus4", "C7sus"],
    "Csus79": ["C9sus4"],
    "C-j7": ["Cm(maj7)", "CmM7", "Cminmaj7", "C-Δ7"],
    "C69": ["C6/9", "C69"],
    "NC": ["NC", "N.C.", "N.C", "Cpedal"],
    "Bb-7/Eb": ["Bbm7/Eb", "A#-7/D#", "Bbmin7/Eb"],
}


@pytest.mark.parametrize("symbol", sorted(TONES))
def test_chord_tones_match_hand_checked_table(symbol):
    assert set(parse_chord(symbol).tones) == TONES[symbol]
    assert len(parse_chord(symbol).tones) == len(TONES[symbol])


def test_root_is_first_chord_tone_and_slash_bass_is_kept_apart():
    chord = parse_chord("Bb-7/Eb")
    assert chord.tones[0] == chord.root == 10
    assert chord.bass == 3
    assert chord.symbol == "Bb-7/Eb"


@pytest.mark.parametrize("target", sorted(SAME_CHORD))
def test_lead_sheet_spellings_map_to_the_wjd_canonical_chord(target):
    assert {canonical(s) for s in SAME_CHORD[target]} == {target}


@pytest.mark.parametrize("quality", WJD_QUALITIES)
def test_every_wjd_quality_parses_and_is_its_own_canonical_form(quality):
    assert canonical("Bb" + quality) == "Bb" + quality


def test_tensions_follow_the_wjd_number_then_accidental_order():
    assert parse_chord("Bb79b").tensions == (11,)
    assert parse_chord("Ebj7911#").tensions == (5, 9)
    assert parse_chord("C79b13").tensions == (1, 9)  # WJD reading wins over 7(9, b13)
    assert parse_chord("C79b13b").tensions == (1, 8)


@pytest.mark.parametrize(
    "symbol, scale",
    [
        ("G7", {7, 9, 11, 0, 2, 4, 5}),  # mixolydian
        ("D-7", {2, 4, 5, 7, 9, 11, 0}),  # dorian
        ("Cj7", {0, 2, 4, 5, 7, 9, 11}),  # ionian
        ("Bm7b5", {11, 0, 2, 4, 5, 7, 9}),  # locrian
        ("G7alt", {7, 8, 10, 11, 1, 3, 5}),  # altered
        ("Co7", {0, 2, 3, 5, 6, 8, 9, 11}),  # whole-half
    ],
)
def test_chord_scales_follow_the_documented_table(symbol, scale):
    assert set(parse_chord(symbol).scale) == scale


def test_transpose_chord_moves_root_and_bass_and_spells_with_flats():
    assert transpose_chord("Bb-7/Eb", 3) == "Db-7/Gb"
    assert transpose_chord("F#7", 0) == "Gb7"
    assert transpose_chord("E7alt", -4) == "C7alt"
    assert transpose_chord("NC", 5) == "NC"
    for n in range(-12, 13):
        back = transpose_chord(transpose_chord("Ebj7911#/G", n), -n)
        assert back == "Ebj7911#/G"


@pytest.mark.parametrize(
    "symbol",
    ["", "H7", "c7", "C/", "C/H", "Csus2", "Cadd9", "C7b5", "C7alt9", "C7b11", "Co6", "C6j7"],
)
def test_bad_symbols_raise_chord_parse_error_naming_the_symbol(symbol):
    with pytest.raises(ChordParseError) as error:
        parse_chord(symbol)
    assert error.value.symbol == symbol
    assert repr(symbol) in str(error.value)


def test_non_string_raises_chord_parse_error():
    with pytest.raises(ChordParseError):
        parse_chord(7)  # type: ignore[arg-type]


def test_random_strings_only_parse_or_raise_chord_parse_error():
    rng = random.Random(0)
    alphabet = "ABCDEFGHabcdefgmjo-+#/()0123456789,. NCsuadlti°øΔ♭♯\n"
    parsed = 0
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        if rng.random() < 0.5:
            text = rng.choice("ABCDEFG") + rng.choice(["", "b", "#"]) + text
        try:
            result = parse_chord(text)
        except ChordParseError:
            continue
        assert isinstance(result, Chord)
        assert canonical(result.symbol) == result.symbol
        parsed += 1
    assert parsed > 100  # the fuzz reaches the parser's success paths too


def _shared_db():
    path = shared_data_dir() / "wjazzd" / "wjazzd.db"
    if not path.exists():
        pytest.skip(f"shared Weimar Jazz Database not found at {path}")
    return path


def test_every_chord_in_the_shared_database_parses_with_tones_inside_its_scale():
    with sqlite3.connect(f"file:{_shared_db()}?mode=ro", uri=True) as db:
        symbols = [r[0] for r in db.execute("SELECT DISTINCT chord FROM beats WHERE chord != ''")]
    assert len(symbols) > 400
    for symbol in symbols:
        chord = parse_chord(symbol)
        assert set(chord.tones) | set(chord.tensions) <= set(chord.scale) or chord.is_nc, symbol
