"""``python -m musicgen.evaluate``: music metrics of datasets, and of a checkpoint's decoders.

``task=dataset``: the human baselines (``musicgen.evaluation.datasets``). ``task=transforms``: one
row per decoding transform of a checkpoint, the dataset baseline last
(``musicgen.evaluation.transforms``). ``task=likelihood``: a JazzGPT checkpoint's bits per note
of its data's ``split`` (``musicgen.evaluation.likelihood``). A run writes ``evaluation.json`` and ``evaluation.md`` (and
``evaluation.png`` and ``index.html`` for transforms) into its run folder and prints their paths
(``musicgen.evaluation.report``). Config ``conf/evaluate.yaml``; prepared comparisons in
``conf/study/``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from musicgen.cli import hydra_command
from musicgen.evaluation.datasets import evaluate_dataset
from musicgen.evaluation.likelihood import evaluate_likelihood
from musicgen.evaluation.report import write_report
from musicgen.evaluation.transforms import evaluate_transforms
from musicgen.paths import run_dir


def evaluate(cfg: DictConfig) -> Path:
    """Run ``cfg.task``; returns the path of ``evaluation.json``."""
    tasks = {"dataset": evaluate_dataset, "transforms": evaluate_transforms, "likelihood": evaluate_likelihood}
    if cfg.get("task") not in tasks:
        raise ValueError(f"task={cfg.get('task')}: choose task=dataset, task=transforms or task=likelihood")
    result = tasks[cfg.task](cfg)
    paths = write_report(result, run_dir(cfg), bool(cfg.get("listen")))
    for path in paths:
        print(path.resolve())
    return paths[0]


main = hydra_command("evaluate", evaluate)

if __name__ == "__main__":
    main()
