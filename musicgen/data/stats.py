"""Print what a data config prepares, as JSON: ``python -m musicgen.data.stats data=wjazzd data.path=…``.

Takes the same overrides as ``train.py``; a MIDI folder needs its model too, since the model's
context sets the window length: ``python -m musicgen.data.stats model=mary data=midi
data.path=…``. The JSON is the data module's report: the source's own report (selection
filters, quantization counts) under ``source`` and what preparation made of it. Prepared data is
cached as in training, so a later ``train.py`` with the same settings starts at once.
"""

from __future__ import annotations

import json
import sys

from hydra.utils import instantiate
from omegaconf import DictConfig

from musicgen.cli import compose_or_exit, run_cli


def data_report(cfg: DictConfig) -> dict:
    """Build ``cfg.data``, prepare it (or load it from the cache) and return its report."""
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup()
    return datamodule.report


def main(overrides: list[str] | None = None) -> None:
    overrides = sys.argv[1:] if overrides is None else overrides
    cfg = compose_or_exit("train", overrides)
    report = run_cli(data_report, cfg)
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
