"""The whole path, for each model family: embedded data → train → checkpoint → sample → MIDI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import music21
import pretty_midi
import pytest
from conftest import compose_config, tiny_train_overrides

from musicgen.commands.sample import sample
from musicgen.models import load_model
from musicgen.training import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("model", ["jazzgpt", "mary", "lstm"])
def test_each_model_trains_on_embedded_data_and_its_checkpoint_alone_samples_midi(model, tmp_path):
    cfg = compose_config("train", tiny_train_overrides(model), tmp_path / "train")
    ckpt = train(cfg)
    assert ckpt.is_file()

    overrides = [f"ckpt_path={ckpt}", "num_samples=2", "num_notes=24", "formats=[mid]"]
    overrides += ["chords=ii_v_i"] if model == "jazzgpt" else []
    index = sample(compose_config("sample", overrides, tmp_path / "sample"))
    midis = sorted((tmp_path / "sample").glob("*.mid"))
    assert len(midis) == 2
    samples = json.loads(index.read_text())["samples"]
    assert [Path(s["files"]["mid"]) for s in samples] == midis
    assert all("downbeat_std" in s["metrics"] for s in samples)
    assert all(("inside_ratio" in s["metrics"]) == (model == "jazzgpt") for s in samples)
    for path in midis:
        assert sum(len(i.notes) for i in pretty_midi.PrettyMIDI(str(path)).instruments) > 0
        assert len(music21.converter.parse(path).flatten().notes) > 0


@pytest.mark.parametrize("model", ["jazzgpt", "mary", "lstm"])
def test_each_model_passes_lightning_fast_dev_run_and_still_leaves_a_checkpoint(model, tmp_path):
    cfg = compose_config("train", [*tiny_train_overrides(model), "trainer.fast_dev_run=true"], tmp_path)
    hparams = load_model(train(cfg)).hparams
    assert all(hparams[k] == v for k, v in cfg.model.items() if not k.startswith("_"))


def test_same_seed_reproduces_the_loss_curve(tmp_path):
    curves = []
    for run in ("a", "b"):
        cfg = compose_config("train", [*tiny_train_overrides("lstm"), "trainer.deterministic=true"], tmp_path / run)
        train(cfg)
        with open(tmp_path / run / "csv" / "metrics.csv") as fh:
            curves.append([row["train/loss"] for row in csv.DictReader(fh) if row.get("train/loss")])
    assert curves[0] and curves[0] == curves[1]


def _run(script: str, *args: str, outputs: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUSICGEN_OUTPUTS": str(outputs)}
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_trains_prints_its_checkpoint_and_samples_from_latest(tmp_path):
    trained = _run("train.py", *tiny_train_overrides("lstm"), outputs=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "run directory:" in trained.stdout and "checkpoint:" in trained.stdout

    sampled = _run("sample.py", "ckpt_path=latest", "num_samples=1", "num_notes=16", "formats=[mid]", outputs=tmp_path)
    assert sampled.returncode == 0, sampled.stderr[-2000:]
    midi = [line for line in sampled.stdout.splitlines() if line.endswith(".mid")]
    assert len(midi) == 1 and Path(midi[0]).is_file()


def test_sampling_from_a_missing_checkpoint_is_one_clear_line(tmp_path):
    result = _run("sample.py", f"ckpt_path={tmp_path}/nope.ckpt", outputs=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: ckpt_path={tmp_path}/nope.ckpt: no such checkpoint file"


def test_a_missing_soundfont_is_one_line_before_any_work(tmp_path):
    result = _run("sample.py", "ckpt_path=latest", "soundfont=/no/such.sf2", outputs=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: soundfont=/no/such.sf2: file not found"


def test_train_py_with_test_true_reports_the_held_out_loss_in_its_run_folder(tmp_path):
    trained = _run("train.py", *tiny_train_overrides("lstm"), "test=true", outputs=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "test loss: " in trained.stdout and "perplexity" in trained.stdout
    (info,) = (tmp_path / "train").glob("*/*/run_info.json")  # outputs/train/<date>/<time>
    results = json.loads(info.read_text())["results"]
    assert results["test_loss"] > 0 and (info.parent / "train.log").is_file()
