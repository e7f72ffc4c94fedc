"""``python -m musicgen.data.stats data=wjazzd data.path=…``: what a data config prepares, as JSON.

Takes the same overrides as ``train.py`` (config ``conf/stats.yaml`` extends ``train.yaml``), and
needs no model: only a MIDI folder or the piano
chorales are windowed by the model's context, so they ask for ``model=mary`` or ``model=lstm``
(or ``data.context=N``) in one line. The JSON is the data module's report: the source's own report (selection
filters, quantization counts) under ``source`` and what preparation made of it. Prepared data is
cached as in training, so a later ``train.py`` with the same settings starts at once.
"""

from __future__ import annotations

import json
import re

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from musicgen.cli import hydra_command
from musicgen.paths import conf_dir

MODEL_KEY = re.compile(r"^\$\{model\.(\w+)\}$")


def models_with(key: str) -> list[str]:
    """The model configs that set ``key``, e.g. ``context``: mary, lstm."""
    return sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml") if key in OmegaConf.load(p))


def model_the_data_needs(cfg: DictConfig) -> str | None:
    """Why ``cfg.data`` cannot be built with ``cfg.model``, naming the models it could use."""
    for key, value in OmegaConf.to_container(cfg.data, resolve=False).items():
        found = MODEL_KEY.match(str(value))
        if found and found.group(1) not in cfg.model:
            wanted = found.group(1)
            choices = " or ".join(f"model={name}" for name in models_with(wanted))
            return f"data.{key} is the model's {wanted}: add {choices} to the command (or data.{key}=N)"
    return None


def data_report(cfg: DictConfig) -> dict:
    """Build ``cfg.data``, prepare it (or load it from the cache) and return its report."""
    needs = model_the_data_needs(cfg)
    if needs:
        raise ValueError(needs)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup()
    return datamodule.report


def print_report(cfg: DictConfig) -> dict:
    """``data_report`` printed as JSON (the command's whole output)."""
    report = data_report(cfg)
    print(json.dumps(report, indent=2, default=str))
    return report


main = hydra_command("stats", print_report)

if __name__ == "__main__":
    main()
