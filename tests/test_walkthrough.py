"""The recipes of docs/architecture.md, followed: a toy decoding transform and a toy metric, each
added by touching only the places the recipe names, reach sampling, the configs and the reports.

Nothing here is left behind: the registries are patched for one test, and the new sampler config
is written into a copy of ``conf/``.
"""

from __future__ import annotations

import math
import shutil

import pytest
import torch
from helpers import CHORDS, INFO, MELODY
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from musicgen.evaluation.transforms import sampler_rows
from musicgen.metrics import METRICS, MusicMetric, MusicMetrics, compute_all, summarize
from musicgen.models import JazzGPT
from musicgen.music.records import Record, record_notes
from musicgen.paths import conf_dir
from musicgen.sampling import configs
from musicgen.sampling.records import generate_records
from musicgen.sampling.transforms import TRANSFORMS, transform_table


def cube(x: torch.Tensor, k: int | None = None, alpha: float = 0.01) -> torch.Tensor:
    """x³

    clip: a negative logit is never drawn."""
    return x.clamp(min=0) ** 3


def note_count(record: Record) -> float:
    """Sounding notes in the piece."""
    return float(len(record_notes(record).pitches))


@pytest.fixture
def jazzgpt() -> JazzGPT:
    torch.manual_seed(0)
    return JazzGPT(CHORDS, MELODY, {"kind": "lead_sheet", **INFO}, d_model=32, n_heads=4,
                   enc_layers=1, dec_layers=1, d_ff=64, max_len=128).eval()  # fmt: skip


@pytest.fixture
def toy_transform(monkeypatch, tmp_path):
    """Recipe steps 1-3: the function (its docstring is its table row), its TRANSFORMS entry, and
    a sampler config that extends the plain one in two lines."""
    monkeypatch.setitem(TRANSFORMS, "cube", cube)
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir(), conf)
    (conf / "sampler" / "cube.yaml").write_text("defaults: [softmax, _self_]\ntransform: cube\n")
    monkeypatch.setattr(configs, "conf_dir", lambda: conf)
    return conf


def test_a_toy_transform_is_a_sampler_config_a_row_of_the_table_and_an_evaluation_row(toy_transform):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(toy_transform), version_base="1.3"):
        composed = compose("sample", overrides=["sampler=cube", "sampler.temperature=0.5"])
    GlobalHydra.instance().clear()
    assert (composed.sampler.transform, composed.sampler.temperature) == ("cube", 0.5)
    assert "cube" in configs.sampler_names()
    assert sampler_rows(["cube"]) == [{"name": "cube", "sampler": "cube", "options": {}}]
    assert "| `cube` | x³ | clip: a negative logit is never drawn. | divides x first |" in transform_table()


def test_a_toy_transform_drives_generation(toy_transform, jazzgpt):
    sampler = configs.build_sampler("cube", {"top_p": 0.9})
    assert sampler.name == "cube_p0.9"
    records = generate_records(jazzgpt, sampler, [["C7", "F7", "G7", "C7"]], count=2, max_tokens=30)
    assert [r.id for r in records] == ["sample0", "sample1"]
    assert all(int(r.durations.sum()) == 4 * INFO["ticks_per_beat"] for r in records)


def test_a_toy_metric_is_computed_per_piece_pooled_and_summarised(monkeypatch, jazzgpt):
    """Recipe: the function, then one METRICS entry (a mean over pieces unless it says otherwise)."""
    monkeypatch.setitem(METRICS, "note_count", MusicMetric(note_count))
    records = generate_records(jazzgpt, configs.build_sampler("softmax"), [["C7", "F7"]] * 3,
                               max_tokens=30)  # fmt: skip
    counts = [compute_all(r)["note_count"] for r in records]
    assert counts == [note_count(r) for r in records]
    pooled = MusicMetrics("lead_sheet")
    pooled.update(records)
    assert math.isclose(float(pooled.compute()["note_count"]), sum(counts) / len(counts))
    assert summarize(records)["note_count"]["pieces"] == 3
    assert "note_count" in MusicMetrics("piano")  # both record kinds, unless the entry says so
