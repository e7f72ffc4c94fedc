"""Every way a user can go wrong (issue #10): one clear line, no traceback, nothing half-written.

A few cases run the real entry points in a subprocess (what the user sees on the terminal);
the rest call the ``run_cli``-wrapped jobs or the library, which is what those entry points run.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import compose_config, tiny_train_overrides
from hydra.core.hydra_config import HydraConfig
from test_data_modules import ListSource, make_sheet
from test_midi_source import note, raw_midi, write_bad_files, write_song
from test_wjazzd import _make_db

from musicgen.cli import run_cli, wrong_type_overrides
from musicgen.data import cache
from musicgen.data.jazz import JazzDataModule
from musicgen.data.midi import MidiFolderSource
from musicgen.data.sequence import SequenceDataModule
from musicgen.data.stats import main as stats_main
from musicgen.generation import sample
from musicgen.models import load_model
from musicgen.music.records import PianoScore
from musicgen.sampling.generate import generate_sequences
from musicgen.sampling.progressions import parse_progression, resolve_chords
from musicgen.training import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Tiny JazzGPT and MAR-Y checkpoints trained on a few embedded chorales."""
    root = tmp_path_factory.mktemp("reliability-ckpts")
    found = {
        model: train(compose_config("train", tiny_train_overrides(model), root / model))
        for model in ("jazzgpt", "mary")
    }
    HydraConfig.instance().cfg = None
    return found


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


def stats_error(overrides: list[str], capsys) -> str:
    return one_error_line(lambda: stats_main(overrides), capsys)


def sample_cfg(ckpt: Path, run_dir: Path, *overrides: str):
    overrides = (f"ckpt_path={ckpt}", "formats=[mid]", "num_notes=8", *overrides)
    return compose_config("sample", list(overrides), run_dir)


# -- 1. data -------------------------------------------------------------------------------------


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
    db = _make_db(tmp_path / "tiny.db")
    assert (
        stats_error(["data=wjazzd", f"data.path={db}", *overrides], capsys) == f"error: {expected}"
    )


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
    stats_main([
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
    stats_main([
        "data=midi", f"data.path={tmp_path}", "data.context=8", "data.source.workers=1",
        "data.source.progress=false", "data.transpositions=[0]",
    ])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["source"]["files_read"] == report["source"]["files_found"] - len(expected)


def test_no_transpositions_is_refused_before_preparing():
    with pytest.raises(ValueError, match=r"^transpositions is empty"):
        sequence_module(CountingSource("no-keys"), transpositions=[])


def test_a_pitch_range_that_drops_every_training_copy_says_so():
    sheets = [make_sheet(i) for i in range(5)]  # melodies within 60-72
    module = JazzDataModule(
        ListSource(sheets, name="all-dropped"), transpositions=[0, 2], pitch_range=(80, 96),
        transpose_policy="drop", window_bars=2,
    )  # fmt: skip
    with pytest.raises(
        ValueError, match=r"^every transposed copy of the training pieces was dropped"
    ):
        module.setup()


# -- 2. chords -----------------------------------------------------------------------------------


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


def test_sample_py_with_an_unknown_chord_symbol_names_it(checkpoints, tmp_path):
    result = entry_point(
        "sample.py", f"ckpt_path={checkpoints['jazzgpt']}", "chords=C7 | H7", "formats=[mid]",
        outputs=tmp_path,
    )  # fmt: skip
    assert the_error_line(result) == (
        "error: unknown chord symbol 'H7': bar 2, 'H7' is not a note name (A-G with optional b or #)"
    )


@pytest.mark.parametrize(
    "chords, expected",
    [
        ("Cj7 | Xm7", "unknown chord symbol 'Xm7': bar 2"),
        ("C D E F G | C", "chords: bar 1 has 5 chords but only 4 beats"),
        ("", "chords: the progression is empty"),
        (" | \n | ", "chords: the progression is empty"),
    ],
    ids=["unknown-symbol", "too-many-chords-in-a-bar", "empty", "only-bar-lines"],
)
def test_bad_chord_inputs_are_one_line_naming_the_problem(
    checkpoints, chords, expected, tmp_path, capsys
):
    line = cli_error(
        sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, f"chords='{chords}'"), capsys
    )
    assert line.startswith(f"error: {expected}")


def test_a_key_that_is_not_a_note_name_is_named():
    with pytest.raises(ValueError, match=r"^key=H: not a key name"):
        resolve_chords("blues", key="H")


# -- 3. checkpoints and configs -----------------------------------------------------------------


def test_primer_on_a_jazzgpt_checkpoint_is_refused(checkpoints, tmp_path, capsys):
    line = cli_error(sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "primer=data"), capsys)
    assert line.startswith("error: primer=data is for MAR-Y and LSTM checkpoints")


