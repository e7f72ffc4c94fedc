"""Outside-probe findings on the commands (issue #14): each mistake ends in one line, exit 2.

Configuration errors that Hydra finds before a job runs, usage errors of the plain commands,
out-of-range tempos, options a checkpoint cannot use; a failed run leaves no empty run folder, a
multirun goes on past its bad points and lists them, and sampling many pieces keeps memory flat.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from conftest import compose_config, tiny_train_overrides
from helpers import cli_error, entry_point, one_error_line, sample_cfg, stats_error, the_error_line

from musicgen.bench.run import parse_args as bench_args
from musicgen.cli import wrong_type_overrides
from musicgen.commands.sample import sample
from musicgen.commands.sweep import main as sweep_main
from musicgen.music.records import PianoScore
from musicgen.render import RenderSettings, render_all
from musicgen.training import train

ROOT = Path(__file__).resolve().parents[1]


def run_command(*args: str, outputs: Path) -> subprocess.CompletedProcess:
    """``python <args>`` from the checkout root, as a user types it."""
    env = {**os.environ, "MUSICGEN_OUTPUTS": str(outputs)}
    command = [sys.executable, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "command, expected",
    [
        (["train.py", "model=foo"], "error: model=foo: no such model config; choose one of jazzgpt, lstm, mary"),
        (["-m", "musicgen.evaluate", "data=foo"], "error: data=foo: no such data config; choose one of "),
    ],
    ids=["train", "evaluate"],
)
def test_a_config_group_option_that_does_not_exist_is_one_line(command, expected, tmp_path):
    assert the_error_line(run_command(*command, outputs=tmp_path)).startswith(expected)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["model=foo"], "error: model=foo: no such model config; choose one of jazzgpt, lstm, mary"),
        (["data.pth=x"], "error: Could not override 'data.pth': Key 'pth' is not in struct"),
        (
            ["data=midi", "data.path=/my", "music"],  # data.path=/my music, unquoted
            "error: Error parsing override 'music' (missing EQUAL at '<EOF>'; quote a value that "
            "holds spaces: key='a b')",
        ),
    ],
    ids=["unknown-model", "key-typo", "unquoted-space"],
)
def test_the_stats_command_answers_a_bad_command_line_in_one_line(overrides, expected, capsys):
    assert stats_error(overrides, capsys).startswith(expected)


def test_the_sweep_and_bench_commands_answer_usage_mistakes_in_one_line(tmp_path, capsys):
    line = one_error_line(lambda: sweep_main([]), capsys)
    assert line == "error: the following arguments are required: folder (see python -m musicgen.sweep --help)"
    line = one_error_line(lambda: sweep_main([str(tmp_path / "gone")]), capsys)
    assert line == f"error: {tmp_path / 'gone'}: no such multirun folder"
    line = one_error_line(lambda: bench_args(["--only", "speed"]), capsys)
    assert line.startswith("error: --only: unknown speed; choose from data, train")


@pytest.mark.parametrize(
    "tempo, shown", [("inf", "inf"), ("1e-6", "1e-06"), ("1e9", "1000000000.0"), ("nan", "nan"), ("0", "0")]
)
def test_a_tempo_outside_what_files_can_hold_is_one_line_before_the_checkpoint_loads(
    tempo, shown, tmp_path, capsys
):
    cfg = sample_cfg(tmp_path / "never-read.ckpt", tmp_path / "out", f"tempo={tempo}", "formats=[wav]")
    line = cli_error(sample, cfg, capsys)
    assert line == f"error: tempo={shown}: expected 10 to 1000 beats per minute"


def test_rendering_refuses_a_tempo_that_would_need_absurd_audio(tmp_path):
    score = PianoScore("s", [0.0], [1.0], [60])
    with pytest.raises(ValueError, match=r"tempo=1e-06: expected 10 to 1000 beats per minute"):
        render_all(score, tmp_path, "s", formats=("wav",), settings=RenderSettings(tempo=1e-6))


def test_a_failed_sample_run_leaves_no_run_folder(tmp_path):
    result = run_command("sample.py", "tempo=inf", outputs=tmp_path)
    assert the_error_line(result) == "error: tempo=inf: expected 10 to 1000 beats per minute"
    assert not list((tmp_path / "sample").glob("*/*")), "an empty run folder was left behind"


def test_a_multirun_goes_on_past_a_bad_point_and_its_summary_says_why(checkpoints, tmp_path):
    result = run_command(
        "sample.py", "-m", "sampler=topk", "sampler.k=0,5", f"ckpt_path={checkpoints['mary']}",
        "num_samples=1", "num_notes=8", "formats=[mid]", outputs=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0] == "error: sampler: k must be >= 1, got 0"
    assert errors[1].startswith("error: 1 of 2 jobs failed (job 0): see ")
    (summary,) = (tmp_path / "sample-multirun").glob("*/*/summary.md")
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| 0_") or line.startswith("| 1_")]
    assert "| failed: sampler: k must be >= 1, got 0 |" in rows[0]
    assert "failed" not in rows[1] and (summary.parent / rows[1].split(" | ")[0][2:] / "samples.json").is_file()


def _peak_python_memory(ckpt: Path, out: Path, num_samples: int, batch_size: int) -> int:
    cfg = compose_config(
        "sample",
        [f"ckpt_path={ckpt}", f"num_samples={num_samples}", f"batch_size={batch_size}",
         "num_notes=64", "formats=[mid]"],
        out,
    )
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            index = sample(cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(json.loads(index.read_text())["samples"]) == num_samples
    return peak


def test_many_samples_are_made_in_batches_with_flat_memory(checkpoints, tmp_path, one_thread):
    # A first run pays once for lazy imports and caches, which would otherwise count as growth.
    _peak_python_memory(checkpoints["mary"], tmp_path / "warm-up", num_samples=4, batch_size=4)
    few = _peak_python_memory(checkpoints["mary"], tmp_path / "few", num_samples=4, batch_size=4)
    many = _peak_python_memory(checkpoints["mary"], tmp_path / "many", num_samples=48, batch_size=4)
    at_once = _peak_python_memory(checkpoints["mary"], tmp_path / "at-once", num_samples=48, batch_size=48)
    assert at_once > 1.3 * few, "the measurement must see what holding every sample costs"
    # What a run keeps per sample once it is written (its line in samples.json and on the page)
    # may grow with the count; the samples themselves must not be held.
    assert many - few < 0.5 * (at_once - few), f"peak {many} bytes for 48 in fours, {few} for 4, {at_once} for 48 at once"


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


def test_a_jazzgpt_training_window_longer_than_max_len_names_the_limit(tmp_path, capsys):
    cfg = compose_config("train", [*tiny_train_overrides("jazzgpt"), "model.max_len=16"], tmp_path)
    assert "longer than max_len=16" in cli_error(train, cfg, capsys)
