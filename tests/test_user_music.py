"""The user's own music as input: lead-sheet files for ``chords=``, MIDI phrases for ``primer=``.

Every file is written by the test itself: by musicgen's own MIDI and MusicXML writers (what a
user gets from ``sample.py`` reads back as the same chords), or by hand in the forms notation
programs export (degrees, offsets, backups, compressed ``.mxl``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from musicgen.music.records import LeadSheet, PianoScore
from musicgen.render.midi import lead_sheet_to_midi
from musicgen.render.musicxml import lead_sheet_to_musicxml
from musicgen.sampling.progressions import resolve_chords
from musicgen.sampling.user_music import (
    LeadSheetFileError,
    lead_sheet_file_chords,
    phrase_melody,
    phrase_tokens,
    read_phrase,
)

CHANGES = "Gj7 | C7911# | F#m7b5 B79b | E-7 A713 | D7alt | Ab+7 | Bb-j7 | Csus7 | NC | Eo7 G-6 | F6 | C/E"


def _sheet(chords: list[str]) -> LeadSheet:
    bars = len(chords) // 4
    return LeadSheet("tune", np.array([60, 0, 62, 64] * bars), np.array([12, 12, 24, 48] * bars), tuple(chords))


@pytest.mark.parametrize("suffix", [".mid", ".musicxml"])
def test_a_lead_sheet_written_by_musicgen_reads_back_as_the_same_chords(suffix, tmp_path):
    chords = resolve_chords("rhythm_changes")[:16] + resolve_chords(CHANGES)
    write = lead_sheet_to_midi if suffix == ".mid" else lead_sheet_to_musicxml
    path = write(_sheet(chords), tmp_path / f"tune{suffix}")
    assert resolve_chords(str(path)) == chords


def _musicxml(measures: str, time: str = "<time><beats>4</beats><beat-type>4</beat-type></time>") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Lead</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>2</divisions>{time}</attributes>{measures}</part></score-partwise>"""


def _harmony(step: str, kind: str, alter: int = 0, extra: str = "") -> str:
    return (f"<harmony><root><root-step>{step}</root-step><root-alter>{alter}</root-alter></root>"
            f"<kind>{kind}</kind>{extra}</harmony>")


def _note(divisions: int, chord: bool = False) -> str:
    return f"<note>{'<chord/>' if chord else ''}<pitch><step>C</step><octave>5</octave></pitch><duration>{divisions}</duration></note>"


def test_musicxml_harmony_degrees_offsets_and_voices_place_each_chord_on_its_beat(tmp_path):
    b9 = "<degree><degree-value>9</degree-value><degree-alter>-1</degree-alter><degree-type>add</degree-type></degree>"
    slash = "<bass><bass-step>E</bass-step></bass>"
    bar1 = (_harmony("D", "minor-seventh") + _note(4) + _note(4, chord=True)
            + _harmony("G", "dominant", extra=b9) + _note(4)
            + "<backup><duration>8</duration></backup>" + _note(8) + "</measure>")
    bar2 = ('<measure number="2">' + _harmony("C", "major-seventh", extra=slash) + _note(2)
            + _harmony("B", "major-sixth", alter=-1, extra="<offset>2</offset>") + _note(6)
            + "</measure>")
    bar3 = '<measure number="3">' + _harmony("C", "none") + _note(8) + "</measure>"
    path = tmp_path / "tune.musicxml"
    path.write_text(_musicxml(bar1 + bar2 + bar3))
    assert lead_sheet_file_chords(path, 4) == [
        "D-7", "D-7", "G79b", "G79b", "Cj7/E", "Cj7/E", "Bb6", "Bb6", "NC", "NC", "NC", "NC",
    ]
    compressed = tmp_path / "tune.mxl"
    with zipfile.ZipFile(compressed, "w") as archive:
        archive.writestr("META-INF/container.xml",
                         '<container><rootfiles><rootfile full-path="score.xml"/></rootfiles></container>')
        archive.writestr("score.xml", path.read_text())
    assert lead_sheet_file_chords(compressed, 4) == lead_sheet_file_chords(path, 4)


