"""What ``python train.py`` does: build data, model, loggers and trainer from the config, then fit.

Every run folder holds what is needed to trust and repeat it: ``config.yaml`` (resolved) and
``run_info.json`` (package version, git commit, data cache key, how the run ended and its
results, which ``python -m musicgen.sweep`` tabulates). Checkpoints carry the same record.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
)
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

import musicgen
from musicgen.callbacks.checkpointing import AtomicCheckpointIO, RunInfo
from musicgen.callbacks.guards import FiniteLossGuard, GracefulStop
from musicgen.loggers import finish_wandb
from musicgen.models import MusicModel, model_family
from musicgen.models.checkpoint import newest_checkpoints, resolve_checkpoint
from musicgen.paths import run_dir
from musicgen.precision import precision_note, resolve_precision
from musicgen.resume import Candidate, choose, data_record, read_candidates, transfer_weights


def git_commit() -> dict[str, Any]:
    """The checkout's commit, and whether uncommitted changes make it an incomplete record."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def start_candidates(cfg: DictConfig, out: Path) -> tuple[list[Candidate], str | None, bool]:
    """Checkpoints this run may start from, read before any data is prepared (so an unusable
    file costs no preparation), where ``ckpt_path=last`` searched (None otherwise), and
    whether to fine-tune from it.

    This run folder's own ``last.ckpt`` comes first: a requeued job (SLURM, submitit)
    continues where it was killed, whatever ``ckpt_path`` says. Otherwise ``ckpt_path``: a file,
    or ``last``, the newest ``last.ckpt`` under ``paths.outputs/train`` that fits this run.
    """
    own = out / "checkpoints" / "last.ckpt"
    finetune = bool(cfg.get("finetune"))
    if own.is_file():
        return read_candidates([own], skip_unreadable=False)[0], None, False
    spec = cfg.get("ckpt_path")
    if not spec:
        if finetune:
            raise ValueError("finetune=true needs the checkpoint to start from: add ckpt_path=...")
        return [], None, False
    if spec != "last":
        path = resolve_checkpoint(spec, cfg.paths.outputs)
        return read_candidates([path], skip_unreadable=False)[0], None, finetune
    search = Path(cfg.paths.outputs) / "train"
    candidates, skipped = read_candidates(newest_checkpoints("last", search), skip_unreadable=True)
    for reason in skipped:
        print(f"ckpt_path=last: skipped {reason}")
    return candidates, str(search.resolve()), finetune


