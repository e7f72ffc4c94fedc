"""``python -m musicgen.evaluate``: music metrics of datasets, and of a checkpoint's decoders.

``task=dataset``: the human baselines (``musicgen.evaluation.datasets``). ``task=transforms``: one
row per decoding transform of a checkpoint, the dataset baseline last
(``musicgen.evaluation.transforms``). A run writes ``evaluation.json`` and ``evaluation.md`` (and
``evaluation.png`` and ``index.html`` for transforms) into its run folder and prints their paths
(``musicgen.evaluation.report``). Config ``conf/evaluate.yaml``; prepared comparisons in
``conf/study/``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from musicgen.cli import hydra_command
from musicgen.evaluation.datasets import evaluate_dataset
from musicgen.evaluation.report import write_report
from musicgen.evaluation.transforms import evaluate_transforms
from musicgen.paths import run_dir


def evaluate(cfg: DictConfig) -> Path:
    """Run ``cfg.task``; returns the path of ``evaluation.json``."""
    if cfg.get("task") not in ("dataset", "transforms"):
        raise ValueError(f"task={cfg.get('task')}: choose task=dataset or task=transforms")
    result = evaluate_dataset(cfg) if cfg.task == "dataset" else evaluate_transforms(cfg)
    paths = write_report(result, run_dir(cfg), bool(cfg.get("listen")))
    for path in paths:
        print(path.resolve())
    return paths[0]


main = hydra_command("evaluate", evaluate)

if __name__ == "__main__":
    main()