@pytest.mark.parametrize(
    "content, name, expected",
    [
        (_musicxml(_harmony("C", "major") + _note(6) + "</measure>",
                   "<time><beats>3</beats><beat-type>4</beat-type></time>"),
         "waltz.musicxml", "waltz.musicxml, bar 1: the time signature has 3 quarter-note beats a bar, but this model plays 4"),
        (_musicxml(_harmony("C", "suspended-second") + _note(8) + "</measure>"),
         "sus2.musicxml", "sus2.musicxml, bar 1: chord kind 'suspended-second' has no symbol musicgen knows"),
        (_musicxml(_harmony("H", "major") + _note(8) + "</measure>"),
         "h.musicxml", "h.musicxml, bar 1: a chord root or bass step 'H' is not A-G"),
        (_musicxml(_note(8) + "</measure>"), "melody.musicxml", "melody.musicxml: no chord symbols"),
        ("not xml at all", "broken.xml", "broken.xml: not MusicXML"),
        ("not a zip", "broken.mxl", "broken.mxl: not a compressed MusicXML (.mxl) file"),
        ("MThd garbage", "broken.mid", "broken.mid: not a readable MIDI file"),
    ],
    ids=["time-signature", "unknown-kind", "bad-root", "no-harmony", "not-xml", "not-zip", "not-midi"],
)
def test_a_lead_sheet_file_that_cannot_be_read_is_one_line_naming_it(content, name, expected, tmp_path):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(LeadSheetFileError) as error:
        lead_sheet_file_chords(path, 4)
    assert str(error.value).startswith(f"{tmp_path}/{expected}")
    assert "\n" not in str(error.value)


def _marked_midi(path: Path, texts: list[tuple[int, str, str]], numerator: int = 4) -> Path:
    midi = mido.MidiFile(ticks_per_beat=96)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=numerator, denominator=4)])
    now = 0
    for beat, kind, text in texts:
        track.append(mido.MetaMessage(kind, text=text, time=beat * 96 - now))
        now = beat * 96
    track.append(mido.Message("note_on", note=60, velocity=80, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=8 * 96 - now))
    midi.tracks.append(track)
    midi.save(str(path))
    return path


def test_midi_chord_markers_text_and_lyrics_are_read_and_other_texts_passed_over(tmp_path):
    path = _marked_midi(tmp_path / "tune.mid", [(0, "marker", "Verse"), (1, "marker", "Bb7"),
                                                (4, "text", "Eb7"), (6, "lyrics", "C-7 ")])
    assert lead_sheet_file_chords(path, 4) == ["NC", "Bb7", "Bb7", "Bb7", "Eb7", "Eb7", "C-7", "C-7"]
    with pytest.raises(LeadSheetFileError, match=r"waltz.mid, beat 0: the time signature has 3 quarter-note"):
        lead_sheet_file_chords(_marked_midi(tmp_path / "waltz.mid", [(0, "marker", "C")], numerator=3), 4)
    with pytest.raises(LeadSheetFileError, match=r"plain.mid: no chord symbols in its marker, text, cue or lyric"):
        lead_sheet_file_chords(_marked_midi(tmp_path / "plain.mid", [(0, "marker", "Intro")]), 4)


def test_chords_given_as_a_file_of_another_kind_or_missing_are_refused_by_name(tmp_path):
    with pytest.raises(LeadSheetFileError, match="chords=.*tune.musicxml: no such file"):
        resolve_chords(str(tmp_path / "tune.musicxml"))


def _phrase(path: Path, notes: list[tuple[int, float, float]]) -> Path:
    midi = pretty_midi.PrettyMIDI(initial_tempo=60)  # one second = one beat
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, pitch, start, end) for pitch, start, end in notes]
    midi.instruments.append(piano)
    midi.write(str(path))
    return path


def test_a_jazz_primer_is_the_phrases_top_line_on_the_models_grid_split_into_known_lengths(tmp_path):
    path = _phrase(tmp_path / "lick.mid", [(48, 0, 2), (64, 0, 0.5), (67, 0.5, 1.0), (72, 1.5, 4.5)])
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", "64:12", "67:12", "0:12", "72:48", "72:24"]
    assert phrase_melody(read_phrase(path), 24, vocab, "lick.mid") == ["64:12", "67:12", "0:12", "72:48", "72:24"]
    with pytest.raises(LeadSheetFileError, match=r"primer=low.mid: notes this model has no token for: pitch 30 for 24/24"):
        phrase_melody(read_phrase(_phrase(tmp_path / "low.mid", [(30, 0, 1)])), 24, vocab, "low.mid")


def test_a_piano_primer_names_the_tokens_the_model_never_saw_in_one_line(capsys):
    score = PianoScore("p", [0.0], [1.0], [60])
    ids = phrase_tokens(score, ["C4 1.0", "X9 1.0", "C4 1.0"], ["<pad>", "<bos>", "<eos>", "<unk>", "C4 1.0"], "p.mid")
    assert ids == [4, 3, 4]
    assert capsys.readouterr().out == "warning: primer=p.mid: 1 tokens the model never saw (read as <unk>): X9 1.0\n"


@pytest.mark.parametrize(
    "name, content, expected",
    [("phrase.txt", "C D E", "expected a MIDI file (.mid, .midi)"), ("missing.mid", None, "no such file"),
     ("empty.mid", "", "empty file")],
)
def test_a_primer_file_that_is_not_a_midi_phrase_is_one_line(name, content, expected, tmp_path):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(LeadSheetFileError) as error:
        read_phrase(path)
    assert str(error.value) == f"primer={path}: {expected}"
