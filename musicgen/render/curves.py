"""Loss curves of training runs from their CSV logs (``<run>/csv/metrics.csv``).

``python -m musicgen.render.curves loss.png RUN_DIR [RUN_DIR ...] [--title T]`` (the command is
``musicgen.commands.curves``) draws the runs of a comparison into one picture
(docs/figures/jazzgpt-wjd-loss.png was made this way).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path


def epoch_losses(metrics_csv: str | Path) -> dict[str, list[tuple[int, float]]]:
    """(epoch, loss) pairs of ``train/loss`` (mean over the epoch's logged steps) and ``val/loss``."""
    train: dict[int, list[float]] = {}
    val: list[tuple[int, float]] = []
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            epoch = int(float(row["epoch"])) if row.get("epoch") else None
            if epoch is None:
                continue
            if row.get("train/loss"):
                train.setdefault(epoch, []).append(float(row["train/loss"]))
            if row.get("val/loss"):
                val.append((epoch, float(row["val/loss"])))
    return {"train": [(e, sum(v) / len(v)) for e, v in sorted(train.items())], "val": val}


def plot_loss_curves(runs: Mapping[str, str | Path], path: str | Path, title: str = "") -> Path:
    """One colour per run: training loss dashed, validation loss solid, best epoch marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, (label, metrics_csv) in enumerate(runs.items()):
        color = f"C{i}"
        curves = epoch_losses(metrics_csv)
        if curves["train"]:
            ax.plot(*zip(*curves["train"], strict=True), "--", color=color, alpha=0.6)
        if curves["val"]:
            ax.plot(*zip(*curves["val"], strict=True), "-", color=color, label=label)
            best = min(curves["val"], key=lambda p: p[1])
            ax.plot(*best, "o", color=color)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy per token (nats)")
    ax.set_title(title or "validation (solid, best marked) and training (dashed) loss", fontsize=9)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return Path(path)


def run_metrics(run_dir: str | Path) -> Path:
    """The CSV log of a run folder (``csv/metrics.csv``, or the one file of that name below it)."""
    run = Path(run_dir)
    found = [run / "csv" / "metrics.csv"] if (run / "csv" / "metrics.csv").is_file() else sorted(
        run.rglob("metrics.csv")
    )
    if not found:
        raise FileNotFoundError(f"{run}: no metrics.csv (train with logger=csv, the default)")
    return found[0]


if __name__ == "__main__":  # the command's first name
    from musicgen.commands.curves import main

    main()
