"""The benchmark runs end to end at tiny sizes (so it cannot rot) and its figures mean what they say.

Benchmarks are not tests: nothing here asserts a speed, only that every figure is produced,
finite, written to the results files, that the rivals of each comparison did the same work and
ran in turn, and that a peer that is not installed is skipped with its reason. TensorFlow and
MidiTok are not needed (their peers are skipped without them).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from musicgen.bench import gpu, peers, timing
from musicgen.bench.peers import (
    composer_config,
    composer_notes,
    folder_slices,
    keras_batch,
    our_composer,
)
from musicgen.bench.processes import ProcessRival, serve_steps
from musicgen.bench.report import Row, Skipped, write_results
from musicgen.bench.run import DEFAULT_SECTIONS, main
from musicgen.bench.threads import RUNTIME_DEFAULT
from musicgen.bench.timing import Load, race, watch_load
from musicgen.bench.train import lstm_flops
from musicgen.bench.workloads import FULL, PAPER_TOKENS, QUICK, WJAZZD, WJAZZD_WINDOWS
from musicgen.music.records import PianoScore
from musicgen.render.midi import score_to_midi

CONF = Path(__file__).resolve().parents[1] / "conf" / "data"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    main(["--quick", "--out", str(out)])
    (written,) = out.glob("*-quick.json")
    return json.loads(written.read_text())


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
        assert f"{label} FLOP/s share of the measured matmul rate" in names
        assert f"peak RSS: train {label}" in names


def test_every_figure_says_how_busy_the_machine_was_and_ratios_carry_their_spread(quick_run):
    rows = quick_run["rows"]
    assert all(row["load"]["cores"] >= 1 and isinstance(row["load"]["busy"], bool) for row in rows)
    compared = [row for row in rows if row["unit"] == "x"]
    assert compared and all(row["spread"] is not None for row in compared)
    assert all(low <= high for low, high in (row["spread"] for row in compared))
    assert quick_run["settings"]["load"]["cores"] >= 1


def test_a_share_under_its_goal_comes_with_the_profile_of_a_step(quick_run):
    for row in quick_run["rows"]:
        if row["met"] is False and "FLOP/s share" in row["name"]:
            assert row["profile"] and all(op["share"] >= 0 for op in row["profile"])


def test_race_runs_the_rivals_in_turn_and_reports_the_lowest_and_highest_round():
    calls = []
    timed = race(lambda: calls.append("ours"), lambda: calls.append("theirs"), 3)
    assert calls == ["ours", "theirs"] * 3
    assert timed.low <= timed.ratio <= timed.high and len(timed.rounds) == 3
    assert timed.load is not None and timed.load.cores >= 1


def test_watch_load_does_not_count_this_process_as_others():
    with watch_load() as watch:
        sum(range(2_000_000))
    assert watch.load is not None and 0 <= watch.load.other_cores <= watch.load.cores


def _burn_then_wait(burned, stop) -> None:
    while time.process_time() < 0.3:
        pass
    burned.set()
    stop.wait(30)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads a live process's CPU time from /proc")
def test_a_live_rival_process_counts_as_the_benchmark_not_as_others():
    context = multiprocessing.get_context("spawn")
    burned, stop = context.Event(), context.Event()
    before = timing._own_cpu_seconds()
    child = context.Process(target=_burn_then_wait, args=(burned, stop), daemon=True)
    child.start()
    try:
        assert burned.wait(60)
        assert timing._own_cpu_seconds() - before >= 0.3  # the child is alive, not yet reaped
    finally:
        stop.set()
        child.join()


@pytest.mark.parametrize(("others", "busy"), [(0.1, False), (0.4, False), (0.6, True), (None, True)])
def test_a_machine_is_busy_when_others_use_over_a_quarter_of_its_cores(others, busy):
    assert Load(load_average=3.0, other_cores=others, cores=2).busy is busy


def test_results_are_dated_json_and_markdown_and_a_full_run_refreshes_latest(tmp_path):
    row = Row("peers", "ours vs theirs", 2.0, "x", ">= 1.5", "detail", spread=(1.8, 2.2),
              load=Load(1.0, 0.2, 2).as_dict())
    settings = {"command": "python -m musicgen.bench --peers", "quick": False, "elapsed_s_total": 1.0,
                "load": Load(1.0, 0.2, 2).as_dict()}
    json_path, md_path = write_results(tmp_path, [row], settings, [Skipped("MidiTok", "miditok not installed")])
    assert json.loads(json_path.read_text())["rows"][0]["met"] is True
    page = md_path.read_text()
    assert "| ours vs theirs | 2.00x | 1.80x - 2.20x | >= 1.5x | yes |" in page
    assert "- MidiTok: miditok not installed" in page
    assert (tmp_path / "latest.md").read_text() == page
    quick = write_results(tmp_path / "q", [row], {**settings, "quick": True}, [])
    assert quick[0].name.endswith("-quick.json") and not (tmp_path / "q" / "latest.md").exists()


def test_quick_peers_run_what_is_installed_and_skip_the_rest_with_a_reason(tmp_path):
    rows = main(["--quick", "--only", "peers", "--out", str(tmp_path)])
    (written,) = tmp_path.glob("*-quick.json")
    skipped = {s["peer"]: s["reason"] for s in json.loads(written.read_text())["skipped"]}
    for name, modules, _ in peers.PEERS:
        if peers.missing(*modules):
            assert "not installed" in skipped[name] and "[peers]" in skipped[name]
        else:
            assert name not in skipped
    preprocessing = [r for r in rows if "music21 preprocessing" in r.name]
    assert len(preprocessing) == 1 and preprocessing[0].value > 0


def test_missing_names_the_absent_module_and_the_extra():
    assert peers.missing("numpy") is None
    assert peers.missing("no_such_module_xyz") == "no_such_module_xyz not installed (pip install -e .[peers])"


def test_the_composer_reads_windows_as_ids_over_the_vocabulary_and_one_hot_targets():
    x, y = torch.tensor([[0, 2, 5], [1, 1, 3]]), torch.tensor([4, 0])
    inputs, targets = keras_batch((x, y), vocab_size=8)
    assert inputs.shape == (2, 3, 1) and inputs.dtype == np.float32
    np.testing.assert_allclose(inputs[0, :, 0], [0, 0.25, 0.625])
    assert targets.tolist() == [[0, 0, 0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]]


def test_the_keras_composer_is_sized_from_our_model_set_up_its_way():
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", "C4", "0.4.7"]
    ours = our_composer(vocab, FULL, recurrent_dropout=0.3)
    hp = ours.hparams
    assert (hp.input, hp.optimizer, hp.hidden, hp.layers, hp.context, hp.dense) == ("scalar", "rmsprop", 512, 3, 100, 256)
    assert composer_config(ours) == {"hidden": 512, "layers": 3, "context": 100, "dense": 256, "dropout": 0.3,
                                     "recurrent_dropout": [0.3, 0.3, 0.0], "vocab_size": 6}
    assert composer_config(our_composer(vocab, QUICK, 0.0))["hidden"] == QUICK.model_overrides["lstm"]["hidden"]


def test_the_composer_preprocessing_writes_notes_by_name_and_chords_as_normal_order(tmp_path):
    score = PianoScore("two", np.array([0.0, 1.0, 1.0, 1.0]), np.array([1.0] * 4), np.array([62, 60, 64, 67]))
    assert composer_notes(score_to_midi(score, tmp_path / "two.mid")) == ["D4", "0.4.7"]


def test_folder_slices_deal_every_file_once():
    files = [Path(f"{i}.mid") for i in range(7)]
    parts = folder_slices(files, 3)
    assert len(parts) == 3 and sorted(p for part in parts for p in part) == sorted(files)


def test_lstm_flops_count_four_gates_per_real_step_direction_and_layer():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.zeros(2, 7, 3)
    # layer 0 reads 3 inputs, layer 1 both directions' 10; each: 2 FLOPs x 4 gates x 5 x (in + 5)
    per_step = sum(2 * 4 * 5 * (width + 5) * 2 for width in (3, 10))
    assert lstm_flops(lstm, x) == 14 * per_step
    packed = pack_padded_sequence(x, torch.tensor([7, 4]), batch_first=True)
    assert lstm_flops(lstm, packed) == 11 * per_step


def test_compile_section_runs_and_restores_the_models_decode(monkeypatch, tmp_path):
    # torch.compile itself takes minutes; the identity keeps this a test of the benchmark's code.
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    rows = main(["--quick", "--only", "compile", "--out", str(tmp_path)])
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


def _report_wait_policy(conn, marker: str) -> None:
    policy = tuple(os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    serve_steps(conn, lambda i: None, (marker, policy))


@pytest.mark.parametrize(
    "env, seen",
    [(RUNTIME_DEFAULT, (None, "300000")), ({"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None}, ("ACTIVE", None))],
    ids=["runtime-default", "active"],
)
def test_a_process_rival_starts_with_its_own_environment_and_leaves_ours_alone(env, seen):
    before = dict(os.environ)
    rival = ProcessRival("probe", _report_wait_policy, ("probe",), env)
    try:
        rival.step(0)
    finally:
        rival.close()
    assert rival.ready == ("probe", seen)
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    "preset, expected",
    [({}, "unset 3000"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE unset"), ({"GOMP_SPINCOUNT": "1000"}, "unset 1000")],
)
def test_importing_musicgen_shortens_the_openmp_spin_unless_the_user_chose(preset, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | preset
    probe = "import os, musicgen; print(*(os.environ.get(k, 'unset') for k in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("preset, flushed", [({}, True), ({"MUSICGEN_FLUSH_DENORMAL": "0"}, False)])
def test_importing_musicgen_flushes_denormals_to_zero_in_every_thread_unless_turned_off(preset, flushed):
    # 1e-30 * 1e-10 is a denormal; a tensor this long is split over all of torch's threads.
    env = {k: v for k, v in os.environ.items() if k != "MUSICGEN_FLUSH_DENORMAL"} | preset
    probe = (
        "import musicgen, torch; x = torch.full((1 << 20,), 1e-30) * 1e-10; "
        "print(int((x == 0).sum()), x.numel())"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    zeros, total = map(int, out.stdout.split())
    assert zeros == (total if flushed else 0)


MMAPPED_BLOCKS_AFTER_A_LARGE_TENSOR = """
import ctypes, musicgen, torch
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblks
x = torch.empty(64 << 20, dtype=torch.uint8)  # twice glibc's largest threshold for using mmap
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the freed-memory setting is glibc's (mallopt)")
@pytest.mark.parametrize("preset, kept", [({}, True), ({"MUSICGEN_KEEP_FREED_MEMORY": "0"}, False)])
def test_importing_musicgen_takes_large_blocks_from_the_heap_unless_turned_off(preset, kept):
    env = {k: v for k, v in os.environ.items() if k != "MUSICGEN_KEEP_FREED_MEMORY"} | preset
    out = subprocess.run([sys.executable, "-c", MMAPPED_BLOCKS_AFTER_A_LARGE_TENSOR], env=env,
                         capture_output=True, text=True, check=True)
    assert (int(out.stdout) == 0) is kept
