"""What several test modules build on: tiny models and batches, data written on the fly (lead
sheets, MIDI files, a Weimar Jazz Database), and the checks that a command ends in one line."""

from __future__ import annotations

import os
import random
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from conftest import compose_config

from musicgen.cli import run_cli
from musicgen.commands.stats import main as stats_main
from musicgen.data.sequence import SequenceDataModule
from musicgen.models import JazzGPT, LSTMBaseline, Mary
from musicgen.music.records import LeadSheet, PianoScore
from musicgen.music.tokens import SPECIALS


class ListSource:
    """A source over records made in the test; counts how often it is asked to load."""

    def __init__(self, records, name="list"):
        self.records, self.name, self.loads = records, name, 0

    def fingerprint(self) -> dict:
        return {"name": self.name, "ids": [r.id for r in self.records]}

    def load(self):
        self.loads += 1
        return self.records, {"records": len(self.records)}


def make_sheet(index: int, bars: int = 6) -> LeadSheet:
    rng = np.random.default_rng(index)
    total = bars * 4 * 24
    durations = rng.choice([6, 12, 24, 36], size=total // 6)
    durations = durations[np.cumsum(durations) <= total]
    durations = np.append(durations, total - durations.sum()) if durations.sum() < total else durations
    pitches = np.where(rng.random(len(durations)) < 0.2, 0, rng.integers(60, 72, len(durations)))
    chords = tuple(["C7", "F7", "G-7", "Bbj7"][(b // 4) % 4] for b in range(bars * 4))
    return LeadSheet(f"sheet{index}", pitches, durations, chords, group=f"sheet{index}")


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


# the official MeloSpy schema of the four tables the source reads
WJD_SCHEMA = """
CREATE TABLE melody ("eventid" INTEGER PRIMARY KEY, "melid" INTEGER, "onset" REAL, "pitch" REAL,
  "duration" REAL, "period" INTEGER, "division" INTEGER, "bar" INTEGER, "beat" INTEGER,
  "tatum" INTEGER, "subtatum" INTEGER, "num" INTEGER, "denom" INTEGER, "beatprops" TEXT,
  "beatdur" REAL, "tatumprops" TEXT);
CREATE TABLE beats ("beatid" INTEGER PRIMARY KEY, "melid" INTEGER, "onset" REAL, "bar" INTEGER,
  "beat" INTEGER, "signature" TEXT, "chord" TEXT, "form" TEXT, "bass_pitch" INTEGER,
  "chorus_id" INTEGER);
CREATE TABLE solo_info ("melid" INTEGER, "trackid" INTEGER, "compid" INTEGER, "recordid" INTEGER,
  "performer" TEXT, "title" TEXT, "titleaddon" TEXT, "solopart" INTEGER, "instrument" TEXT,
  "style" TEXT, "avgtempo" FLOAT, "tempoclass" TEXT, "rhythmfeel" TEXT, "key" TEXT,
  "signature" TEXT, "chord_changes" TEXT, "chorus_count" INTEGER);
CREATE TABLE composition_info ("compid" INTEGER, "title" TEXT, "composer" TEXT, "form" TEXT,
  "template" TEXT, "tonalitytype" TEXT, "genre" TEXT);
"""


def _add_solo(db, melid, signature, choruses, template, beats, notes):
    """beats: (onset s, bar, beat, signature, chord); notes: (onset s, duration s, pitch)."""
    db.execute(
        "INSERT INTO solo_info (melid, compid, performer, title, instrument, style, key, avgtempo,"
        " signature, chorus_count) VALUES (?, ?, 'Tester', ?, 'ts', 'BEBOP', 'Bb-maj', 120, ?, ?)",
        (melid, melid, f"Tune {melid}", signature, choruses),
    )
    db.execute(
        "INSERT INTO composition_info (compid, title, template) VALUES (?, ?, ?)",
        (melid, f"Tune {melid}", template),
    )
    db.executemany(
        "INSERT INTO beats (melid, onset, bar, beat, signature, chord) VALUES (?, ?, ?, ?, ?, ?)",
        [(melid, *b) for b in beats],
    )
    db.executemany(
        "INSERT INTO melody (melid, onset, duration, pitch) VALUES (?, ?, ?, ?)",
        [(melid, *n) for n in notes],
    )


def _four_four(first_bar, first_beat, count, onset=1.0, period=0.5, chords=None):
    chords = chords or {}
    rows, bar, beat = [], first_bar, first_beat
    for i in range(count):
        sig = "4/4" if i == 0 else ""
        rows.append((onset + i * period, bar, beat, sig, chords.get((bar, beat), "")))
        bar, beat = (bar + 1, 1) if beat == 4 else (bar, beat + 1)
    return rows


def make_wjd_db(path, bad_chord=False):
    with sqlite3.connect(path) as db:
        db.executescript(WJD_SCHEMA)
        # solo 1: starts on beat 3 of bar 0 at 1.0 s, 0.5 s per beat; 7 beats; chord changes
        chords = {(1, 1): "Bb6", (1, 3): "G79b" if not bad_chord else "Gxyz"}
        _add_solo(
            db, 1, "4/4", 2, "I Got Rhythm", _four_four(0, 3, 7, chords=chords),
            [(1.0, 0.25, 70), (1.75, 0.5, 72), (2.0, 0.2, 74), (3.25, 1.0, 65)],
        )  # fmt: skip
        _add_solo(db, 2, "3/4", 1, "Blues", [(1.0, 1, 1, "3/4", "C7"), (1.5, 1, 2, "", "")], [])
        _add_solo(db, 3, "4/4", 9, "Blues", _four_four(1, 1, 8), [(1.0, 0.4, 60)])
        five = _four_four(1, 1, 4) + [(3.0, 1, 5, "5/4", "")] + _four_four(2, 1, 4, onset=3.5)[1:]
        _add_solo(db, 4, "4/4", 1, "Blues", five, [(1.0, 0.4, 60)])
        _add_solo(db, 5, "4/4", 3, "Blues", _four_four(1, 1, 8, chords={(1, 1): "F7"}), [])
    return path


CHORDS = [*SPECIALS, "C7", "F7", "G7", "D-7"]


MELODY = [*SPECIALS, *(f"{p}:{d}" for p in (0, 60, 62, 64, 65, 67) for d in (6, 12, 24))]


PIANO = [*SPECIALS, *(str(i) for i in range(20))]


INFO = {"ticks_per_beat": 24, "beats_per_bar": 4}


def tiny_jazzgpt(**kw) -> JazzGPT:
    torch.manual_seed(0)
    sizes = dict(d_model=32, n_heads=4, enc_layers=2, dec_layers=2, d_ff=64, max_len=64)
    return JazzGPT(CHORDS, MELODY, INFO, **{**sizes, **kw})


def tiny_mary(**kw) -> Mary:
    torch.manual_seed(0)
    sizes = dict(context=8, blocks=2, embed_dim=16, hidden=16, dense=16, attention_units=8)
    return Mary(PIANO, {"kind": "piano"}, **{**sizes, **kw})


def tiny_lstm(**kw) -> LSTMBaseline:
    torch.manual_seed(0)
    sizes = dict(context=8, embed_dim=16, hidden=16, layers=2, dense=16)
    return LSTMBaseline(PIANO, {"kind": "piano"}, **{**sizes, **kw})


def jazz_batch(seed: int = 1, batch: int = 4) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    chords = torch.randint(4, len(CHORDS), (batch, 6), generator=g)
    melody = torch.randint(4, len(MELODY), (batch, 10), generator=g)
    melody[:, 0] = 1  # <bos>
    melody[:, -1] = 2  # <eos>
    melody[0, 6:] = 0  # a shorter melody, padded
    melody[0, 5] = 2
    chords[0, 4:] = 0  # and a shorter progression
    return {"chords": chords, "melody": melody}


def sequence_batch(seed: int = 1, batch: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, len(PIANO), (batch, 8), generator=g)
    y = torch.randint(4, len(PIANO), (batch,), generator=g)
    return x, y


BUILDERS = {"jazzgpt": tiny_jazzgpt, "mary": tiny_mary, "lstm": tiny_lstm}


ROOT = Path(__file__).resolve().parents[1]


def entry_point(script: str, *args: str, outputs: Path) -> subprocess.CompletedProcess:
    """``python train.py …`` as a user types it."""
    env = {**os.environ, "MUSICGEN_OUTPUTS": str(outputs)}
    command = [sys.executable, str(ROOT / script), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def the_error_line(result: subprocess.CompletedProcess) -> str:
    """The whole of stderr must be one ``error:`` line, with status 2."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("error: ")
    return lines[0]


def one_error_line(call, capsys) -> str:
    """``call`` must stop with status 2 after printing exactly one ``error:`` line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        call()
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def cli_error(job, cfg, capsys) -> str:
    return one_error_line(lambda: run_cli(job, cfg), capsys)


def run_command(main, args: list[str]):
    """A command's ``main`` run in this process as its command line ``args`` would run it."""
    argv = sys.argv
    sys.argv = ["musicgen", *args]
    try:
        return main()
    finally:
        sys.argv = argv


def run_stats(args: list[str]):
    """``python -m musicgen.data.stats ARGS`` in this process."""
    return run_command(stats_main, args)


def stats_error(overrides: list[str], capsys) -> str:
    return one_error_line(lambda: run_stats(overrides), capsys)


def sample_cfg(ckpt: Path, run_dir: Path, *overrides: str):
    overrides = (f"ckpt_path={ckpt}", "formats=[mid]", "num_notes=8", *overrides)
    return compose_config("sample", list(overrides), run_dir)


class CountingSource:
    """Four small piano pieces; counts how often preparation had to read them."""

    def __init__(self, name: str):
        self.name, self.loads = name, 0

    def fingerprint(self) -> dict:
        return {"name": self.name}

    def load(self):
        self.loads += 1
        scores = [
            PianoScore(
                f"p{i}", [0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [60 + i, 62 + i, 64 + i], group=f"p{i}"
            )
            for i in range(4)
        ]
        return scores, {"pieces": 4}


def sequence_module(source, transpositions=(0,)) -> SequenceDataModule:
    return SequenceDataModule(
        source, transpositions=transpositions, context=4, val_fraction=0.25, test_fraction=0.25
    )
