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
from hydra.core.hydra_config import HydraConfig
from test_reliability import (
    cli_error,
    one_error_line,
    sample_cfg,
    stats_error,
    the_error_line,
)

from musicgen.bench.run import parse_args as bench_args
from musicgen.generation import sample
from musicgen.music.records import PianoScore
from musicgen.render import RenderSettings, render_all
from musicgen.sweep import main as sweep_main
from musicgen.training import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mary_ckpt(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("command-errors")
    found = train(compose_config("train", tiny_train_overrides("mary"), root / "mary"))
    HydraConfig.instance().cfg = None
    return found


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


def test_a_multirun_goes_on_past_a_bad_point_and_its_summary_says_why(mary_ckpt, tmp_path):
    result = run_command(
        "sample.py", "-m", "sampler=topk", "sampler.k=0,5", f"ckpt_path={mary_ckpt}",
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


def test_many_samples_are_made_in_batches_with_flat_memory(mary_ckpt, tmp_path, one_thread):
    few = _peak_python_memory(mary_ckpt, tmp_path / "few", num_samples=4, batch_size=4)
    many = _peak_python_memory(mary_ckpt, tmp_path / "many", num_samples=48, batch_size=4)
    at_once = _peak_python_memory(mary_ckpt, tmp_path / "at-once", num_samples=48, batch_size=48)
    assert at_once > 1.3 * few, "the measurement must see what holding every sample costs"
    assert many < 1.15 * few, f"peak {many} bytes for 48 samples, {few} for 4"
