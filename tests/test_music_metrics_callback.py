"""MusicMetricsCallback: generated-sample metrics logged during training, for each model family."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import compose_config, tiny_train_overrides
from hydra.utils import instantiate

from musicgen.callbacks.music_metrics import MusicMetricsCallback
from musicgen.metrics.functional import inside_count
from musicgen.models import load_model
from musicgen.music.records import LeadSheet
from musicgen.sampling.records import model_kind
from musicgen.training import train

CALLBACK = [
    "+callbacks=metrics",
    "callbacks.metrics.num_samples=3",
    "callbacks.metrics.num_tokens=24",
    "callbacks.metrics.log_media=1",
]


def _train_with_callback(model: str, run: Path, *extra: str):
    overrides = [
        *tiny_train_overrides(model),
        "trainer.max_steps=-1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        *CALLBACK,
        *extra,
    ]
    cfg = compose_config("train", overrides, run)
    return cfg, train(cfg)


def _logged(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv") as fh:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(fh)]


@pytest.mark.parametrize(
    ("model", "present", "absent"),
    [
        ("jazzgpt", ["inside_ratio", "downbeat_std", "plagiarism_interval_6"], ["polyphony"]),
        ("lstm", ["downbeat_std", "polyphony", "plagiarism_pitch_duration_4"], ["inside_ratio"]),
    ],
)
def test_callback_logs_generated_and_data_metrics_and_writes_media(model, present, absent, tmp_path):
    run = tmp_path / "train"
    _train_with_callback(model, run)
    rows = _logged(run)
    gen = [r for r in rows if any(k.startswith("gen/") for k in r)]
    data = [r for r in rows if any(k.startswith("data/") for k in r)]
    assert len(gen) == 1 and len(data) == 1
    for name in present:  # plagiarism may be NaN: an untrained model's samples can be too short
        assert f"gen/{name}" in gen[0] and f"data/{name}" in data[0]
    headline = present[0]
    assert 0 <= float(gen[0][f"gen/{headline}"]) <= 1
    assert 0 <= float(data[0][f"data/{headline}"]) <= 1
    for name in absent:
        assert f"gen/{name}" not in gen[0]
    media = run / "samples" / "epoch0"
    assert sorted(p.name for p in media.iterdir()) == ["sample0.mid", "sample0.png", "sample0.wav"]


def test_logged_inside_ratio_is_that_of_the_samples_the_checkpoint_regenerates(tmp_path):
    cfg, ckpt = _train_with_callback("jazzgpt", tmp_path / "train")
    logged = float(next(r for r in _logged(tmp_path / "train") if "gen/inside_ratio" in r)["gen/inside_ratio"])

    callback = MusicMetricsCallback(num_samples=3, log_media=0)
    model = load_model(ckpt)
    data = callback.validation_data(instantiate(cfg.data), model_kind(model))
    samples = callback.generate(model, data)
    counts = [inside_count(s) for s in samples]
    assert len(samples) == 3
    assert logged == pytest.approx(sum(c.inside for c in counts) / sum(c.total for c in counts), abs=1e-6)


def test_metrics_are_logged_only_on_every_nth_epoch(tmp_path):
    run = tmp_path / "train"
    _train_with_callback("lstm", run, "trainer.max_epochs=2", "callbacks.metrics.every_n_epochs=2")
    gen_epochs = [r["epoch"] for r in _logged(run) if "gen/downbeat_std" in r]
    assert gen_epochs == ["1"]
    assert [p.name for p in (run / "samples").iterdir()] == ["epoch1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every_n_epochs": 0}, "every_n_epochs must be >= 1"),
        ({"num_samples": 0}, "num_samples must be >= 1"),
        ({"sampler": {"transform": "nope"}}, "unknown transform 'nope'"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MusicMetricsCallback(**kwargs)


def test_chords_outside_the_vocabulary_are_scored_like_nc_and_rendered_silently(tmp_path):
    # Validation windows decode chords the training vocabulary lacks as <unk>.
    sheet = LeadSheet("w", np.array([60, 64, 0, 62]), np.full(4, 24), ("C", "<unk>", "<unk>", "C"))
    assert inside_count(sheet) == (1, 2, 1)
    files = MusicMetricsCallback(media_dir=tmp_path).save_media(
        SimpleNamespace(current_epoch=0, loggers=[]), [sheet]
    )
    assert all(path.stat().st_size > 0 for path in files[0].values())