@pytest.mark.parametrize("override", ["chords=blues", "key=F"])
def test_chords_given_to_a_piano_checkpoint_are_refused_not_ignored(checkpoints, override, tmp_path, capsys):
    line = cli_error(sample, sample_cfg(checkpoints["mary"], tmp_path, override), capsys)
    key = override.partition("=")[0]
    assert line == (
        f"error: {override} is for JazzGPT checkpoints; a Mary checkpoint writes num_notes tokens "
        f"from primer= (drop {key}=)"
    )


MIDI_SOURCE = "musicgen.data.midi.MidiFolderSource"


def _checkpoint_with_data(source: Path, target: Path, edit) -> Path:
    """A copy of ``source`` whose recorded data config was changed by ``edit``."""
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    edit(checkpoint["musicgen_run"]["config"]["data"])
    torch.save(checkpoint, target)
    return target


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda data: data["source"].update(limit=3), "no longer gives the model's vocabulary"),
        (
            lambda data: data.update(source={"_target_": MIDI_SOURCE, "path": "/gone"}),
            "MIDI folder not found: /gone",
        ),
    ],
    ids=["vocabulary-changed", "data-moved"],
)
def test_primer_data_when_the_data_no_longer_matches_the_checkpoint(
    checkpoints, edit, expected, tmp_path, capsys
):
    ckpt = _checkpoint_with_data(checkpoints["mary"], tmp_path / "edited.ckpt", edit)
    line = cli_error(sample, sample_cfg(ckpt, tmp_path / "out", "primer=data"), capsys)
    assert expected in line


