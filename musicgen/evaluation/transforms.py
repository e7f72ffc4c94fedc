"""The decoding transforms of a checkpoint compared (``task=transforms``): the research's Figure 5.

One row per decoding transform (``transforms``: sampler config names or mappings with options,
default every transform and beam search), each metric's mean ± std over ``num_samples`` pieces
(JazzGPT: melodies over ``chords``, Rhythm Changes by default, or the checkpoint data's held-out
windows; MAR-Y/LSTM: ``num_tokens`` tokens), and the dataset baseline as the last row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from musicgen.data.midi import MidiFolderSource
from musicgen.evaluation.datasets import rhythm_changes_solos
from musicgen.evaluation.report import mean_std
from musicgen.metrics.ngrams import NGramIndex, training_indexes
from musicgen.metrics.registry import summarize
from musicgen.models import datamodule_from_checkpoint, load_model
from musicgen.models.checkpoint import resolve_checkpoint
from musicgen.music.records import LeadSheet, Record, record_notes
from musicgen.paths import run_dir
from musicgen.render.samples import render_settings, write_samples
from musicgen.sampling.configs import build_sampler, sampler_names
from musicgen.sampling.engine import TokenSampler, hold_eos_until_filled
from musicgen.sampling.progressions import resolve_chords
from musicgen.sampling.records import generate_records, model_kind, spread
from musicgen.sampling.transforms import TRANSFORMS


def sampler_rows(entries: Sequence[str | Mapping] | None) -> list[dict[str, Any]]:
    """The rows to compare: ``{"name", "sampler", "options"}`` each.

    An entry is a sampler config name (``topk``) or a mapping naming one with options for it
    (``{sampler: topk, k: 50, name: top50}``); None means every transform, then beam search.
    """
    entries = list(entries) if entries is not None else [*TRANSFORMS, "beam"]
    rows = []
    for entry in entries:
        if isinstance(entry, str):
            rows.append({"name": entry, "sampler": entry, "options": {}})
            continue
        entry = dict(entry)
        sampler = entry.pop("sampler", None)
        name = entry.pop("name", None) or sampler
        rows.append({"name": name, "sampler": sampler, "options": entry})
    available = sampler_names()
    unknown = [r["sampler"] for r in rows if r["sampler"] not in available]
    if unknown or not rows:
        what = f"unknown {unknown}" if unknown else "no sampler named"
        raise ValueError(f"transforms: {what}; choose from {', '.join(available)}")
    return rows


def row_records(model, sampler: TokenSampler, cfg: DictConfig, inputs: list) -> list[Record]:
    """``cfg.num_samples`` pieces with one sampler (JazzGPT: its best beams, when searching).

    ``inputs`` is one progression (``num_samples`` melodies over it; one for argmax, which
    would repeat it), several (one melody each) or the primers. ``cfg.fill_chords`` withholds
    ``<eos>`` until the last chord and ``cfg.windowed`` plays long chords as overlapping windows,
    as ``sample.py`` does, so a model trained on windows plays through a whole chorus.
    """
    count = 1
    if model_kind(model) == "lead_sheet" and len(inputs) == 1:
        count = cfg.num_samples
        if sampler.beam_width > 1:
            count = min(count, sampler.beam_width)
        elif sampler.transform == "argmax":  # greedy decoding writes the same melody every time
            count = 1
    return generate_records(
        model, sampler, inputs, count=count, max_tokens=cfg.max_tokens, num_tokens=cfg.num_tokens,
        seed=cfg.seed, token_filter=hold_eos_until_filled if cfg.fill_chords else None,
        windowed=cfg.windowed,
    )


def transforms_baseline(cfg: DictConfig, is_jazz: bool, datamodule,
                        indexes: Sequence[NGramIndex]) -> dict[str, Any]:
    """The dataset row: ``wjazzd_path``'s Rhythm Changes solos (JazzGPT) or ``midi_path``'s pieces
    (MAR-Y/LSTM) when given, else the checkpoint's own data split.

    Plagiarism is scored only on the checkpoint's own held-out split: other data may overlap
    the training set.
    """
    if is_jazz and held_out_chords(cfg) and datamodule is not None:
        records = held_out_windows(datamodule, cfg)
        label = f"the same {len(records)} held-out windows ({cfg.split} split), as played"
    elif is_jazz and cfg.wjazzd_path:
        records = rhythm_changes_solos(cfg.wjazzd_path)[0]
        label, indexes = f"WJD Rhythm Changes solos ({len(records)})", ()
    elif not is_jazz and cfg.midi_path:
        records = MidiFolderSource(cfg.midi_path, progress=False).load()[0]
        label, indexes = f"MIDI folder {cfg.midi_path} ({len(records)} pieces)", ()
    elif datamodule is not None:
        records = datamodule.records(cfg.split)
        label = f"checkpoint data, {cfg.split} split ({len(records)} pieces)"
    else:
        path = "wjazzd_path" if is_jazz else "midi_path"
        raise ValueError(f"no dataset baseline: give {path}=..., or a checkpoint saved by train.py")
    return {"name": "dataset", "label": label, "samples": len(records),
            "metrics": summarize(records, indexes=indexes)}


def held_out_chords(cfg: DictConfig) -> bool:
    """``chords=held_out``: play over the checkpoint data's own held-out windows (``split``)."""
    return cfg.chords == "held_out"


