"""Reading checkpoints (``musicgen.models.checkpoint``): unusable files in one line, and
checkpoints written before the package was reorganised still load, sample and evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import compose_config
from helpers import CHORDS, INFO, MELODY, cli_error, sample_cfg

from musicgen.commands.evaluate import evaluate
from musicgen.commands.sample import sample
from musicgen.data.leadsheet import LeadSheetDataModule
from musicgen.models import JazzGPT, datamodule_from_checkpoint, load_model
from musicgen.models.pretrained import pretrained_path
from musicgen.sampling.records import generate_records
from musicgen.sampling.sampler import Sampler


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


# What train.py recorded of its data before the reorganisation: the lead-sheet data module under
# its first module path (musicgen.data.jazz), a few chorales in two keys.
OLD_DATA_CONFIG = {
    "_target_": "musicgen.data.jazz.JazzDataModule",
    "source": {"_target_": "musicgen.data.embedded.ChoraleLeadSheetSource", "limit": 6,
               "progress": False, "ticks_per_beat": 24},
    "transpositions": [0, 2], "pitch_range": [36, 96], "transpose_policy": "fold", "window_bars": 4,
    "hop_bars": 4, "min_count": 1, "batch_size": 8, "num_workers": 0, "val_fraction": 0.1,
    "test_fraction": 0.1, "seed": 0,
}  # fmt: skip


def old_layout_checkpoint(path: Path) -> tuple[Path, JazzGPT]:
    """A JazzGPT checkpoint written here the way the previous layout's train.py wrote one: plain
    torch.save of Lightning's entries plus musicgen's, every class named by its old import path."""
    torch.manual_seed(0)
    model = JazzGPT(CHORDS, MELODY, {"kind": "lead_sheet", **INFO}, d_model=32, n_heads=4,
                    enc_layers=1, dec_layers=1, d_ff=64, max_len=256).eval()
    torch.save({
        "epoch": 2, "global_step": 30, "pytorch-lightning_version": "2.5.0",
        "state_dict": model.state_dict(), "hparams_name": "kwargs",
        "hyper_parameters": dict(model.hparams),
        "musicgen_model": "musicgen.models.jazzgpt.JazzGPT",
        "musicgen_run": {
            "config": {"data": OLD_DATA_CONFIG, "callbacks": {"metrics": {
                "_target_": "musicgen.metrics.callback.MusicMetricsCallback"}}},
            "version": "0.1.0", "git_commit": None, "git_dirty": None, "data_cache_key": "0" * 16,
        },
    }, path)  # fmt: skip
    return path, model


def test_a_checkpoint_of_the_previous_layout_loads_and_writes_the_same_melodies(tmp_path):
    path, original = old_layout_checkpoint(tmp_path / "old.ckpt")
    loaded = load_model(path)
    chords = [["C7", "F7", "G7", "C7"]]
    written = [generate_records(m, Sampler("softmax"), chords, count=2, max_tokens=40, seed=3)
               for m in (original, loaded)]  # fmt: skip
    assert [r.tokens() for r in written[0]] == [r.tokens() for r in written[1]]


def test_the_data_module_a_previous_layout_recorded_is_found_under_its_new_name(tmp_path):
    path, _ = old_layout_checkpoint(tmp_path / "old.ckpt")
    datamodule = datamodule_from_checkpoint(path)
    assert isinstance(datamodule, LeadSheetDataModule)
    assert (datamodule.window_bars, datamodule.transpositions) == (4, (0, 2))


def test_a_checkpoint_of_the_previous_layout_samples_and_evaluates_over_its_own_data(tmp_path):
    path, _ = old_layout_checkpoint(tmp_path / "old.ckpt")
    index = sample(compose_config("sample", [f"ckpt_path={path}", "num_samples=2", "chords=ii_v_i",
                                             "max_tokens=60", "formats=[mid]"], tmp_path / "sample"))
    assert len(json.loads(index.read_text())["samples"]) == 2
    overrides = [f"ckpt_path={path}", "task=transforms", "chords=held_out", "transforms=[argmax]",
                 "num_samples=2", "max_tokens=60", "plagiarism=false", "listen=0", "wjazzd_path=null"]
    result = json.loads(evaluate(compose_config("evaluate", overrides, tmp_path / "eval")).read_text())
    assert [row["name"] for row in result["rows"]] == ["argmax", "dataset"]
    assert result["rows"][-1]["label"].startswith("the same 2 held-out windows")


def test_the_shipped_model_finds_its_recorded_data_module_given_the_data_file(shared_data):
    datamodule = datamodule_from_checkpoint(
        pretrained_path("jazzgpt-wjd"), data_path=str(shared_data / "wjazzd" / "wjazzd.db")
    )
    assert isinstance(datamodule, LeadSheetDataModule)
    assert datamodule.source.path.name == "wjazzd.db"
