"""Reward fine-tuning: the reward's parts on hand-made melodies, the engine's drawn ids, the
policy-gradient stage on a toy objective, and the experiment config."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import compose_config
from helpers import CHORDS, INFO, MELODY
from hydra.utils import instantiate

from musicgen.commands.train import job
from musicgen.metrics.ngrams import NGramIndex
from musicgen.metrics.reward import (
    MusicReward,
    copying_penalty,
    human_inside_ratio,
    inside_penalty,
    repetition_penalty,
)
from musicgen.models import JazzGPT, load_model, read_checkpoint
from musicgen.music.records import LeadSheet, record_notes
from musicgen.reward import RewardFinetune, chord_windows, leave_one_out, score_melodies
from musicgen.sampling.engine import generate_melodies, melody_strings, sample_melody_ids
from musicgen.sampling.sampler import Sampler


def sheet(notes: list[tuple[int, int]], chords: tuple[str, ...] = ("C7",) * 4, name: str = "s") -> LeadSheet:
    """A lead sheet from (pitch, ticks) pairs over one chord per beat (24 ticks a beat)."""
    return LeadSheet(name, np.array([p for p, _ in notes]), np.array([d for _, d in notes]), chords)


def test_inside_penalty_is_the_distance_of_the_chord_tone_share_from_the_target():
    melody = sheet([(60, 24), (64, 24), (67, 24), (62, 24)])  # C E G on C7, D is not
    assert inside_penalty(melody, 0.5) == pytest.approx(0.25)
    assert inside_penalty(melody, 0.75) == pytest.approx(0.0)


def test_a_silent_melody_gets_the_worst_value_of_every_penalty():
    silence = sheet([(0, 96)])
    index = NGramIndex.from_records([sheet([(60, 12)] * 8)], "interval", 3)
    assert inside_penalty(silence, 0.5) == 1.0
    assert repetition_penalty(silence) == 1.0
    assert copying_penalty(silence, index) == 1.0
    assert MusicReward(0.5, index)(silence) == -3.0


def test_repetition_penalty_counts_the_same_note_struck_again_across_rests():
    hammered = sheet([(60, 12), (60, 12), (0, 12), (60, 12), (62, 48)])
    assert repetition_penalty(hammered) == pytest.approx(2 / 3)  # C-C, C-C (rest skipped), C-D


def test_copying_penalty_is_the_share_of_interval_ngrams_found_in_training():
    training = sheet([(60, 12), (62, 12), (64, 12), (65, 12), (67, 12), (69, 12), (0, 24)])
    index = NGramIndex.from_records([training], "interval", 3)
    copied = sheet([(62, 12), (64, 12), (66, 12), (67, 12), (68, 12), (0, 36)])  # +2 +2 +1 +1
    fresh = sheet([(60, 24), (67, 24), (55, 24), (72, 24)])
    assert copying_penalty(copied, index) == pytest.approx(1 / 2)  # (+2, +2, +1) yes, (+2, +1, +1) no
    assert copying_penalty(fresh, index) == 0.0
    assert copying_penalty(copied, None) == 0.0


def test_music_reward_weighs_its_parts_and_measures_its_target_on_the_training_melodies():
    melodies = [sheet([(60, 24), (62, 24), (64, 24), (65, 24)]), sheet([(67, 48), (61, 48)])]
    assert human_inside_ratio(melodies) == pytest.approx(3 / 6)  # C, E | G of six notes
    reward = MusicReward.from_records(melodies, inside=2.0, repetition=0.5, copying=0.0)
    assert reward.inside_target == pytest.approx(0.5) and reward.index is None
    probe = sheet([(60, 24), (60, 24), (64, 24), (67, 24)])  # inside 1.0, one repeat of three
    assert reward(probe) == pytest.approx(-(2.0 * 0.5 + 0.5 * (1 / 3)))


def test_music_reward_refuses_a_target_outside_zero_to_one():
    with pytest.raises(ValueError, match="inside_target"):
        MusicReward(1.5)


def test_leave_one_out_baseline_subtracts_the_mean_of_the_other_samples_of_the_same_chords():
    advantage = leave_one_out(torch.tensor([1.0, 2.0, 3.0, 0.0, 0.0, 6.0]), 3)
    assert advantage.tolist() == pytest.approx([-1.5, 0.0, 1.5, -3.0, -3.0, 6.0])


CHART = [["C7"] * 8, ["F7"] * 4 + ["G7"] * 4]


def tiny_melody_model() -> JazzGPT:
    """A tiny untrained JazzGPT whose data_info says it writes lead sheets (two bars of 4/4)."""
    torch.manual_seed(0)
    info = {**INFO, "kind": "lead_sheet", "window_bars": 2}
    return JazzGPT(CHORDS, MELODY, info, d_model=32, n_heads=4, enc_layers=1, dec_layers=1, d_ff=64,
                   max_len=64)


def test_drawn_ids_made_into_melodies_are_what_generate_melodies_writes():
    model = tiny_melody_model()
    ids = sample_melody_ids(model, CHART, Sampler(), num_samples=3, max_tokens=40, seed=5)
    written = generate_melodies(model, CHART, Sampler(), num_samples=3, max_tokens=40, seed=5)
    vocab = list(model.hparams.melody_vocab)
    assert [melody_strings(row, vocab, 8 * 24) for row in ids] == written


def test_scored_log_probability_is_the_sum_of_the_drawn_tokens_log_softmax():
    model = tiny_melody_model().eval()
    ids = sample_melody_ids(model, CHART, Sampler(), num_samples=1, max_tokens=40, seed=1)
    log_p, kl, tokens = score_melodies(model, model, CHART, ids)
    assert tokens.tolist() == [len(row) for row in ids]
    assert kl.tolist() == [0.0, 0.0]  # a model against itself
    melody = torch.tensor([[1, *ids[0]]])
    chords = torch.tensor([[model.hparams.chord_vocab.index(c) for c in CHART[0]]])
    logits = model(chords, melody[:, :-1])[0]
    logits[:, :2] = -math.inf
    logits[:, 3] = -math.inf  # the engine never draws <pad>, <bos>, <unk>
    expected = torch.log_softmax(logits, -1).gather(-1, melody[0, 1:, None]).sum()
    assert float(log_p[0].detach()) == pytest.approx(float(expected.detach()), abs=1e-4)


def pitch_share(record: LeadSheet) -> float:
    """Toy objective: the share of the melody's notes that are middle C."""
    _, _, pitches = record_notes(record)
    return float(np.mean(pitches == 60)) if len(pitches) else 0.0


