"""What ``python train.py`` does: build data, model, loggers and trainer from the config, then fit."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

import musicgen
from musicgen.paths import resolve_checkpoint

log = logging.getLogger(__name__)


class RunInfo(Callback):
    """Stores the resolved config, package version, git commit and data cache key in checkpoints."""

    def __init__(self, info: dict):
        self.info = info

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["musicgen_run"] = self.info


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_dir(cfg: DictConfig) -> Path:
    out = Path(cfg.paths.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def build_callbacks(cfg: DictConfig, out: Path, info: dict) -> list[Callback]:
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="epoch{epoch:03d}-step{step}",
            auto_insert_metric_name=False,
            monitor=cfg.checkpoint.monitor,
            save_top_k=cfg.checkpoint.save_top_k,
            every_n_epochs=cfg.checkpoint.every_n_epochs,
            save_last=True,
        ),
        RunInfo(info),
    ]
    if cfg.get("early_stopping"):
        callbacks.append(EarlyStopping(**cfg.early_stopping))
    callbacks += [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    return callbacks


def train(cfg: DictConfig) -> Path:
    """Fit the configured model; returns the path of the last checkpoint."""
    L.seed_everything(cfg.seed, workers=True)
    out = run_dir(cfg)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, **datamodule.model_inputs())
    info = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "version": musicgen.__version__,
        "git_commit": git_commit(),
        "data_cache_key": datamodule.cache_key(),
    }
    OmegaConf.save(cfg, out / "config.yaml", resolve=True)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=build_callbacks(cfg, out, info))
    resume = resolve_checkpoint(cfg.ckpt_path, cfg.paths.outputs) if cfg.get("ckpt_path") else None
    print(f"run directory: {out.resolve()}")
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume)
    last = out / "checkpoints" / "last.ckpt"
    if not last.exists():  # fast_dev_run saves nothing: write one so the run can be sampled
        trainer.save_checkpoint(last)
    print(f"checkpoint: {last.resolve()}")
    return last
