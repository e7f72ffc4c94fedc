"""MIDI folders as a source (musicgen.data.midi): pieces in beats, and every unusable file skipped with its reason."""

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from helpers import SONG, TEMPO, note, raw_midi, run_stats, stats_error, write_bad_files, write_song

from musicgen.data.midi import MidiFolderSource
from musicgen.data.sequence import SequenceDataModule
from musicgen.data.tokenizers import make_tokenizer
from musicgen.paths import shared_data_dir


def notes_of(score) -> list[tuple[float, float, int]]:
    return sorted(zip(score.onsets.tolist(), score.durations.tolist(), score.pitches.tolist(),
                      strict=True))


def test_generated_midi_round_trips_through_source_and_paper_tokens(tmp_path):
    write_song(tmp_path / "song.mid")
    (score,), report = MidiFolderSource(tmp_path, workers=1, progress=False).load()
    tokenizer = make_tokenizer("paper", grid=4)
    decoded = tokenizer.decode(tokenizer.encode(score))
    on_grid = sorted((round(o * 4) / 4, round(d * 4) / 4, p) for o, d, p in SONG)
    assert notes_of(decoded) == on_grid
    assert report["files_read"] == 1 and report["notes"] == len(SONG)


def test_scores_are_in_beats_with_file_metadata(tmp_path):
    write_song(tmp_path / "sub" / "song.MID", tempo=TEMPO)
    (score,), _ = MidiFolderSource(tmp_path, workers=1, progress=False).load()
    np.testing.assert_allclose(score.onsets[:2], [0.0, 1.0], atol=1e-3)
    assert score.id == score.group == "sub/song.MID"
    assert score.meta["ticks_per_beat"] == 480
    assert score.meta["tempo"] == pytest.approx(TEMPO)
    assert score.meta["time_signature"] == "4/4"


def test_bad_files_are_skipped_with_reasons_and_good_files_still_load(tmp_path):
    write_song(tmp_path / "good.mid")
    expected = write_bad_files(tmp_path)
    scores, report = MidiFolderSource(tmp_path, workers=1, progress=False).load()
    assert [s.id for s in scores] == ["good.mid"]
    assert report["files_found"] == len(expected) + 1
    reasons = {entry["file"]: entry["reason"] for entry in report["files_skipped"]}
    assert set(reasons) == set(expected)
    for name, kind in expected.items():
        assert reasons[name].startswith(kind), (name, reasons[name])


def test_odd_but_usable_files_are_cleaned_and_counted(tmp_path):
    zero_length = note(60, 0) + note(62, 480)
    absurd_tempo = [(0, b"\xff\x51\x03\x00\x00\x01")] + note(64, 480)
    drums = [(0, bytes([0x99, 36, 100])), (240, bytes([0x89, 36, 0]))]
    (tmp_path / "zero_length.mid").write_bytes(raw_midi([zero_length, drums]))
    (tmp_path / "absurd_tempo.mid").write_bytes(raw_midi([absurd_tempo]))
    (tmp_path / "many_tracks.mid").write_bytes(raw_midi([note(40 + i % 40, 120) for i in range(3000)]))
    scores, report = MidiFolderSource(tmp_path, workers=1, progress=False).load()
    by_id = {s.id: s for s in scores}
    assert report["files_skipped"] == []
    assert report["notes_dropped"] == {"zero_length": 1, "pitch_out_of_range": 0, "drums": 1}
    assert by_id["zero_length.mid"].pitches.tolist() == [62]
    assert by_id["absurd_tempo.mid"].meta["tempo"] == 120.0
    assert len(by_id["many_tracks.mid"]) == 3000


def test_a_folder_with_nothing_usable_raises_one_line_error_counting_reasons(tmp_path):
    write_bad_files(tmp_path)
    with pytest.raises(ValueError) as error:
        MidiFolderSource(tmp_path, workers=1, progress=False).load()
    message = str(error.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "9 skipped" in message and "2 not MIDI" in message and "1 drums only" in message


def test_missing_or_empty_folder_is_an_error_naming_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        MidiFolderSource(tmp_path / "nowhere").load()
    (tmp_path / "notes.txt").write_text("no MIDI here")
    with pytest.raises(ValueError, match=f"no .mid/.midi files under {tmp_path}"):
        MidiFolderSource(tmp_path).load()


def test_non_recursive_source_ignores_subfolders(tmp_path):
    write_song(tmp_path / "top.mid")
    write_song(tmp_path / "deeper" / "inner.midi")
    flat = MidiFolderSource(tmp_path, recursive=False, workers=1, progress=False)
    assert [s.id for s in flat.load()[0]] == ["top.mid"]
    deep = MidiFolderSource(tmp_path, workers=1, progress=False)
    assert [s.id for s in deep.load()[0]] == ["deeper/inner.midi", "top.mid"]


def test_track_selection_keeps_only_named_or_numbered_tracks(tmp_path):
    midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120)
    for program, name, pitch in [(0, "right hand", 72), (33, "bass", 36)]:
        track = pretty_midi.Instrument(program=program, name=name)
        track.notes.append(pretty_midi.Note(90, pitch, 0.0, 0.5))
        midi.instruments.append(track)
    midi.write(str(tmp_path / "two.mid"))
    load = lambda tracks: MidiFolderSource(tmp_path, tracks=tracks, workers=1, progress=False).load()  # noqa: E731
    assert load(None)[0][0].pitches.tolist() == [36, 72]
    assert load(["right hand"])[0][0].pitches.tolist() == [72]
    assert load([33])[0][0].pitches.tolist() == [36]
    with pytest.raises(ValueError, match="1 no notes"):
        load(["violin"])


