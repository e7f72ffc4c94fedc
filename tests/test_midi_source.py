import random
import struct
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from musicgen.data.midi import MidiFolderSource
from musicgen.data.tokenizers import make_tokenizer
from musicgen.paths import shared_data_dir

# (onset, duration, pitch) in beats: a melody, a rest, block chords, and a slightly late note
SONG = [
    (0.0, 1.0, 60), (1.0, 0.5, 62), (1.5, 0.5, 64), (2.0, 1.0, 65),
    (4.0, 2.0, 60), (4.0, 2.0, 64), (4.0, 2.0, 67),
    (6.0, 1.0, 53), (6.0, 1.0, 57), (6.0, 1.0, 60),
    (7.03, 0.47, 72),
]
TEMPO = 90.0


def write_song(path: Path, notes=SONG, tempo=TEMPO, drums: bool = False, name: str = "piano") -> Path:
    """A MIDI file written with pretty_midi (a different library from the one under test)."""
    midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=tempo)
    track = pretty_midi.Instrument(program=0, is_drum=drums, name=name)
    spb = 60.0 / tempo
    for onset, duration, pitch in notes:
        track.notes.append(pretty_midi.Note(90, pitch, onset * spb, (onset + duration) * spb))
    midi.instruments.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, (value & 0x7F) | 0x80)
        value >>= 7
    return bytes(out)


def raw_midi(tracks: list[list[tuple[int, bytes]]], tpq: int = 480) -> bytes:
    """A type-1 MIDI file from (delta ticks, event bytes) lists, to write what tools refuse to."""
    chunks = b""
    for events in tracks:
        body = b"".join(_varlen(delta) + event for delta, event in events) + b"\x00\xff\x2f\x00"
        chunks += b"MTrk" + struct.pack(">I", len(body)) + body
    return b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), tpq) + chunks


def note(pitch: int, length: int, delay: int = 0) -> list[tuple[int, bytes]]:
    return [(delay, bytes([0x90, pitch, 80])), (length, bytes([0x80, pitch, 0]))]


def write_bad_files(folder: Path) -> dict[str, str]:
    """Each broken file and the kind of reason the report must give for it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    files = {
        "empty.mid": (b"", "empty file"),
        "random.mid": (bytes(rng.randrange(256) for _ in range(2000)), "not MIDI"),
        "text.midi": (b"this is not a MIDI file at all\n", "not MIDI"),
        "zero_resolution.mid": (raw_midi([note(60, 480)], tpq=0), "bad resolution"),
        "no_notes.mid": (raw_midi([[(0, b"\xff\x51\x03\x07\xa1\x20")]]), "no notes"),
        "pitch_200.mid": (raw_midi([note(60, 480) + [(0, b"\x90\xc8\x50"), (480, b"\x80\xc8\x00")]]),
                          "corrupt MIDI"),
        "far_away.mid": (raw_midi([note(60, 480) + note(62, 480, delay=0x0FFFFFFF)]),
                         "absurd positions"),
    }
    whole = write_song(folder / "truncated.mid").read_bytes()
    files["truncated.mid"] = (whole[: len(whole) // 2], "corrupt MIDI")
    for name, (payload, _) in files.items():
        (folder / name).write_bytes(payload)
    write_song(folder / "drums.mid", drums=True)
    return {**{name: kind for name, (_, kind) in files.items()}, "drums.mid": "drums only"}


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