def _fit_toy(tmp_path: Path, steps: int, kl_weight: float) -> list[dict[str, float]]:
    L.seed_everything(0)
    module = RewardFinetune(tiny_melody_model(), pitch_share, CHART * 4, kl_weight=kl_weight,
                            samples_per_chords=4, chords_per_step=2, lr=3e-3, max_tokens=40)
    trainer = L.Trainer(max_steps=steps, logger=L.pytorch.loggers.CSVLogger(tmp_path, name="", version=""),
                        log_every_n_steps=1, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(module)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    return [{k: float(v) for k, v in row.items() if v} for row in rows if row.get("train/reward")]


def test_a_tiny_run_on_a_toy_objective_moves_its_reward_up_and_away_from_the_start(tmp_path, one_thread):
    rows = _fit_toy(tmp_path, steps=30, kl_weight=0.01)
    assert len(rows) == 30
    assert rows[0]["train/kl"] == 0.0  # the policy starts as its reference
    first = np.mean([r["train/reward"] for r in rows[:5]])
    last = np.mean([r["train/reward"] for r in rows[-5:]])
    assert last > first + 0.2, (first, last)
    assert np.mean([r["train/kl"] for r in rows[-5:]]) > 0.1
    assert {"gen/inside_ratio", "gen/repetition_rate", "train/kl_per_token"} <= rows[-1].keys()


def test_the_experiment_config_composes_and_builds_the_music_reward(tmp_path):
    cfg = compose_config("train", ["experiment=reward_finetune", "ckpt_path=x.ckpt",
                                   "reward.kl_weight=0.5"], tmp_path / "run")
    assert cfg.reward.kl_weight == 0.5 and cfg.trainer.max_steps > 0
    reward = instantiate(cfg.reward.function)([sheet([(60, 24), (62, 24), (64, 24), (65, 24)])])
    assert isinstance(reward, MusicReward) and reward.inside_target == pytest.approx(0.5)
    assert reward.index is not None and reward.index.kind == "interval"


def test_reward_finetune_of_a_tiny_checkpoint_saves_a_loadable_model_and_its_before_and_after(
    tmp_path, checkpoints, one_thread
):
    cfg = compose_config("train", [
        "experiment=reward_finetune", f"ckpt_path={checkpoints['jazzgpt']}", "trainer.max_steps=2",
        "reward.eval_samples=3", "reward.max_tokens=32", "reward.chords_per_step=2",
        "reward.samples_per_chords=2", "trainer.enable_progress_bar=false",
    ], tmp_path / "run")
    last = job(cfg)
    model = load_model(last)
    assert read_checkpoint(last)["musicgen_reward"]["finetuned_from"] == str(checkpoints["jazzgpt"])
    assert model.hparams.melody_vocab == load_model(checkpoints["jazzgpt"]).hparams.melody_vocab
    results = json.loads((tmp_path / "run" / "run_info.json").read_text())["results"]
    assert results["steps"] == 2 and results["before"]["kl"] == 0.0
    assert {"inside_ratio", "repetition_rate", "reward"} <= results["after"].keys() & results["human"].keys()
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()


def test_reward_finetune_without_a_checkpoint_says_so_in_one_line(tmp_path):
    cfg = compose_config("train", ["experiment=reward_finetune"], tmp_path / "run")
    with pytest.raises(ValueError, match="needs the model to start from"):
        job(cfg)


def test_a_named_progression_is_cut_into_windows_of_the_models_length():
    windows = chord_windows(["blues"], [], beats=32, beats_per_bar=4)  # 12 bars: 8 + 4
    assert [len(w) for w in windows] == [32, 16]
    assert windows[0][:4] == ["F7"] * 4


def test_reward_finetune_of_a_piano_model_is_refused_in_one_line(tmp_path, checkpoints):
    cfg = compose_config("train", ["experiment=reward_finetune", f"ckpt_path={checkpoints['mary']}"],
                         tmp_path / "run")
    with pytest.raises(ValueError, match="melodies over chords .JazzGPT., not Mary"):
        job(cfg)