@pytest.mark.parametrize(
    "content, expected",
    [
        ("truncated", "cannot read checkpoint (truncated or corrupt file?)"),
        (b"hello, I am not a checkpoint", "cannot read checkpoint (truncated or corrupt file?)"),
        (bytes(range(256)) * 4, "cannot read checkpoint (truncated or corrupt file?)"),
        (b'{"state_dict": {}}', "cannot read checkpoint (truncated or corrupt file?)"),
        ("foreign", "is not a musicgen checkpoint"),
    ],
    ids=["truncated", "text", "random-bytes", "json", "foreign-torch-file"],
)
def test_unusable_checkpoint_files_are_one_line(checkpoints, content, expected, tmp_path, capsys):
    path = tmp_path / "bad.ckpt"
    if content == "truncated":
        whole = checkpoints["jazzgpt"].read_bytes()
        path.write_bytes(whole[: len(whole) // 3])
    elif content == "foreign":
        torch.save({"state_dict": {}, "epoch": 3}, path)
    else:
        path.write_bytes(content)
    line = cli_error(sample, sample_cfg(path, tmp_path / "out"), capsys)
    assert line.startswith(f"error: {path}") and expected in line


def test_a_folder_as_checkpoint_path_is_named(tmp_path, capsys):
    line = cli_error(sample, sample_cfg(tmp_path, tmp_path / "out"), capsys)
    assert line == f"error: ckpt_path={tmp_path}: no such checkpoint file"


def test_an_unknown_config_key_is_hydras_message_without_a_traceback(tmp_path):
    result = entry_point("train.py", "model.nope=1", outputs=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "Key 'nope' is not in struct" in result.stderr and "model.nope" in result.stderr
    assert "run directory" not in result.stdout


def test_a_value_of_the_wrong_type_stops_train_py_before_any_data_is_read(tmp_path):
    result = entry_point("train.py", "trainer.max_epochs=abc", outputs=tmp_path)
    assert (
        the_error_line(result)
        == "error: trainer.max_epochs=abc: expected a number (the default is 3)"
    )
    assert [p for p in tmp_path.rglob("config.yaml") if p.parent.name != ".hydra"] == []


@pytest.mark.parametrize(
    "config, overrides, expected",
    [
        (
            "train",
            ["model=mary", "model.blocks=two"],
            ["model.blocks=two: expected a number (the default is 2)"],
        ),
        (
            "train",
            ["trainer.deterministic=yes"],
            ["trainer.deterministic=yes: expected true or false (the default is false)"],
        ),
        (
            "sample",
            ["sampler=topk", "sampler.k=abc"],
            ["sampler.k=abc: expected a number (the default is 15)"],
        ),
        ("sample", ["num_samples='3'"], ["num_samples='3': expected a number (the default is 4)"]),
        ("sample", ["tempo=92.5", "seed=3", "key=F", "chords=7", "wjazzd_path=null"], []),
        (
            "train",
            ["model=lstm", "data.context=${model.context}", "trainer.max_epochs=null", "+foo=bar"],
            [],
        ),
    ],
    ids=[
        "int-as-word",
        "bool-as-word",
        "group-default",
        "quoted-number",
        "good-values",
        "null-interpolation-add",
    ],
)
def test_wrong_type_overrides_name_the_key_and_what_it_needs(config, overrides, expected):
    groups = {"model", "trainer", "logger", "data", "sampler"}
    assert wrong_type_overrides(config, overrides, groups) == expected


@pytest.mark.parametrize(
    "model, override",
    [
        ("jazzgpt", "num_samples=-1"), ("jazzgpt", "num_samples=0"), ("jazzgpt", "max_tokens=0"),
        ("jazzgpt", "choruses=0"), ("mary", "num_samples=-1"), ("mary", "num_notes=0"),
        ("mary", "primer_length=0"),
    ],
)  # fmt: skip
def test_counts_below_one_are_refused_by_name(checkpoints, model, override, tmp_path, capsys):
    extra = ["primer=data"] if override.startswith("primer_length") else []
    line = cli_error(sample, sample_cfg(checkpoints[model], tmp_path, override, *extra), capsys)
    assert line == f"error: {override}: expected a whole number of at least 1"


def test_a_sampler_setting_out_of_range_is_one_line_naming_the_sampler(
    checkpoints, tmp_path, capsys
):
    line = cli_error(
        sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "sampler=topk", "sampler.k=0"), capsys
    )
    assert line == "error: sampler: k must be >= 1, got 0"


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model.attention=nope", "model: attention must be 'additive' or 'dot', got 'nope'"),
        ("+model.colour=blue", "model: TypeError: Mary.__init__() got an unexpected keyword argument 'colour'"),
    ],
    ids=["bad-choice", "unknown-argument"],
)  # fmt: skip
def test_a_model_that_cannot_be_built_is_one_line_naming_the_model(
    override, expected, tmp_path, capsys
):
    cfg = compose_config("train", [*tiny_train_overrides("mary"), override], tmp_path)
    assert cli_error(train, cfg, capsys) == f"error: {expected}"


# -- 4. interruptions ----------------------------------------------------------------------------


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


DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "flipped-byte": lambda raw: raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:],
    "header-only": lambda raw: raw[:40],
    "empty": lambda raw: b"",
    "foreign-pickle": lambda raw: pickle.dumps({"not": "a cache"}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_file_is_discarded_and_rebuilt(damage):
    source = CountingSource(f"damaged-{damage}")
    first = sequence_module(source)
    first.setup()
    path = cache.cache_path(first.namespace, first.cache_key())
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    again = sequence_module(source)
    again.setup()
    assert source.loads == 2
    assert again.model_inputs() == first.model_inputs()
    assert cache.load(path) is not None  # rebuilt whole


def test_a_temp_file_left_by_a_killed_writer_is_never_read():
    source = CountingSource("killed-writer")
    module = sequence_module(source)
    path = cache.cache_path(module.namespace, module.cache_key())
    (path.parent / f".{path.name}.x1y2.tmp").write_bytes(b"MUSICGEN-CACHE-1\n" + b"0" * 40)
    module.setup()
    assert source.loads == 1 and cache.load(path) is not None


def test_a_write_interrupted_before_the_rename_leaves_no_file(monkeypatch):
    source = CountingSource("interrupted-save")
    module = sequence_module(source)
    path = cache.cache_path(module.namespace, module.cache_key())

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        module.setup()
    monkeypatch.undo()
    assert list(path.parent.glob(f"*{path.stem}*")) == []
    sequence_module(source).setup()
    assert source.loads == 2 and cache.load(path) is not None


# -- 5. resources --------------------------------------------------------------------------------


def test_a_progression_longer_than_jazzgpts_positions_is_refused_with_the_limit(
    checkpoints, tmp_path, capsys
):
    cfg = sample_cfg(checkpoints["jazzgpt"], tmp_path, "chords=blues", "choruses=43")
    assert cli_error(sample, cfg, capsys) == (
        "error: chords=blues with choruses=43 is 2064 beats, but this model reads at most "
        "max_len=2048: use fewer choruses or bars"
    )


def test_a_melody_limit_beyond_jazzgpts_positions_is_refused(checkpoints, tmp_path, capsys):
    line = cli_error(
        sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "max_tokens=4096"), capsys
    )
    assert line == "error: max_tokens=4096 must be below the model's max_len=2048"


def test_a_jazzgpt_training_window_longer_than_max_len_names_the_limit(tmp_path, capsys):
    cfg = compose_config("train", [*tiny_train_overrides("jazzgpt"), "model.max_len=16"], tmp_path)
    assert "longer than max_len=16" in cli_error(train, cfg, capsys)


class Greedy:
    def sample(self, logits, generator=None):
        return logits.argmax(dim=-1)


def test_a_primer_longer_than_the_context_is_cut_to_the_context(checkpoints):
    model = load_model(checkpoints["mary"])
    context = model.hparams.context
    widths = []
    hook = model.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    primer = [len(model.hparams.vocab) - 1] * (5 * context)
    out = generate_sequences(model, [primer], Greedy(), num_tokens=6, seed=0)
    hook.remove()
    assert len(out[0]) == 6 and max(widths) == context


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, torch
    from musicgen.data.vocab import SPECIALS
    from musicgen.models import Mary
    from musicgen.sampling.generate import generate_sequences

    class Greedy:
        def sample(self, logits, generator=None):
            return logits.argmax(dim=-1)

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Mary([*SPECIALS, *map(str, range(20))], context=16, blocks=1, embed_dim=16, hidden=16,
                 dense=16, attention_units=8)
    widths = []
    model.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    short = len(generate_sequences(model, [[]], Greedy(), num_tokens=500)[0])
    after_short = peak()
    long = len(generate_sequences(model, [[]], Greedy(), num_tokens=10_000)[0])
    print(json.dumps({"short": short, "long": long, "growth_mb": peak() - after_short,
                      "widest": max(widths)}))
    """
)


def test_ten_thousand_mary_tokens_slide_the_window_in_flat_memory():
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["short"] == 500 and measured["long"] == 10_000
    assert measured["widest"] == 16
    assert measured["growth_mb"] < 20, measured
