"""The benchmark runs end to end at tiny sizes (so it cannot rot) and its figures mean what they say.

Benchmarks are not tests: nothing here asserts a speed, only that every figure is produced,
finite, written to JSON, and that the rivals of each comparison did the same work.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from musicgen.bench import gpu
from musicgen.bench.report import Row
from musicgen.bench.run import DEFAULT_SECTIONS, main
from musicgen.bench.workloads import FULL, PAPER_TOKENS, WJAZZD, WJAZZD_WINDOWS

CONF = Path(__file__).resolve().parents[1] / "conf" / "data"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    main(["--quick", "--out", str(out)])
    return json.loads(out.read_text())


def test_quick_run_measures_every_section_and_writes_finite_figures(quick_run):
    rows = quick_run["rows"]
    assert {row["section"] for row in rows} == set(DEFAULT_SECTIONS)
    assert all(math.isfinite(row["value"]) and row["value"] > 0 for row in rows)
    assert all(isinstance(row["met"], bool) for row in rows if row["target"])
    assert quick_run["settings"]["quick"] is True and quick_run["machine"]["torch"] == torch.__version__


def test_compared_generation_runs_write_the_same_melodies(quick_run):
    compared = [row for row in quick_run["rows"] if "same_melodies" in row["extra"]]
    assert len(compared) == 2  # KV cache vs re-decoding, batch vs single runs
    assert all(row["extra"]["same_melodies"] for row in compared)


def test_each_model_has_throughput_data_wait_and_peak_memory(quick_run):
    names = [row["name"] for row in quick_run["rows"]]
    for label in ("JazzGPT", "MAR-Y", "LSTM"):
        assert f"{label} training throughput" in names
        assert f"{label} share of step time waiting for data" in names
        assert f"peak RSS: train {label}" in names


def test_compile_section_runs_and_restores_the_models_decode(monkeypatch, tmp_path):
    # torch.compile itself takes minutes; the identity keeps this a test of the benchmark's code.
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    out = tmp_path / "bench.json"
    rows = main(["--quick", "--only", "compile", "--out", str(out)])
    assert [row.section for row in rows] == ["train", "generate"]
    assert all(row.value > 0 for row in rows)


def test_gpu_script_runs_on_cpu_and_prints_one_json_line(capsys):
    result = gpu.main(["--device", "cpu", "--quick", "--batch-size", "4"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line) == json.loads(json.dumps(result))
    assert set(result["models"]) == {"jazzgpt", "mary", "lstm"}
    for row in result["models"].values():
        assert row["bf16_mixed"]["tokens_per_s"] > 0 and row["float32"]["tokens_per_s"] > 0
        assert row["bf16_speedup"] > 0
    assert result["models"]["lstm"]["cudnn_speedup"] > 0
    assert 0 < result["models"]["jazzgpt"]["bf16_share_of_matmul_rate"]


def test_bench_data_settings_match_the_wjazzd_and_midi_configs():
    wjazzd = OmegaConf.load(CONF / "wjazzd.yaml")
    assert wjazzd.source.max_duration_beats == WJAZZD["max_duration_beats"]
    assert {k: wjazzd[k] for k in WJAZZD_WINDOWS} == WJAZZD_WINDOWS
    assert tuple(wjazzd.transpositions) == FULL.transpositions
    assert wjazzd.batch_size == FULL.batch_size
    midi = OmegaConf.load(CONF / "midi.yaml")
    assert {k: midi.tokenizer[k] for k in PAPER_TOKENS} == PAPER_TOKENS


@pytest.mark.parametrize(
    ("target", "value", "met"),
    [(">= 50", 50.0, True), (">= 50", 49.9, False), ("< 1", 0.99, True), ("< 1", 1.0, False), (None, 3.0, None)],
)
def test_a_row_meets_its_target_only_on_the_right_side_of_the_bound(target, value, met):
    assert Row("s", "figure", value, "x", target).met is met