def held_out_windows(datamodule, cfg: DictConfig) -> list[LeadSheet]:
    """``num_samples`` windows spread over the checkpoint data's ``split``."""
    windows = datamodule.records(cfg.split)
    return [windows[i] for i in spread(len(windows), cfg.num_samples)]


def evaluate_transforms(cfg: DictConfig) -> dict[str, Any]:
    ckpt = resolve_checkpoint(cfg.ckpt_path, cfg.paths.outputs)
    rows_to_run = sampler_rows(cfg.transforms)
    model = load_model(ckpt)
    is_jazz = model_kind(model) == "lead_sheet"
    own_baseline = not (cfg.wjazzd_path if is_jazz else cfg.midi_path)
    needs_data = (cfg.plagiarism or own_baseline or (not is_jazz and cfg.primer == "data")
                  or (is_jazz and held_out_chords(cfg)))
    datamodule = datamodule_from_checkpoint(ckpt, cfg.wjazzd_path) if needs_data else None
    indexes = []
    if cfg.plagiarism and datamodule is not None:
        indexes = training_indexes(datamodule.records("train"))
    if is_jazz and held_out_chords(cfg):
        if datamodule is None:
            raise ValueError("chords=held_out needs a checkpoint saved by train.py (its data config)")
        inputs = [list(w.chords) for w in held_out_windows(datamodule, cfg)]
    elif is_jazz:
        inputs = [resolve_chords(
            cfg.chords, key=cfg.key, choruses=cfg.choruses,
            beats_per_bar=model.hparams.data_info["beats_per_bar"], wjazzd_path=cfg.wjazzd_path,
        )]
    elif cfg.primer is None:
        inputs = [[] for _ in range(cfg.num_samples)]
    elif cfg.primer == "data" and datamodule is not None:
        available = [p for p in datamodule.primers(cfg.split, cfg.primer_length) if p]
        inputs = [available[i] for i in spread(len(available), cfg.num_samples)]
    else:
        raise ValueError(f"primer={cfg.primer}: use null, or data with a checkpoint saved by train.py")
    rows = []
    settings = render_settings(cfg) if cfg.listen else None
    reference = dict(cfg.get("reference") or {})
    headline = "inside_ratio" if is_jazz else "downbeat_std"
    for number, row in enumerate(rows_to_run, 1):
        started = time.perf_counter()
        # plain containers: Hydra's sampler_options is closed to keys it did not list
        options = OmegaConf.merge(OmegaConf.to_container(cfg.sampler_options), row["options"])
        sampler = build_sampler(row["sampler"], options)
        records = row_records(model, sampler, cfg, inputs)
        seconds = time.perf_counter() - started  # generation alone, before metrics and files
        metrics = summarize(records, indexes=indexes)
        rows.append({"name": row["name"], "sampler": sampler.name, "samples": len(records),
                     "generation_seconds": seconds,
                     "notes": sum(len(record_notes(r).pitches) for r in records),
                     "options": OmegaConf.to_container(options, resolve=True),
                     "reference": reference.get(row["name"]), "metrics": metrics})
        if settings is not None:
            listen = run_dir(cfg) / "listen" / row["name"]
            rows[-1]["listen"] = write_samples(records[: cfg.listen], listen, cfg, sampler.name, settings)
        print(f"[{number}/{len(rows_to_run)}] {row['name']}: {headline} "
              f"{mean_std(metrics.get(headline))} over {len(records)} pieces "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    rows.append(transforms_baseline(cfg, is_jazz, datamodule, indexes))
    return {
        "task": "transforms",
        "checkpoint": str(ckpt.resolve()),
        "model": type(model).__name__,
        "headline": headline,
        "chords": cfg.chords if is_jazz else None,
        "primer": None if is_jazz else cfg.primer,
        "num_samples": cfg.num_samples,
        "seed": cfg.seed,
        "rows": rows,
    }
