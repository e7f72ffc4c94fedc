"""``python -m musicgen.evaluate``: dataset baselines and the per-transform table of a checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config

from musicgen.commands.evaluate import evaluate
from musicgen.data.midi import MidiFolderSource
from musicgen.data.wjazzd import read_solo, solo_ids
from musicgen.evaluation.transforms import row_records, sampler_rows
from musicgen.metrics import functional as F
from musicgen.models import load_model
from musicgen.sampling.configs import build_sampler
from musicgen.sampling.progressions import resolve_chords
from musicgen.sampling.transforms import TRANSFORMS

ROOT = Path(__file__).resolve().parents[1]


def _evaluate(overrides: list[str], run: Path) -> dict:
    path = evaluate(compose_config("evaluate", overrides, run))
    assert path == run / "evaluation.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("model", "settings", "headline"),
    [
        ("jazzgpt", ["chords=ii_v_i"], "inside_ratio"),
        ("lstm", ["num_tokens=24", "primer=data"], "downbeat_std"),
    ],
)
def test_transforms_table_has_a_row_per_transform_then_the_dataset_row(
    checkpoints, tmp_path, model, settings, headline
):
    run = tmp_path / "eval"
    overrides = [
        "task=transforms", f"ckpt_path={checkpoints[model]}", "transforms=[softmax,topk]",
        "num_samples=2", "wjazzd_path=null", *settings,
    ]  # fmt: skip
    result = _evaluate(overrides, run)
    assert result["headline"] == headline
    assert [r["name"] for r in result["rows"]] == ["softmax", "topk", "dataset"]
    assert [r["samples"] for r in result["rows"][:2]] == [2, 2]
    assert "checkpoint data, val split" in result["rows"][-1]["label"]
    for row in result["rows"]:
        assert headline in row["metrics"]

    table = [line for line in (run / "evaluation.md").read_text().splitlines() if line.startswith("| ")]
    assert headline in table[0]
    assert [line.split(" | ")[0] for line in table[2:]] == [
        "| softmax (`softmax`)", "| topk (`topk_k15`)", f"| **{result['rows'][-1]['label']}**",
    ]  # fmt: skip
    assert (run / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (run / "index.html").read_text()  # one sample of each transform, to listen to
    assert page.count("<h2>") == 2 and page.count("<audio ") == 2
    assert [len(r["listen"]) for r in result["rows"][:2]] == [1, 1]
    assert all(Path(f).is_file() for r in result["rows"][:2] for f in r["listen"][0]["files"].values())


def test_beam_row_scores_its_best_beams_without_repeating_them(checkpoints, tmp_path):
    overrides = [
        "task=transforms", f"ckpt_path={checkpoints['jazzgpt']}", "transforms=[beam]",
        "num_samples=10", "chords=ii_v_i", "wjazzd_path=null", "plagiarism=false", "listen=0",
    ]  # fmt: skip
    rows = _evaluate(overrides, tmp_path / "eval")["rows"]
    assert rows[0]["sampler"] == "beam4_softmax" and rows[0]["samples"] == 4
    assert not any(name.startswith("plagiarism") for name in rows[0]["metrics"])


def test_rhythm_changes_baseline_matches_functional_inside_ratio_per_solo(shared_data, tmp_path):
    db = shared_data / "wjazzd" / "wjazzd.db"
    if not db.is_file():
        pytest.skip(f"{db} is absent")
    midi = shared_data / "ff_midi"
    result = _evaluate(
        ["task=dataset", f"wjazzd_path={db}", f"midi_path={midi}"], tmp_path / "eval"
    )
    rc = result["rhythm_changes"]
    melids = solo_ids(db, template="I Got Rhythm", signature="4/4")
    assert [s["melid"] for s in rc["per_solo"]] == melids and rc["skipped"] == []
    expected = [F.inside_ratio(read_solo(db, m, max_choruses=None)) for m in melids]
    assert [s["inside_ratio"] for s in rc["per_solo"]] == pytest.approx(expected)
    assert rc["inside_ratio_mean"] == pytest.approx(np.mean(expected))
    assert rc["metrics"]["inside_ratio"]["mean"] == pytest.approx(np.mean(expected))

    scores, _ = MidiFolderSource(midi, progress=False).load()
    assert result["midi"]["pieces"] == len(scores)
    assert result["midi"]["metrics"]["downbeat_std"]["mean"] == pytest.approx(
        np.nanmean([F.downbeat_std(s) for s in scores])
    )
    markdown = (tmp_path / "eval" / "evaluation.md").read_text()
    assert f"Rhythm Changes solos ({len(melids)})" in markdown
    assert sum(line.startswith(f"| {m} |") for m in melids for line in markdown.splitlines()) == len(melids)


def test_dataset_task_scores_a_split_of_any_data_config(tmp_path):
    overrides = ["task=dataset", "wjazzd_path=null", "data=chorales_leadsheet", "data.source.limit=6"]
    data = _evaluate(overrides, tmp_path / "eval")["data"]
    assert data["split"] == "val" and data["records"] > 0
    assert {"inside_ratio", "downbeat_std", "plagiarism_interval_6"} <= data["metrics"].keys()
    assert 0 <= data["metrics"]["inside_ratio"]["mean"] <= 1


def test_default_transforms_are_every_transform_then_beam_and_unknown_names_are_listed():
    assert [r["name"] for r in sampler_rows(None)] == [*TRANSFORMS, "beam"]
    with pytest.raises(ValueError, match=r"unknown \['bogus'\]; choose from argmax, beam"):
        sampler_rows(["softmax", "bogus"])


def test_a_transform_row_may_carry_its_own_sampler_options():
    rows = sampler_rows(["argmax", {"sampler": "topk", "name": "top50", "k": 50}])
    assert rows == [
        {"name": "argmax", "sampler": "argmax", "options": {}},
        {"name": "top50", "sampler": "topk", "options": {"k": 50}},
    ]


def test_cli_without_a_dataset_is_one_clear_line(tmp_path):
    env = {**os.environ, "MUSICGEN_OUTPUTS": str(tmp_path)}
    env.pop("WJAZZD_PATH", None)
    result = subprocess.run(
        [sys.executable, "-m", "musicgen.evaluate", "task=dataset"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: task=dataset needs wjazzd_path=..., midi_path=... or data=<config>"
    )


def test_transform_rows_play_to_the_last_chord_like_sample_py(checkpoints):
    cfg = compose_config("evaluate", ["task=transforms", "num_samples=3", "max_tokens=400"],
                         Path("unused"))
    model = load_model(checkpoints["jazzgpt"])
    info = model.hparams.data_info
    chords = resolve_chords("blues", beats_per_bar=info["beats_per_bar"])  # 48 beats, past the 4-bar windows
    records = row_records(model, build_sampler("softmax"), cfg, [chords])
    assert len(records) == 3
    for record in records:
        assert int(record.durations.sum()) == len(chords) * info["ticks_per_beat"]


def test_argmax_row_is_one_piece_and_rows_over_several_progressions_play_one_each(checkpoints):
    cfg = compose_config("evaluate", ["task=transforms", "num_samples=5", "max_tokens=200"],
                         Path("unused"))
    model = load_model(checkpoints["jazzgpt"])
    chords = resolve_chords("ii_v_i", beats_per_bar=4)
    assert len(row_records(model, build_sampler("argmax"), cfg, [chords])) == 1
    progressions = [chords, resolve_chords("ii_v_i", key="F", beats_per_bar=4)]
    records = row_records(model, build_sampler("softmax"), cfg, progressions)
    assert [r.chords for r in records] == [tuple(p) for p in progressions]


def test_study_rows_carry_the_research_figure_beside_ours(checkpoints, tmp_path):
    run = tmp_path / "eval"
    overrides = [
        "task=transforms", f"ckpt_path={checkpoints['jazzgpt']}", "num_samples=2", "chords=ii_v_i",
        "wjazzd_path=null", "plagiarism=false", "max_tokens=200",
        "transforms=[argmax,{sampler:topk,name:top50,k:50}]", "+reference.top50=0.217",
    ]  # fmt: skip
    rows = _evaluate(overrides, run)["rows"]
    assert [(r["name"], r["sampler"], r["reference"]) for r in rows[:2]] == [
        ("argmax", "argmax", None), ("top50", "topk_k50", 0.217),
    ]
    header, _, *lines = [line for line in (run / "evaluation.md").read_text().splitlines() if line.startswith("| ")]
    assert "| SE | research |" in header
    assert "| 0.2170 |" in lines[1]
