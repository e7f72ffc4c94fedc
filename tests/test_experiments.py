"""Experiment tooling: DDP, resume, preemption, NaN stops, W&B offline, sweep summaries, recipes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import CONF_DIR, compose_config, tiny_train_overrides
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from omegaconf import OmegaConf
from torch.utils.data import TensorDataset

from musicgen.callbacks.guards import FiniteLossGuard, GracefulStop, NonFiniteLossError
from musicgen.data.resumable import ResumableLoader
from musicgen.loggers import wandb_credentials, wandb_logger
from musicgen.models import load_model
from musicgen.sweep import write_summary
from musicgen.training import train

ROOT = Path(__file__).resolve().parents[1]
ONE_EPOCH = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.max_steps=-1"]


def _env(outputs: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MUSICGEN_OUTPUTS": str(outputs), "PYTHONUNBUFFERED": "1", **extra}


def _train_cli(*args: str, outputs: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT, env=_env(outputs), capture_output=True, text=True, timeout=240,
    )


def _metric_names(run: Path) -> set[str]:
    with open(run / "csv" / "metrics.csv") as fh:
        return {name for name in csv.DictReader(fh).fieldnames if name not in ("epoch", "step")}


def _run_dir(stdout: str) -> Path:
    line = next(line for line in stdout.splitlines() if line.startswith("run directory:"))
    return Path(line.split(":", 1)[1].strip())


def test_ddp_on_two_cpu_processes_logs_the_same_metrics_as_one_process(tmp_path):
    overrides = [*tiny_train_overrides("lstm"), *ONE_EPOCH]
    train(compose_config("train", overrides, tmp_path / "single"))

    ddp = _train_cli(*overrides, "trainer=ddp_cpu", "trainer.devices=2", outputs=tmp_path / "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    run = _run_dir(ddp.stdout)
    assert "GLOBAL_RANK: 1" in ddp.stderr + ddp.stdout
    names = _metric_names(run)
    assert names == _metric_names(tmp_path / "single")
    assert {"train/loss", "val/loss", "train/tokens_per_s"} <= names
    assert any(name.startswith("lr-") for name in names)
    assert json.loads((run / "run_info.json").read_text())["results"]["steps"] == 3


def test_resume_from_last_continues_the_global_step_with_optimizer_state(tmp_path):
    tiny = tiny_train_overrides("lstm")
    first = train(compose_config("train", tiny, tmp_path / "train" / "first"))
    resumed_dir = tmp_path / "train" / "second"
    overrides = [*tiny, "ckpt_path=last", "trainer.max_steps=6"]
    cfg = compose_config("train", overrides, resumed_dir)
    cfg.paths.outputs = str(tmp_path)  # "last" searches <outputs>/train
    last = train(cfg)

    info = json.loads((resumed_dir / "run_info.json").read_text())
    assert info["resumed_from"] == str(first)
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] == info["results"]["steps"] == 6
    state = checkpoint["optimizer_states"][0]["state"]
    assert state and all(int(s["step"]) == 6 for s in state.values())


def test_the_run_folder_records_config_version_commit_and_data_key(tmp_path):
    last = train(compose_config("train", tiny_train_overrides("lstm"), tmp_path / "run"))
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["status"] == "finished" and info["version"] and info["data_cache_key"]
    assert "git_commit" in info and info["parameters"] > 0
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert saved.model.hidden == 16 and saved.data.source.limit == 6
    run = torch.load(last, map_location="cpu", weights_only=False)["musicgen_run"]
    assert run["data_cache_key"] == info["data_cache_key"]
    assert run["config"]["model"]["hidden"] == 16


def test_wandb_without_credentials_logs_offline_to_local_files(tmp_path, monkeypatch, capsys):
    for name in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))
    run = tmp_path / "run"
    train(compose_config("train", [*tiny_train_overrides("lstm"), "logger=[csv,wandb]"], run))

    said = [line for line in capsys.readouterr().out.splitlines() if "offline" in line]
    assert len(said) == 1 and "wandb sync" in said[0]
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("run-*.wandb"))
    assert (run / "csv" / "metrics.csv").is_file()


def test_wandb_credentials_come_from_the_api_key_or_a_netrc_entry(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    netrc_file = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc_file))
    assert wandb_credentials() is None
    netrc_file.write_text("machine example.org login a password b\n")
    assert wandb_credentials() is None
    netrc_file.write_text("machine api.wandb.ai login user password secret\n")
    assert wandb_credentials() == str(netrc_file)
    monkeypatch.setenv("WANDB_API_KEY", "key")
    assert wandb_credentials() == "WANDB_API_KEY"


def test_wandb_with_a_key_but_no_server_goes_offline_without_waiting(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "key")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    started = time.perf_counter()
    wandb_logger(project="test", save_dir=str(tmp_path))
    assert time.perf_counter() - started < 10
    assert "the W&B server is unreachable, logging offline" in capsys.readouterr().out


def test_multirun_of_two_jobs_writes_a_summary_with_two_rows(tmp_path):
    result = _train_cli("-m", *tiny_train_overrides("lstm"), "model.hidden=8,16", outputs=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = next(tmp_path.glob("multirun/*/*/summary.csv"))
    rows = list(csv.DictReader(open(summary)))
    assert [row["model.hidden"] for row in rows] == ["8", "16"]
    assert all(row["status"] == "finished" and row["steps"] == "3" for row in rows)
    assert all(Path(row["checkpoint"]).is_file() for row in rows)
    assert all(float(row["fit_seconds"]) > 0 and float(row["fit_cpu_seconds"]) > 0 for row in rows)
    assert "model.hidden" in (summary.parent / "summary.md").read_text()


def _fake_job(sweep: Path, name: str, overrides: list[str], samples: list[dict]) -> None:
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / "samples.json").write_text(json.dumps({"checkpoint": "x.ckpt", "samples": samples}))


def test_sample_sweep_summary_averages_metrics_and_lists_only_varying_overrides(tmp_path):
    _fake_job(tmp_path, "0_sampler=topk", ["ckpt_path=x.ckpt", "sampler=topk"], [
        {"id": "a", "files": {}, "metrics": {"pitch_entropy": 2.0, "repetition": 0.5}},
        {"id": "b", "files": {}, "metrics": {"pitch_entropy": 3.0, "repetition": 0.25}},
    ])
    _fake_job(tmp_path, "1_sampler=argmax", ["ckpt_path=x.ckpt", "sampler=argmax"], [
        {"id": "a", "files": {}},  # an older samples.json: no metrics
    ])
    csv_path, md_path = write_summary(tmp_path)
    rows = list(csv.DictReader(open(csv_path)))
    assert [row["sampler"] for row in rows] == ["topk", "argmax"]
    assert "ckpt_path" not in rows[0]
    assert float(rows[0]["pitch_entropy"]) == 2.5 and float(rows[0]["repetition"]) == 0.375
    assert rows[1]["pitch_entropy"] == "" and rows[1]["samples"] == "1"
    assert "Shared overrides: `ckpt_path=x.ckpt`" in md_path.read_text()


def test_sweep_cli_names_a_folder_without_jobs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "musicgen.sweep", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 2
    expected = f"error: {tmp_path}: no job folders (with .hydra/overrides.yaml) inside"
    assert result.stderr.strip() == expected


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_killed_run_saves_a_loadable_last_checkpoint(tmp_path, signum):
    args = [*tiny_train_overrides("lstm"), "trainer.max_steps=100000", "trainer.max_epochs=1000"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("training;"):
            break
    time.sleep(1.0)
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, "".join(lines) + out
    run = _run_dir("".join(lines))
    last = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] > 0
    assert load_model(last).hparams.hidden == 16
    info = json.loads((run / "run_info.json").read_text())
    assert info["status"] == f"stopped by {signal.Signals(signum).name}"
    assert not list(run.glob("checkpoints/.*.partial"))


class NaNAtStep(BoringModel):
    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        return out["loss"] * float("nan") if self.global_step == 2 else out


def test_nan_loss_stops_the_run_naming_the_step_and_saves_nothing(tmp_path):
    model = NaNAtStep()
    trainer = L.Trainer(
        max_steps=5, logger=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[FiniteLossGuard(), GracefulStop(tmp_path / "last.ckpt")],
    )
    with pytest.raises(NonFiniteLossError, match="training loss is nan at global step 2 "):
        trainer.fit(model)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not list(tmp_path.rglob("*.ckpt"))


class Recorder(BoringModel):
    """Remembers which examples each training step saw."""

    def __init__(self):
        super().__init__()
        self.seen: list[list[int]] = []

    def training_step(self, batch, batch_idx):
        ids, x = batch
        self.seen.append(ids.tolist())
        return super().training_step(x, batch_idx)

    def train_dataloader(self):
        features = torch.randn(40, 32, generator=torch.Generator().manual_seed(0))
        data = TensorDataset(torch.arange(40), features)
        return ResumableLoader(data, seed=7, batch_size=4)


def _fit(max_steps: int, ckpt_path: Path | None = None, save_at: Path | None = None) -> Recorder:
    L.seed_everything(0)
    model = Recorder()
    save = [ModelCheckpoint(save_at, every_n_train_steps=13, save_top_k=-1)] if save_at else []
    trainer = L.Trainer(
        max_steps=max_steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=bool(save), callbacks=save, limit_val_batches=0,
    )
    trainer.fit(model, ckpt_path=ckpt_path)
    return model


def test_resumable_loader_resumes_mid_epoch_with_the_uninterrupted_batches(tmp_path):
    whole = _fit(25, save_at=tmp_path)  # 10 batches an epoch; saved mid-epoch 1, at step 13
    resumed = _fit(25, ckpt_path=next(tmp_path.glob("*step=13.ckpt")))

    assert resumed.seen == whole.seen[13:]
    assert whole.seen[:10] != whole.seen[10:20]  # each epoch its own order
    for a, b in zip(resumed.parameters(), whole.parameters(), strict=True):
        assert torch.equal(a, b)


def test_launcher_presets_select_joblib_and_submitit_slurm(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        slurm = compose("train", ["hydra/launcher=slurm"], return_hydra_config=True).hydra.launcher
        joblib = compose("train", ["hydra/launcher=joblib"], return_hydra_config=True).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher") and slurm.max_num_timeout > 0
    assert {"partition", "gpus_per_node", "tasks_per_node", "timeout_min"} <= set(slurm)
    assert joblib._target_.endswith("JoblibLauncher")


@pytest.mark.parametrize("recipe", ["jazzgpt_paper", "mary_paper", "lstm_classic"])
def test_each_paper_recipe_composes_and_asks_for_its_data(recipe, tmp_path, monkeypatch):
    monkeypatch.delenv("WJAZZD_PATH", raising=False)
    cfg = compose_config("train", [f"experiment={recipe}"], tmp_path)
    expected = {"jazzgpt_paper": "JazzGPT", "mary_paper": "Mary", "lstm_classic": "LSTMBaseline"}
    assert cfg.model._target_.endswith(expected[recipe])
    with pytest.raises(Exception, match="WJAZZD_PATH|data.path"):
        train(cfg)


RECIPE_DATA = {"jazzgpt_paper": "wjazzd/wjazzd.db", "mary_paper": "ff_midi", "lstm_classic": "ff_midi"}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", sorted(RECIPE_DATA))
def test_each_paper_recipe_trains_as_is_on_real_data(recipe, shared_data, tmp_path):
    path = shared_data / RECIPE_DATA[recipe]
    overrides = [f"experiment={recipe}", f"data.path={path}", "trainer.max_steps=2",
                 "trainer.limit_val_batches=2", "trainer.enable_progress_bar=false"]
    last = train(compose_config("train", overrides, tmp_path))
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 2