def test_worker_processes_give_the_same_scores_as_one_process(tmp_path):
    for i in range(6):
        write_song(tmp_path / f"song{i}.mid", notes=[(b, 1.0, 60 + i) for b in range(4)])
    write_bad_files(tmp_path / "bad")
    serial, serial_report = MidiFolderSource(tmp_path, workers=1, progress=False).load()
    parallel, parallel_report = MidiFolderSource(tmp_path, workers=2, progress=False).load()
    assert [notes_of(s) for s in parallel] == [notes_of(s) for s in serial]
    assert parallel_report == serial_report


def test_fingerprint_changes_when_a_file_changes(tmp_path):
    path = write_song(tmp_path / "song.mid")
    source = MidiFolderSource(tmp_path, progress=False)
    before = source.fingerprint()
    assert before == MidiFolderSource(tmp_path, workers=1, progress=False).fingerprint()
    write_song(path, notes=SONG[:3])
    assert source.fingerprint() != before
    assert MidiFolderSource(tmp_path, min_notes=5).fingerprint()["config"]["min_notes"] == 5


def test_shared_ff_midi_folder_loads_every_file():
    folder = shared_data_dir() / "ff_midi"
    if not folder.is_dir():
        pytest.skip(f"shared ff_midi data not found at {folder}")
    scores, report = MidiFolderSource(folder, progress=False).load()
    assert report["files_skipped"] == []
    assert report["files_read"] == report["files_found"] == len(scores) == 92
    assert all(len(s) and (s.durations > 0).all() and s.onsets.min() >= 0 for s in scores)


# Files test_midi_source.py does not write, with the reason each gets (None: usable, cleaned).
ODD_MIDI = {
    "smpte_division.mid": (raw_midi([note(60, 480)], tpq=0xE728), "corrupt MIDI"),
    "header_only.mid": (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 1, 0, 0, 1, 224]), "no notes"),
    "orphan_note_off.mid": (raw_midi([[(0, b"\x80\x3c\x00")] + note(62, 480, delay=480)]), None),
    "unterminated_note.mid": (raw_midi([[(0, b"\x90\x3c\x50")] + note(62, 480)]), None),
    "tempo_zero.mid": (raw_midi([[(0, b"\xff\x51\x03\x00\x00\x00")] + note(64, 480)]), None),
    "note_of_50000_beats.mid": (raw_midi([note(60, 480 * 50_000)]), None),
}


def mixed_folder(folder: Path) -> dict[str, str]:
    """Eight good songs, every broken kind of file, and odd but usable ones; the bad ones' reasons."""
    for i in range(8):
        write_song(
            folder / f"good{i}.mid", notes=[(b * 0.5, 0.5, 60 + (i + b) % 12) for b in range(24)]
        )
    bad = write_bad_files(folder / "bad")
    for name, (payload, _) in ODD_MIDI.items():
        (folder / "odd" / name).parent.mkdir(exist_ok=True)
        (folder / "odd" / name).write_bytes(payload)
    return {
        **{f"bad/{name}": kind for name, kind in bad.items()},
        **{f"odd/{name}": kind for name, (_, kind) in ODD_MIDI.items() if kind},
    }


def test_a_mixed_midi_folder_skips_each_bad_file_with_its_reason_and_trains_on_the_rest(tmp_path):
    expected = mixed_folder(tmp_path)
    source = MidiFolderSource(tmp_path, workers=1, progress=False)
    data = SequenceDataModule(
        source, transpositions=[0], context=8, val_fraction=0.2, test_fraction=0.2
    )
    data.setup()
    report = data.report["source"]
    reasons = {entry["file"]: entry["reason"] for entry in report["files_skipped"]}
    assert set(reasons) == set(expected)
    assert all(reasons[name].startswith(kind) for name, kind in expected.items()), reasons
    usable = 8 + sum(kind is None for _, kind in ODD_MIDI.values())
    assert report["files_read"] == usable == report["files_found"] - len(expected)
    assert sum(data.report["sources_per_split"].values()) == usable
    x, y = next(iter(data.train_dataloader()))
    assert x.shape[1] == 8 and len(y) == len(x)
    assert all(len(data.datasets[split]) for split in ("train", "val", "test"))


def test_the_stats_command_reports_a_mixed_folder_as_json(tmp_path, capsys):
    expected = mixed_folder(tmp_path)
    run_stats([
        "model=mary", "data=midi", f"data.path={tmp_path}", "data.source.workers=1",
        "data.source.progress=false", "data.transpositions=[0]",
    ])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert {entry["file"] for entry in report["source"]["files_skipped"]} == set(expected)
    assert report["source"]["files_read"] == report["source"]["files_found"] - len(expected)


def test_a_folder_where_every_file_is_bad_counts_the_reasons(tmp_path, capsys):
    write_bad_files(tmp_path)
    line = stats_error(["model=mary", "data=midi", f"data.path={tmp_path}", "data.source.workers=1",
                        "data.source.progress=false"], capsys)  # fmt: skip
    assert line.startswith(f"error: no usable MIDI files in {tmp_path}: 9 skipped (")
    assert "1 drums only" in line and "1 empty file" in line


def test_stats_without_a_model_says_which_model_a_midi_folder_needs(tmp_path, capsys):
    line = stats_error(["data=midi", f"data.path={tmp_path}"], capsys)
    assert line == (
        "error: data.context is the model's context: add model=lstm or model=mary to the command "
        "(or data.context=N)"
    )


def test_stats_reports_a_midi_folder_without_a_model_given_its_context(tmp_path, capsys):
    expected = mixed_folder(tmp_path)
    run_stats([
        "data=midi", f"data.path={tmp_path}", "data.context=8", "data.source.workers=1",
        "data.source.progress=false", "data.transpositions=[0]",
    ])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["source"]["files_read"] == report["source"]["files_found"] - len(expected)
