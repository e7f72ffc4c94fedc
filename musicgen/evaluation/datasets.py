"""The human baselines (``task=dataset``): what the music a model learns from measures.

The inside ratio of the Weimar Jazz Database's Rhythm Changes solos (``wjazzd_path``), per solo
and averaged; the metrics of a MIDI folder (``midi_path``), downbeat STD first; every metric of a
split of any data config (``data=...``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from musicgen.data.midi import MidiFolderSource
from musicgen.data.wjazzd import WJazzDError, WJazzDSource, solo_ids
from musicgen.metrics.functional import downbeat_std, inside_count
from musicgen.metrics.ngrams import training_indexes
from musicgen.metrics.registry import summarize
from musicgen.music.records import LeadSheet

RHYTHM_CHANGES = "I Got Rhythm"
"""``composition_info.template`` of the WJD compositions over Rhythm Changes."""


def rhythm_changes_solos(path: str | Path) -> tuple[list[LeadSheet], list[dict]]:
    """The WJD's 4/4 solos over Rhythm Changes, and those skipped (beats leaving 4/4) with why."""
    source = WJazzDSource(path, signature="4/4", max_choruses=None)
    sheets, skipped = [], []
    for melid in solo_ids(path, template=RHYTHM_CHANGES, signature="4/4"):
        try:
            sheets.append(source.read_solo(melid))
        except WJazzDError as err:
            skipped.append({"melid": melid, "reason": str(err)})
    if not sheets:
        raise ValueError(f"{path}: no readable 4/4 solos with template {RHYTHM_CHANGES!r}")
    return sheets, skipped


def rhythm_changes_baseline(path: str | Path) -> dict[str, Any]:
    """Inside ratio of each Rhythm Changes solo, their mean and std, and the pooled ratio."""
    sheets, skipped = rhythm_changes_solos(path)
    solos, inside, scored = [], 0, 0
    for sheet in sheets:
        count = inside_count(sheet)
        inside, scored = inside + count.inside, scored + count.total
        meta = sheet.meta
        solos.append({
            "melid": meta["melid"], "performer": meta["performer"], "title": meta["title"],
            "instrument": meta["instrument"], "notes_scored": count.total,
            "inside_ratio": count.ratio,
        })  # fmt: skip
    ratios = np.array([s["inside_ratio"] for s in solos])
    return {
        "file": str(path),
        "template": RHYTHM_CHANGES,
        "signature": "4/4",
        "solos": len(solos),
        "skipped": skipped,
        "inside_ratio_mean": float(np.nanmean(ratios)),
        "inside_ratio_std": float(np.nanstd(ratios)),
        "inside_ratio_pooled": inside / scored if scored else math.nan,
        "per_solo": solos,
        "metrics": summarize(sheets),
    }


def midi_baseline(path: str | Path) -> dict[str, Any]:
    """Every metric of the pieces of a MIDI folder, with each piece's downbeat STD."""
    scores, report = MidiFolderSource(path, progress=False).load()
    return {
        "path": str(path),
        "pieces": len(scores),
        "report": report,
        "per_piece": [{"id": s.id, "notes": len(s), "downbeat_std": downbeat_std(s)} for s in scores],
        "metrics": summarize(scores),
    }


def data_baseline(data_cfg: DictConfig, split: str) -> dict[str, Any]:
    """Every metric of a split of a data config; plagiarism is against its training split."""
    datamodule = instantiate(data_cfg)
    records = datamodule.records(split)
    indexes = [] if split == "train" else training_indexes(datamodule.records("train"))
    return {
        "data": data_cfg.get("_target_"),
        "source": OmegaConf.to_container(data_cfg.source, resolve=True),
        "split": split,
        "records": len(records),
        "metrics": summarize(records, indexes=indexes),
    }


def evaluate_dataset(cfg: DictConfig) -> dict[str, Any]:
    result: dict[str, Any] = {"task": "dataset"}
    if cfg.wjazzd_path:
        result["rhythm_changes"] = rhythm_changes_baseline(cfg.wjazzd_path)
    if cfg.midi_path:
        result["midi"] = midi_baseline(cfg.midi_path)
    if cfg.get("data") is not None:
        result["data"] = data_baseline(cfg.data, cfg.split)
    if len(result) == 1:
        raise ValueError("task=dataset needs wjazzd_path=..., midi_path=... or data=<config>")
    return result
