"""Resuming can never put weights onto another model or another token mapping (issue #14).

A checkpoint records its model family and data fingerprint; a run about to resume compares them
with what it has built and refuses in one line naming each difference, unless ``finetune=true``
asks to start from the weights on new data (rows carried over by token).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import compose_config, tiny_train_overrides
from helpers import cli_error
from hydra.core.hydra_config import HydraConfig

from musicgen.commands.sample import sample
from musicgen.models import JazzGPT, LSTMBaseline, Mary, load_model
from musicgen.resume import config_differences, transfer_weights
from musicgen.training import train

MARY = tiny_train_overrides("mary")


def run_cfg(outputs: Path, name: str, overrides: list[str]):
    """A training config whose run folder is ``outputs/train/<name>`` ("last" searches there)."""
    cfg = compose_config("train", overrides, outputs / "train" / name)
    cfg.paths.outputs = str(outputs)
    return cfg


def age(path: Path, seconds: float) -> None:
    """Make ``path`` look ``seconds`` old, so "newest" does not depend on the clock's resolution."""
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A tiny MAR-Y and a tiny LSTM, each trained for 3 steps on the embedded chorales."""
    outputs = tmp_path_factory.mktemp("resume")
    found = {
        "mary": train(run_cfg(outputs, "mary", MARY)),
        "lstm": train(run_cfg(outputs, "lstm", tiny_train_overrides("lstm"))),
    }
    HydraConfig.instance().cfg = None
    return found


def test_resuming_with_other_transpositions_is_refused_naming_them_and_the_vocabulary(
    trained, tmp_path, capsys
):
    overrides = [*MARY, "data.transpositions=[1,3]", f"ckpt_path={trained['mary']}"]
    line = cli_error(train, run_cfg(tmp_path, "changed", overrides), capsys)
    assert line.startswith(f"error: cannot resume {trained['mary']}: ")
    assert "data.transpositions: [0, 2] then, [1, 3] now" in line
    assert "vocabulary: " in line and "at the same position" in line
    assert "finetune=true" in line
    assert not (tmp_path / "train" / "changed" / "checkpoints").exists()


def test_resuming_another_model_family_is_refused_by_name(trained, tmp_path, capsys):
    overrides = [*MARY, f"ckpt_path={trained['lstm']}"]
    line = cli_error(train, run_cfg(tmp_path, "other-model", overrides), capsys)
    assert "model LSTMBaseline then, Mary now" in line


def test_resuming_with_other_model_sizes_names_the_setting(trained, tmp_path, capsys):
    overrides = [*MARY, "model.hidden=24", f"ckpt_path={trained['mary']}"]
    line = cli_error(train, run_cfg(tmp_path, "bigger", overrides), capsys)
    assert "model.hidden: 16 then, 24 now" in line


def test_a_finetune_still_needs_the_same_model(trained, tmp_path, capsys):
    overrides = [*MARY, "finetune=true", f"ckpt_path={trained['lstm']}"]
    line = cli_error(train, run_cfg(tmp_path, "ft-other-model", overrides), capsys)
    assert line.startswith("error: cannot fine-tune from") and "model LSTMBaseline then, Mary now" in line


def test_ckpt_path_last_picks_the_newest_run_of_this_model_and_data_and_says_so(tmp_path, capsys):
    mary = train(run_cfg(tmp_path, "a-mary", MARY))
    other_data = train(run_cfg(tmp_path, "b-mary-other-data", [*MARY, "data.transpositions=[0]"]))
    lstm = train(run_cfg(tmp_path, "c-lstm", tiny_train_overrides("lstm")))
    for seconds, path in ((30, mary), (20, other_data), (10, lstm)):
        age(path, seconds)
    capsys.readouterr()
    last = train(run_cfg(tmp_path, "d-resumed", [*MARY, "ckpt_path=last", "trainer.max_steps=5"]))

    out = capsys.readouterr().out
    assert f"ckpt_path=last: picked {mary}, the newest last.ckpt of this model and data" in out
    assert "(2 newer that differ skipped)" in out
    info = json.loads((tmp_path / "train" / "d-resumed" / "run_info.json").read_text())
    assert info["resumed_from"] == str(mary) and info["results"]["steps"] == 5
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 5


def test_ckpt_path_last_without_a_matching_run_names_the_newest_difference(trained, tmp_path, capsys):
    only_lstm = tmp_path / "train" / "lstm" / "checkpoints" / "last.ckpt"
    only_lstm.parent.mkdir(parents=True)
    only_lstm.write_bytes(trained["lstm"].read_bytes())
    line = cli_error(train, run_cfg(tmp_path, "nothing-fits", [*MARY, "ckpt_path=last"]), capsys)
    assert line.startswith("error: ckpt_path=last: none of the ")
    assert "was trained with this model and data" in line and "model LSTMBaseline then, Mary now" in line


def test_an_unreadable_checkpoint_is_refused_before_any_data_is_prepared(trained, tmp_path, capsys):
    truncated = tmp_path / "truncated.ckpt"
    whole = trained["mary"].read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    # The data path does not exist either: the checkpoint's error must come first.
    model_only = [o for o in MARY if not o.startswith("data.")]
    overrides = [*model_only, "data=midi", "data.path=/no/such/folder", f"ckpt_path={truncated}"]
    line = cli_error(train, run_cfg(tmp_path, "truncated", overrides), capsys)
    assert line.startswith(f"error: {truncated}: cannot read checkpoint (truncated or corrupt file?)")


def test_finetune_on_new_data_carries_rows_over_by_token(trained, tmp_path, capsys):
    overrides = [*MARY, "data.transpositions=[1,3]", "finetune=true", f"ckpt_path={trained['mary']}"]
    capsys.readouterr()
    train(run_cfg(tmp_path, "finetuned", overrides))
    assert "fine-tuning from the weights of" in capsys.readouterr().out

    info = json.loads((tmp_path / "train" / "finetuned" / "run_info.json").read_text())
    carried = info["finetuned_from"]
    assert carried["checkpoint"] == str(trained["mary"]) and info["resumed_from"] is None
    assert carried["vocabulary tokens kept"] >= 4 and carried["vocabulary tokens new"] > 0
    assert info["results"]["steps"] == 3  # a fresh step count, not the checkpoint's


def test_transfer_weights_maps_rows_by_token_and_leaves_new_tokens_fresh():
    torch.manual_seed(0)
    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    old = Mary([*specials, "C4 1.0", "D4 1.0", "E4 1.0"], hidden=8, embed_dim=8, dense=8, blocks=1)
    new = Mary([*specials, "E4 1.0", "F4 1.0", "C4 1.0"], hidden=8, embed_dim=8, dense=8, blocks=1)
    fresh_f4 = new.embed.weight[5].clone()
    checkpoint = {"hyper_parameters": dict(old.hparams), "state_dict": old.state_dict()}

    counts = transfer_weights(checkpoint, new)

    assert counts == {"vocabulary tokens kept": 6, "vocabulary tokens new": 1}
    assert torch.equal(new.embed.weight[4], old.embed.weight[6])  # E4 moved from row 6 to row 4
    assert torch.equal(new.embed.weight[6], old.embed.weight[4])  # C4 moved from row 4 to row 6
    assert torch.equal(new.head[2].weight[6], old.head[2].weight[4])
    assert torch.equal(new.embed.weight[5], fresh_f4)
    assert torch.equal(new.blocks[0].lstm.weight_ih_l0, old.blocks[0].lstm.weight_ih_l0)


@pytest.mark.parametrize(
    "build",
    [
        lambda v: Mary(v, hidden=8, embed_dim=8, dense=8, blocks=1),
        lambda v: LSTMBaseline(v, hidden=8, embed_dim=8, dense=8, layers=1),
        lambda v: JazzGPT(v, v, d_model=8, n_heads=2, d_ff=8, enc_layers=1, dec_layers=1),
    ],
    ids=["mary", "lstm", "jazzgpt"],
)
def test_every_vocabulary_sized_parameter_is_declared_for_fine_tuning(build):
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", *(f"t{i}" for i in range(33))]  # 37: no layer size
    model = build(vocab)
    sized = {name for name, t in model.state_dict().items() if t.dim() and t.shape[0] == len(vocab)}
    assert sized == set(model.vocab_rows)


def test_a_checkpoint_from_before_the_data_record_still_samples_and_resumes(trained, tmp_path):
    checkpoint = torch.load(trained["mary"], map_location="cpu", weights_only=True)
    del checkpoint["musicgen_run"]["data"], checkpoint["musicgen_run"]["model_family"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    assert load_model(old).hparams.vocab == checkpoint["hyper_parameters"]["vocab"]

    last = train(run_cfg(tmp_path, "from-old", [*MARY, f"ckpt_path={old}", "trainer.max_steps=4"]))
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 4


def test_an_old_checkpoint_on_other_data_is_still_refused(trained, tmp_path, capsys):
    checkpoint = torch.load(trained["mary"], map_location="cpu", weights_only=True)
    del checkpoint["musicgen_run"]["data"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    overrides = [*MARY, "data.stride=2", f"ckpt_path={old}"]
    line = cli_error(train, run_cfg(tmp_path, "old-other-data", overrides), capsys)
    assert line.startswith(f"error: cannot resume {old}: data cache key ")


def test_a_checkpoint_missing_a_weight_is_one_line_for_sampling(trained, tmp_path, capsys):
    checkpoint = torch.load(trained["mary"], map_location="cpu", weights_only=True)
    del checkpoint["state_dict"]["head.2.bias"]
    broken = tmp_path / "broken.ckpt"
    torch.save(checkpoint, broken)
    cfg = compose_config("sample", [f"ckpt_path={broken}", "formats=[mid]", "num_notes=8"], tmp_path / "out")
    line = cli_error(sample, cfg, capsys)
    assert line == f"error: {broken}: its weights do not fit Mary: missing: head.2.bias"


def test_differences_name_each_changed_setting_and_count_changed_files():
    then = {"config": {"grid": 4, "transpositions": [0]}, "files": [["a.mid", "1"], ["b.mid", "2"]]}
    now = {"config": {"grid": 12, "transpositions": [0]}, "files": [["a.mid", "9"], ["c.mid", "3"]]}
    assert config_differences(then, now) == [
        "config.grid: 4 then, 12 now",
        "source files 1 added, 1 removed, 1 changed",
    ]