def build_callbacks(cfg: DictConfig, out: Path, info: dict, with_loggers: bool) -> list[Callback]:
    # Two checkpointers: the best by the monitored metric, and last.ckpt after every epoch (a
    # monitored checkpointer's save_last only rewrites it when the metric improves).
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="epoch{epoch:03d}-step{step}",
            auto_insert_metric_name=False,
            monitor=cfg.checkpoint.monitor,
            save_top_k=cfg.checkpoint.save_top_k,
            every_n_epochs=cfg.checkpoint.every_n_epochs,
        ),
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="last",
            every_n_epochs=cfg.checkpoint.every_n_epochs,
            enable_version_counter=False,
        ),
        RunInfo(info),
        FiniteLossGuard(),
        GracefulStop(out / "checkpoints" / "last.ckpt"),
    ]
    if with_loggers:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if cfg.get("early_stopping"):
        callbacks.append(EarlyStopping(**cfg.early_stopping))
    callbacks += [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    return callbacks


def build_trainer(
    cfg: DictConfig, out: Path, info: dict, model: MusicModel, callbacks: list[Callback] | None = None
) -> L.Trainer:
    """The configured Trainer; ``callbacks`` replaces the training run's own (checkpoints, run
    record, guards) for a stage that keeps its results otherwise (``musicgen.reward``)."""
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    if callbacks is None:
        callbacks = build_callbacks(cfg, out, info, with_loggers=bool(loggers))
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    accelerator = trainer_cfg.get("accelerator", "auto")
    precision = resolve_precision(trainer_cfg.get("precision", "32-true"), accelerator, model.cpu_bf16_faster)
    note = precision_note(precision, accelerator)
    if note and rank_zero_only.rank == 0:
        print(note, file=sys.stderr)
    trainer_cfg["precision"] = precision
    plugins = [instantiate(p) for p in trainer_cfg.pop("plugins", None) or []]
    return instantiate(
        trainer_cfg,
        logger=loggers or False,
        callbacks=callbacks,
        plugins=[*plugins, AtomicCheckpointIO()],
        default_root_dir=str(out),  # where Lightning's SLURM requeue writes hpc_ckpt_*.ckpt
    )


def results(trainer: L.Trainer, last: Path) -> dict[str, Any]:
    """The numbers a sweep summary compares: losses, how far training got, which checkpoints."""
    metrics = trainer.callback_metrics
    best = trainer.checkpoint_callback
    best_score = getattr(best, "best_model_score", None)
    return {
        "val_loss": float(metrics["val/loss"]) if "val/loss" in metrics else None,
        "best_val_loss": float(best_score) if best_score is not None else None,
        "train_loss": float(metrics["train/loss"]) if "train/loss" in metrics else None,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "checkpoint": str(last.resolve()),
        "best_checkpoint": getattr(best, "best_model_path", "") or None,
    }


def test_loss(trainer: L.Trainer, model: L.LightningModule, datamodule) -> float:
    """The held-out test loss of the best checkpoint (the last weights when none was kept)."""
    best = getattr(trainer.checkpoint_callback, "best_model_path", "")
    metrics = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
    loss = float(metrics[0]["test/loss"])
    if trainer.is_global_zero:
        print(f"test loss: {loss:.4f} (perplexity {math.exp(loss):.2f}) from {best or 'the last weights'}")
    return loss


def write_run_info(out: Path, record: dict) -> None:
    (out / "run_info.json").write_text(json.dumps(record, indent=2, default=str))


def train(cfg: DictConfig) -> Path:
    """Fit the configured model; returns the path of the last checkpoint."""
    L.seed_everything(cfg.seed, workers=True)
    out = run_dir(cfg)
    candidates, searched, finetune = start_candidates(cfg, out)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, **datamodule.model_inputs())
    data = data_record(datamodule.fingerprint(), datamodule.cache_key())
    start = choose(candidates, model, data, finetune, searched) if candidates or searched else None
    git = git_commit()
    info = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "version": musicgen.__version__,
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "data_cache_key": data["cache_key"],
        "model_family": model_family(model),
        "data": data,
    }
    trainer = build_trainer(cfg, out, info, model)
    resume = start.path if start and not finetune else None
    carried = transfer_weights(start.checkpoint, model) if start and finetune else None
    last = out / "checkpoints" / "last.ckpt"
    params = sum(p.numel() for p in model.parameters())
    cluster = getattr(trainer.strategy, "cluster_environment", None)  # SLURM, torchelastic... (DDP)
    record = {
        **{k: v for k, v in info.items() if k != "config"},
        "command": " ".join(sys.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "resumed_from": str(resume) if resume else None,
        "finetuned_from": {"checkpoint": str(start.path), **carried} if carried is not None else None,
        "parameters": params,
        "precision": str(trainer.precision),
        "world_size": trainer.world_size,
        "cluster_environment": type(cluster).__name__ if cluster else None,
        "status": "running",
    }
    if trainer.is_global_zero:
        OmegaConf.save(cfg, out / "config.yaml", resolve=True)
        write_run_info(out, record)
        print(f"run directory: {out.resolve()}")
        if searched:
            newer = candidates.index(start)
            print(
                f"ckpt_path=last: picked {start.path}, the newest last.ckpt of this model and data"
                + (f" ({newer} newer that differ skipped)" if newer else "")
            )
        if resume:
            print(f"resuming from {resume}")
        if carried is not None:
            kept = ", ".join(f"{n} {what}" for what, n in carried.items())
            print(f"fine-tuning from the weights of {start.path} ({kept}); optimizer and step start afresh")
    for logger in trainer.loggers:
        logger.log_hyperparams({"config": info["config"], "run": record, "model/params": params})
    stop = next(c for c in trainer.callbacks if isinstance(c, GracefulStop))
    clock = (time.perf_counter(), time.process_time())
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume)
    except SIGTERMException:
        if trainer.is_global_zero:
            status = f"stopped by {stop.signal.name}"
            write_run_info(out, {**record, "status": status, "results": results(trainer, last)})
            print(f"{status} at step {trainer.global_step}; saved {last.resolve()}")
            print(f"continue with: python train.py <same overrides> ckpt_path={last.resolve()}")
        sys.exit(128 + stop.signal)
    except BaseException as err:
        if trainer.is_global_zero:
            write_run_info(out, {**record, "status": f"failed: {type(err).__name__}: {err}"})
        raise
    finally:
        finish_wandb(trainer.loggers)
    trainer.save_checkpoint(last)  # the final state, also after a partial last epoch
    summary = results(trainer, last)
    # CPU seconds (all threads) compare runs on a busy machine better than wall seconds do.
    summary["fit_seconds"] = round(time.perf_counter() - clock[0], 1)
    summary["fit_cpu_seconds"] = round(time.process_time() - clock[1], 1)
    if cfg.get("test"):
        summary["test_loss"] = test_loss(trainer, model, datamodule)
    if trainer.is_global_zero:
        write_run_info(out, {**record, "status": "finished", "results": summary})
        print(f"checkpoint: {last.resolve()}")
    return last
