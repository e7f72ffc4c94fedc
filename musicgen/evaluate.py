"""``python -m musicgen.evaluate``: music metrics of datasets, and of a checkpoint's decoders.

``task=dataset``: the human baselines. The inside ratio of the Weimar Jazz Database's Rhythm
Changes solos (``wjazzd_path``), per solo and averaged; the metrics of a MIDI folder
(``midi_path``), downbeat STD first; every metric of a split of any data config (``data=...``).

``task=transforms``: the research's Figure 5 for a checkpoint. One row per decoding transform
(``transforms``: sampler config names, default every transform and beam search), each metric's
mean ± std over ``num_samples`` pieces (JazzGPT: melodies over ``chords``, Rhythm Changes by
default, inside ratio first; MAR-Y/LSTM: ``num_tokens`` tokens, downbeat STD first), and the
dataset baseline as the last row, plus a plot of each metric per transform.

A run writes ``evaluation.json`` and ``evaluation.md`` (and ``evaluation.png`` for transforms)
into its run folder and prints their paths. Means and stds are over pieces (population std);
a piece where a metric is undefined (NaN, e.g. no notes) is left out of that metric.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from musicgen.cli import launch, run_cli
from musicgen.data.midi import MidiFolderSource
from musicgen.data.records import LeadSheet, PianoScore
from musicgen.data.tokenizers import tokenizer_from_info
from musicgen.data.vocab import Vocabulary
from musicgen.data.wjazzd import WJazzDError, WJazzDSource, solo_ids
from musicgen.generation import render_settings, write_samples
from musicgen.metrics.callback import datamodule_records, spread, training_indexes
from musicgen.metrics.functional import compute_all, downbeat_std, inside_count
from musicgen.metrics.ngrams import NGramIndex
from musicgen.models import load_model
from musicgen.paths import conf_dir, resolve_checkpoint
from musicgen.sampling.generate import (
    generate_melodies,
    generate_sequences,
    hold_eos_until_filled,
)
from musicgen.sampling.progressions import resolve_chords
from musicgen.sampling.transforms import TRANSFORMS
from musicgen.training import run_dir

Record = LeadSheet | PianoScore
SAMPLER_CONF = conf_dir() / "sampler"
RHYTHM_CHANGES = "I Got Rhythm"
"""``composition_info.template`` of the WJD compositions over Rhythm Changes."""


# ---------------------------------------------------------------- statistics


def summarize(
    records: Sequence[Record], chords_known: bool = True, indexes: Sequence[NGramIndex] = ()
) -> dict[str, dict[str, float]]:
    """Each metric of ``compute_all``: mean, std and number of pieces where it is defined."""
    values = [compute_all(r, chords_known, indexes) for r in records]
    names = list(dict.fromkeys(name for v in values for name in v))
    summary = {}
    for name in names:
        x = np.array([v[name] for v in values if name in v], dtype=np.float64)
        x = x[~np.isnan(x)]
        summary[name] = {
            "mean": float(x.mean()) if len(x) else math.nan,
            "std": float(x.std()) if len(x) else math.nan,
            "pieces": len(x),
        }
    return summary


# ---------------------------------------------------------------- dataset baselines


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
    records = datamodule_records(datamodule, split)
    indexes = [] if split == "train" else training_indexes(datamodule_records(datamodule, "train"))
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


# ---------------------------------------------------------------- decoding transforms


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
    # "recommended" is sample.py's stand-in for a checkpoint's own choice, not a decoding.
    available = sorted(p.stem for p in SAMPLER_CONF.glob("*.yaml") if p.stem != "recommended")
    unknown = [r["sampler"] for r in rows if r["sampler"] not in available]
    if unknown or not rows:
        what = f"unknown {unknown}" if unknown else "no sampler named"
        raise ValueError(f"transforms: {what}; choose from {', '.join(available)}")
    return rows


def build_sampler(name: str, options: DictConfig | dict | None = None):
    """The sampler of ``conf/sampler/<name>.yaml`` with ``options`` merged over it."""
    return instantiate(OmegaConf.merge(OmegaConf.load(SAMPLER_CONF / f"{name}.yaml"), options or {}))


def checkpoint_datamodule(ckpt: Path, data_path: str | None = None):
    """The data module a checkpoint was trained on (its recorded config), or None.

    ``data_path`` stands in for the recorded data file when that one is not on this machine
    (a model trained elsewhere, such as a shipped one, records the path it was trained from).
    """
    run = torch.load(ckpt, map_location="cpu", weights_only=False).get("musicgen_run")
    if not run:
        return None
    data = OmegaConf.create(run["config"]["data"])
    recorded = data.get("path")
    if data_path and recorded and not Path(str(recorded)).exists():
        data.path = data_path
        if "path" in data.get("source", {}):
            data.source.path = data_path
    return instantiate(data)


def generate_records(model, sampler, cfg: DictConfig, chords: list | None,
                     primers: list[list[int]] | None) -> list[Record]:
    """``cfg.num_samples`` pieces with one sampler (JazzGPT: its best beams, when searching).

    ``chords`` is one progression (``num_samples`` melodies over it; one for argmax, which
    would repeat it) or several (one melody each). ``cfg.fill_chords`` withholds ``<eos>`` until the last chord and
    ``cfg.windowed`` plays long chords as overlapping windows, as ``sample.py`` does, so a model
    trained on windows plays through a whole chorus.
    """
    hp = model.hparams
    if chords is not None:
        progressions = chords if chords and not isinstance(chords[0], str) else [chords]
        per = cfg.num_samples if len(progressions) == 1 else 1
        if sampler.beam_width > 1:
            count = min(per, sampler.beam_width)
        else:  # greedy decoding writes the same melody every time: once is enough
            count = 1 if sampler.transform == "argmax" else per
        melodies = generate_melodies(
            model, progressions, sampler, count, cfg.max_tokens, cfg.seed,
            token_filter=hold_eos_until_filled if cfg.fill_chords else None,
            window_bars=hp.data_info.get("window_bars") if cfg.windowed else None,
        )
        info = hp.data_info
        return [
            LeadSheet.from_tokens(
                f"sample{i}", tokens, tuple(progressions[i // count]),
                ticks_per_beat=info["ticks_per_beat"], beats_per_bar=info["beats_per_bar"],
            )
            for i, tokens in enumerate(melodies)
        ]
    vocab = Vocabulary(hp.vocab)
    tokenizer = tokenizer_from_info(hp.data_info["tokenizer"])
    sequences = generate_sequences(model, primers, sampler, cfg.num_tokens, cfg.seed)
    return [tokenizer.decode(vocab.decode(s)).with_(id=f"sample{i}") for i, s in enumerate(sequences)]


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
        records = datamodule_records(datamodule, cfg.split)
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
    windows = datamodule_records(datamodule, cfg.split)
    return [windows[i] for i in spread(len(windows), cfg.num_samples)]


def evaluate_transforms(cfg: DictConfig) -> dict[str, Any]:
    ckpt = resolve_checkpoint(cfg.ckpt_path, cfg.paths.outputs)
    rows_to_run = sampler_rows(cfg.transforms)
    model = load_model(ckpt)
    is_jazz = "chord_vocab" in model.hparams
    own_baseline = not (cfg.wjazzd_path if is_jazz else cfg.midi_path)
    needs_data = (cfg.plagiarism or own_baseline or (not is_jazz and cfg.primer == "data")
                  or (is_jazz and held_out_chords(cfg)))
    datamodule = checkpoint_datamodule(ckpt, cfg.wjazzd_path) if needs_data else None
    indexes = []
    if cfg.plagiarism and datamodule is not None:
        indexes = training_indexes(datamodule_records(datamodule, "train"))
    chords = primers = None
    if is_jazz and held_out_chords(cfg):
        if datamodule is None:
            raise ValueError("chords=held_out needs a checkpoint saved by train.py (its data config)")
        chords = [list(w.chords) for w in held_out_windows(datamodule, cfg)]
    elif is_jazz:
        chords = resolve_chords(
            cfg.chords, key=cfg.key, choruses=cfg.choruses,
            beats_per_bar=model.hparams.data_info["beats_per_bar"], wjazzd_path=cfg.wjazzd_path,
        )
    elif cfg.primer is None:
        primers = [[] for _ in range(cfg.num_samples)]
    elif cfg.primer == "data" and datamodule is not None:
        available = [p for p in datamodule.primers(cfg.split, cfg.primer_length) if p]
        primers = [available[i] for i in spread(len(available), cfg.num_samples)]
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
        records = generate_records(model, sampler, cfg, chords, primers)
        metrics = summarize(records, indexes=indexes)
        rows.append({"name": row["name"], "sampler": sampler.name, "samples": len(records),
                     "options": OmegaConf.to_container(options, resolve=True),
                     "reference": reference.get(row["name"]), "metrics": metrics})
        if settings is not None:
            listen = run_dir(cfg) / "listen" / row["name"]
            rows[-1]["listen"] = write_samples(records[: cfg.listen], listen, cfg, sampler.name, settings)
        print(f"[{number}/{len(rows_to_run)}] {row['name']}: {headline} "
              f"{_mean_std(metrics.get(headline))} over {len(records)} pieces "
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


# ---------------------------------------------------------------- reports


def _number(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def _mean_std(stat: dict | None) -> str:
    if stat is None or math.isnan(stat["mean"]):
        return "–"
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def _standard_error(stat: dict | None) -> str:
    """Standard error of the mean over pieces (the spread of the mean, not of the pieces)."""
    if stat is None or math.isnan(stat["mean"]) or stat["pieces"] < 2:
        return "–"
    return f"{stat['std'] / math.sqrt(stat['pieces'] - 1):.4f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _metric_table(metrics: dict[str, dict]) -> list[str]:
    rows = [(name, _number(s["mean"]), _number(s["std"]), s["pieces"]) for name, s in metrics.items()]
    return _table(("metric", "mean", "std", "pieces"), rows)


def metric_columns(result: dict[str, Any]) -> list[str]:
    """The headline metric, then every other metric in the order the rows report them."""
    names = dict.fromkeys([result["headline"]])
    for row in result["rows"]:
        names.update(dict.fromkeys(row["metrics"]))
    return list(names)


def transforms_markdown(result: dict[str, Any]) -> str:
    columns = metric_columns(result)
    headline = columns[0]
    what = f"chords `{result['chords']}`" if result["chords"] else f"primer `{result['primer']}`"
    lines = [
        f"# Decoding transforms: {result['model']}",
        "",
        f"Checkpoint `{result['checkpoint']}`; {what}; {result['num_samples']} samples per "
        f"sampler, seed {result['seed']}. {headline} is mean ± std over samples with the "
        "standard error of the mean (SE); the other columns are means (stds in "
        "evaluation.json). `research` is the published figure for the same decoding, where "
        "there is one.",
        "",
    ]
    rows = []
    for row in result["rows"]:
        name = f"**{row['label']}**" if row["name"] == "dataset" else f"{row['name']} (`{row['sampler']}`)"
        metrics = row["metrics"]
        reference = row.get("reference")
        rows.append([name, row["samples"], _mean_std(metrics.get(headline)),
                     _standard_error(metrics.get(headline)),
                     "–" if reference is None else f"{reference:.4f}",
                     *(_number(metrics[c]["mean"]) if c in metrics else "–" for c in columns[1:])])
    lines += _table(("sampler", "n", f"{headline} (mean ± std)", "SE", "research", *columns[1:]), rows)
    return "\n".join(lines) + "\n"


def dataset_markdown(result: dict[str, Any]) -> str:
    lines = ["# Dataset baselines", ""]
    if "rhythm_changes" in result:
        rc = result["rhythm_changes"]
        lines += [
            f"## Weimar Jazz Database: Rhythm Changes solos ({rc['solos']})",
            "",
            f"Template `{rc['template']}`, {rc['signature']}; {len(rc['skipped'])} skipped. "
            f"Inside ratio {rc['inside_ratio_mean']:.3f} ± {rc['inside_ratio_std']:.3f} "
            f"(mean ± std over solos), {_number(rc['inside_ratio_pooled'])} pooled over all notes.",
            "",
        ]
        lines += _table(
            ("melid", "performer", "title", "instrument", "notes", "inside ratio"),
            [(s["melid"], s["performer"], s["title"], s["instrument"], s["notes_scored"],
              _number(s["inside_ratio"])) for s in rc["per_solo"]],
        )
        lines += ["", *_metric_table(rc["metrics"]), ""]
    if "midi" in result:
        midi = result["midi"]
        lines += [f"## MIDI folder `{midi['path']}` ({midi['pieces']} pieces)", ""]
        lines += [*_metric_table(midi["metrics"]), ""]
    if "data" in result:
        data = result["data"]
        lines += [f"## `{data['data']}`, {data['split']} split ({data['records']} records)", ""]
        lines += [*_metric_table(data["metrics"]), ""]
    return "\n".join(lines)


def plot_transforms(result: dict[str, Any], path: str | Path) -> Path:
    """One panel per metric: a bar (± std) per sampler, the dataset baseline as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = metric_columns(result)
    samplers = [r for r in result["rows"] if r["name"] != "dataset"]
    baseline = next(r for r in result["rows"] if r["name"] == "dataset")
    ncols = 3
    nrows = math.ceil(len(columns) / ncols)
    fig = Figure(figsize=(4.5 * ncols, 3.2 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    x = np.arange(len(samplers))
    for ax, name in zip(axes, columns, strict=False):
        stats = [r["metrics"].get(name, {"mean": math.nan, "std": math.nan}) for r in samplers]
        ax.bar(x, [s["mean"] for s in stats], yerr=[s["std"] for s in stats], color="tab:blue",
               capsize=2)
        if name in baseline["metrics"] and not math.isnan(baseline["metrics"][name]["mean"]):
            ax.axhline(baseline["metrics"][name]["mean"], color="tab:red", linestyle="--",
                       label="dataset")
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xticks(x, [r["name"] for r in samplers], rotation=60, ha="right", fontsize=7)
    for ax in axes[len(columns):]:
        ax.set_axis_off()
    fig.suptitle(f"{result['model']}: metrics per decoding transform ({baseline['label']} dashed)")
    fig.savefig(path)
    return Path(path)


def transforms_page(result: dict[str, Any], path: Path) -> Path:
    """The listening page of a transforms run: one section per transform, its first samples."""
    from musicgen.render.page import Section, write_page

    headline = result["headline"]
    sections = [
        Section(row["name"], row["listen"], {"sampler": row["sampler"],
                f"mean {headline}": _mean_std(row["metrics"].get(headline))})
        for row in result["rows"] if row.get("listen")
    ]  # fmt: skip
    intro = f"{result['model']} · {Path(result['checkpoint']).name} · seed {result['seed']}"
    return write_page(path, "Decoding transforms, side by side", sections, intro)


def _json_ready(value: Any) -> Any:
    """NaN as null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def evaluate(cfg: DictConfig) -> Path:
    """Run ``cfg.task``; returns the path of ``evaluation.json``."""
    if cfg.get("task") not in ("dataset", "transforms"):
        raise ValueError(f"task={cfg.get('task')}: choose task=dataset or task=transforms")
    result = evaluate_dataset(cfg) if cfg.task == "dataset" else evaluate_transforms(cfg)
    out = run_dir(cfg)
    paths = [out / "evaluation.json", out / "evaluation.md"]
    paths[0].write_text(json.dumps(_json_ready(result), indent=2))
    if cfg.task == "dataset":
        paths[1].write_text(dataset_markdown(result))
    else:
        paths[1].write_text(transforms_markdown(result))
        paths.append(plot_transforms(result, out / "evaluation.png"))
        if cfg.listen:
            paths.append(transforms_page(result, out / "index.html"))
    for path in paths:
        print(path.resolve())
    return paths[0]


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_cli(evaluate, cfg)


if __name__ == "__main__":
    launch(main)
