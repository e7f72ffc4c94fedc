import numpy as np
import pytest

from musicgen.music.chords import parse_chord
from musicgen.music.records import REST, LeadSheet, PianoScore
from musicgen.music.transpose import fold_into_range, transpose_lead_sheet, transpose_score


def _sheet() -> LeadSheet:
    return LeadSheet(
        id="wjazzd:7",
        pitches=np.array([60, REST, 67, 70, 58]),
        durations=np.array([12, 12, 24, 24, 24]),
        chords=("C-7", "F7", "Bbj7", "Bb-7/Eb"),
        group="wjazzd:7",
        meta={"title": "x"},
    )


@pytest.mark.parametrize("semitones", range(-6, 7))
def test_transpose_keeps_chords_and_melody_aligned(semitones):
    sheet = _sheet()
    copy = transpose_lead_sheet(sheet, semitones, low=36, high=96)
    assert np.array_equal(copy.durations, sheet.durations)
    assert len(copy.chords) == len(sheet.chords)
    sounding = sheet.pitches != REST
    assert np.array_equal(copy.pitches[~sounding], sheet.pitches[~sounding])
    assert np.all(copy.pitches[sounding] - sheet.pitches[sounding] == semitones)
    for before, after in zip(sheet.chords, copy.chords, strict=True):
        old, new = parse_chord(before), parse_chord(after)
        assert new.quality == old.quality
        assert (new.root - old.root) % 12 == semitones % 12
        assert new.bass == (None if old.bass is None else (old.bass + semitones) % 12)


def test_transposed_copy_gets_suffixed_id_and_keeps_group():
    copy = transpose_lead_sheet(_sheet(), 3)
    assert copy.id == "wjazzd:7@+3" and copy.group == "wjazzd:7"
    assert transpose_lead_sheet(_sheet(), -2).id == "wjazzd:7@-2"
    assert transpose_lead_sheet(_sheet(), 0).id == "wjazzd:7"
    assert copy.meta["title"] == "x" and copy.meta["transposition"] == 3


def test_out_of_range_notes_fold_by_octaves_or_drop_the_copy():
    folded = transpose_lead_sheet(_sheet(), 6, low=48, high=72)
    assert folded.pitches.tolist() == [66, REST, 61, 64, 64]
    assert folded.meta["folded"] == 2
    assert transpose_lead_sheet(_sheet(), 6, low=48, high=72, policy="drop") is None
    assert transpose_lead_sheet(_sheet(), 0, low=48, high=72, policy="drop") is not None


def test_unknown_chord_token_survives_transposition():
    sheet = _sheet().with_(chords=("C7", "<unk>", "NC", "F7"))
    assert transpose_lead_sheet(sheet, 2).chords == ("D7", "<unk>", "NC", "G7")


def test_fold_keeps_pitch_class_and_lands_in_range():
    pitches = np.arange(0, 128)
    folded = fold_into_range(pitches, 40, 51)
    assert np.all((folded >= 40) & (folded <= 51))
    assert np.array_equal(folded % 12, pitches % 12)
    with pytest.raises(ValueError, match="narrower than an octave"):
        fold_into_range(pitches, 40, 50)


def test_bad_policy_is_rejected():
    with pytest.raises(ValueError, match="policy"):
        transpose_lead_sheet(_sheet(), 1, policy="clip")


def test_transpose_score_moves_pitches_only():
    score = PianoScore("midi:a", np.array([0.0, 0.5]), np.array([1.0, 0.5]), np.array([21, 108]))
    up = transpose_score(score, 5)
    assert up.pitches.tolist() == [26, 113] and up.id == "midi:a@+5"
    assert np.array_equal(up.onsets, score.onsets) and np.array_equal(up.durations, score.durations)
    assert transpose_score(score, 24, policy="drop") is None
    assert transpose_score(score, 24).pitches.tolist() == [45, 120]
