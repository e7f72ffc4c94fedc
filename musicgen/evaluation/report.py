"""An evaluation's files: ``evaluation.json``, ``evaluation.md`` and, for transforms, the plot
``evaluation.png`` and the listening page ``index.html``.

Means and stds are over pieces (population std); a piece where a metric is undefined (NaN, e.g.
no notes) is left out of that metric, and NaN is written as null so the JSON is strict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _number(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def mean_std(stat: dict | None) -> str:
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
        rows.append([name, row["samples"], mean_std(metrics.get(headline)),
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


def likelihood_markdown(result: dict[str, Any]) -> str:
    """One row: a checkpoint's loss on its data's split, per token and per note."""
    keys = ["windows", "notes", "tokens", "tokens_per_melody", "nats_per_token", "bits_per_note", "bits_per_event"]
    cells = [f"{result[k]:.4f}" if isinstance(result[k], float) else result[k] for k in keys]
    return "\n".join([f"# Likelihood of {result['checkpoint']} ({result['split']} split)", "",
                      *_table(keys, [cells]), ""])


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
                f"mean {headline}": mean_std(row["metrics"].get(headline))})
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


def write_report(result: dict[str, Any], out: Path, listen: bool) -> list[Path]:
    """Every file of an evaluation ``result`` into ``out``; returns their paths, the JSON first."""
    paths = [out / "evaluation.json", out / "evaluation.md"]
    paths[0].write_text(json.dumps(_json_ready(result), indent=2))
    if result["task"] == "dataset":
        paths[1].write_text(dataset_markdown(result))
        return paths
    if result["task"] == "likelihood":
        paths[1].write_text(likelihood_markdown(result))
        return paths
    paths[1].write_text(transforms_markdown(result))
    paths.append(plot_transforms(result, out / "evaluation.png"))
    if listen:
        paths.append(transforms_page(result, out / "index.html"))
    return paths
