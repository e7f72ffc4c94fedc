"""A first run explains itself: progress while the chorales are parsed, no library noise."""

from __future__ import annotations

import warnings

import torch
from lightning.pytorch.utilities._pytree import _tree_flatten
from omegaconf import OmegaConf

from musicgen.cli import run_cli
from musicgen.data.embedded import load_chorales


def test_parsing_the_chorales_shows_a_progress_bar_with_counts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICGEN_CACHE_DIR", str(tmp_path))
    chorales = load_chorales(limit=2, workers=1)
    err = capsys.readouterr().err
    assert "parsing Bach chorales with music21 (first run only, then cached)" in err
    assert "2/2" in err and len(chorales) == 2


def test_cached_or_quiet_chorales_print_no_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICGEN_CACHE_DIR", str(tmp_path))
    first = load_chorales(limit=2, workers=1, progress=False)
    assert capsys.readouterr().err == ""
    again = load_chorales(limit=2, workers=1)  # from the cache: nothing to show
    assert [c["id"] for c in again] == [c["id"] for c in first]
    assert capsys.readouterr().err == ""


def test_a_command_hides_lightnings_notices_and_keeps_other_warnings():
    def job(cfg):
        _tree_flatten(torch.zeros(1))  # Lightning builds a torch LeafSpec, deprecated in torch 2.13
        warnings.warn("Precision bf16-mixed is not supported by the model summary. ...", UserWarning, stacklevel=1)
        warnings.warn("a warning the user should see", FutureWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_cli(job, OmegaConf.create())
    assert [str(w.message) for w in caught] == ["a warning the user should see"]
