"""Shipped models: loadable by name, small, and the same music as the weights they came from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from musicgen.data.records import LeadSheet
from musicgen.data.vocab import SPECIALS
from musicgen.models import JazzGPT, load_model
from musicgen.models.export import main as export_main
from musicgen.models.pretrained import (
    pretrained_names,
    pretrained_path,
    recommended_sampler,
    slim_checkpoint,
)
from musicgen.paths import resolve_checkpoint
from musicgen.sampling.generate import generate_melodies, hold_eos_until_filled
from musicgen.sampling.progressions import resolve_chords

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_pretrained_name_is_one_line_listing_the_shipped_names(tmp_path):
    result = subprocess.run(
        [sys.executable, "sample.py", "ckpt_path=pretrained:unknown", f"paths.outputs={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "no shipped model 'unknown'" in last and "jazzgpt-wjd" in last


def test_shipped_jazzgpt_is_a_few_megabytes_and_loads_by_name():
    assert "jazzgpt-wjd" in pretrained_names()
    path = resolve_checkpoint("pretrained:jazzgpt-wjd")
    assert path == pretrained_path("jazzgpt-wjd") and path.stat().st_size < 8 * 2**20
    model = load_model(path)
    assert isinstance(model, JazzGPT) and model.hparams.d_model == 128
    assert model.hparams.enc_layers == model.hparams.dec_layers == 3


def test_shipped_jazzgpt_fills_a_rhythm_changes_chorus_with_notes_that_do_not_fragment(one_thread):
    model = load_model(pretrained_path("jazzgpt-wjd"))
    info = model.hparams.data_info
    chords = resolve_chords("rhythm_changes", beats_per_bar=info["beats_per_bar"])
    recommended = recommended_sampler(pretrained_path("jazzgpt-wjd"))
    assert recommended is not None, "the shipped model records the decoding docs/results.md chose"
    sampler = instantiate(recommended)
    melodies = generate_melodies(
        model, chords, sampler, num_samples=4, max_tokens=1000, seed=0,
        token_filter=hold_eos_until_filled, window_bars=info["window_bars"],
    )
    for melody in melodies:
        sheet = LeadSheet.from_tokens("s", melody, tuple(chords), ticks_per_beat=info["ticks_per_beat"],
                                      beats_per_bar=info["beats_per_bar"])
        assert int(sheet.durations.sum()) == len(chords) * info["ticks_per_beat"]  # every chord played over
        notes = int((sheet.pitches > 0).sum())
        assert notes >= len(chords) // 4, f"{notes} notes over {len(chords)} beats"
    # Human solos over these changes hold 2.7 tokens per beat; played as one 32-bar window the
    # model broke into 1-4 tick fragments after bar 8 (7.2 per beat).
    per_beat = sum(map(len, melodies)) / (len(melodies) * len(chords))
    assert per_beat < 4, f"{per_beat:.1f} tokens per beat"


def _tiny_jazzgpt() -> JazzGPT:
    torch.manual_seed(0)
    melody = [*SPECIALS, *(f"{p}:{d}" for p in (0, 60, 62, 64, 67) for d in (12, 24))]
    return JazzGPT(
        chord_vocab=[*SPECIALS, "C7", "F7"], melody_vocab=melody,
        data_info={"ticks_per_beat": 24, "beats_per_bar": 4}, d_model=32, n_heads=4, d_ff=64,
        enc_layers=1, dec_layers=1,
    ).eval()


def test_half_precision_weights_change_log_probabilities_only_by_rounding(tmp_path):
    model = _tiny_jazzgpt()
    full = {"musicgen_model": "musicgen.models.jazzgpt.JazzGPT", "hyper_parameters": dict(model.hparams),
            "state_dict": model.state_dict(), "optimizer_states": [{"big": torch.zeros(1000)}]}
    torch.save(full, tmp_path / "full.ckpt")
    slim = slim_checkpoint(full)
    assert "optimizer_states" not in slim
    assert all(v.dtype == torch.float16 for v in slim["state_dict"].values() if v.is_floating_point())
    torch.save(slim, tmp_path / "slim.ckpt")
    chords = torch.tensor([[4, 4, 5, 5]])
    melody = torch.tensor([[1, 5, 7, 9, 11]])  # <bos> then notes
    before = load_model(tmp_path / "full.ckpt")(chords, melody).log_softmax(-1)
    after = load_model(tmp_path / "slim.ckpt")(chords, melody).log_softmax(-1)
    assert 0 < (before - after).abs().max() < 1e-2


def test_export_keeps_a_recommended_sampler(tmp_path):
    model = _tiny_jazzgpt()
    source = tmp_path / "trained.ckpt"
    torch.save({"musicgen_model": "musicgen.models.jazzgpt.JazzGPT",
                "hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, source)
    export_main([str(source), str(tmp_path / "shipped.ckpt"), "--sampler", "topk", "k=5"])
    recommended = recommended_sampler(tmp_path / "shipped.ckpt")
    assert recommended["transform"] == "topk" and recommended["k"] == 5
    assert isinstance(load_model(tmp_path / "shipped.ckpt"), JazzGPT)



@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.ckpt", "x.ckpt"], "no checkpoint file at missing.ckpt"),
        (["trained.ckpt", "x.ckpt", "--sampler", "topk", "kk=5"], "--sampler override 'kk=5'"),
        (["trained.ckpt", "x.ckpt", "--sampler", "nope"], "--sampler nope: no "),
    ],
)
def test_export_answers_a_wrong_file_or_sampler_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    model = _tiny_jazzgpt()
    torch.save({"musicgen_model": "musicgen.models.jazzgpt.JazzGPT",
                "hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()},
               tmp_path / "trained.ckpt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        export_main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "x.ckpt").exists()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], {"transform": "topk", "k": 5, "temperature": 1.0}),
        (["sampler.temperature=0.9"], {"transform": "topk", "k": 5, "temperature": 0.9}),
        (["sampler=xlnx"], {"transform": "xlnx", "temperature": 1.0}),
    ],
)
def test_sample_py_uses_the_checkpoints_recommended_sampler_unless_told_otherwise(
    tmp_path, overrides, expected
):
    from conftest import compose_config

    from musicgen.generation import sampler_config

    model = _tiny_jazzgpt()
    plain = tmp_path / "plain.ckpt"
    torch.save({"musicgen_model": "musicgen.models.jazzgpt.JazzGPT",
                "hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}, plain)
    export_main([str(plain), str(tmp_path / "shipped.ckpt"), "--sampler", "topk", "k=5"])
    cfg = compose_config("sample", overrides, tmp_path / "run")
    chosen = sampler_config(cfg, tmp_path / "shipped.ckpt")
    assert {k: chosen[k] for k in expected} == expected
    if not overrides:
        assert sampler_config(cfg, plain).transform == "softmax"  # nothing recommended
