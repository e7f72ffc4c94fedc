"""End to end on a real one-host SLURM cluster: sweeps through the submitit launcher, 2-task DDP,
the README's sbatch script as written, preemption with requeue, and a killed job resubmitted.

Tiny MAR-Y runs on the embedded chorales keep each job to seconds; the time goes into starting
Python in every job.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from cluster.slurmjobs import ROOT, Job, sbatch, wait_until
from cluster.steplog import read_steplog
from musicgen.sweep import job_overrides

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(480)]

TINY = [
    "model=mary", "model.hidden=16", "model.embed_dim=16", "model.dense=16", "model.context=16",
    "data.source.limit=6", "data.transpositions=[0,2]", "data.batch_size=16", "data.stride=4",
    "trainer.limit_val_batches=2", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
]
LAUNCHER = [
    "hydra/launcher=slurm", "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10",
]
# The sbatch options a 2-CPU test node needs instead of the README's 4-GPU ones.
ON_TEST_NODE = ["--gres=none", "--cpus-per-task=1", "--mem=2G", "--time=10"]
# Preemption and kill tests: two epochs of 8 steps, slowed down so a test can act mid-run.
EPOCHS, STEPS_PER_EPOCH, PAUSE_S = 2, 8, 0.3


def entry_point(script: str, *args: str, env: dict[str, str]) -> None:
    """Run ``train.py``/``sample.py`` as a user would; a failure shows the end of its output."""
    result = subprocess.run(
        ["python", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def summary_rows(sweep: Path) -> list[dict[str, str]]:
    with open(sweep / "summary.csv") as fh:
        return list(csv.DictReader(fh))


def run_info(run: Path) -> dict:
    return json.loads((run / "run_info.json").read_text())


def metric_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def readme_sbatch_script(tmp_path: Path) -> Path:
    """The README's batch script, byte for byte."""
    blocks = re.findall(r"```bash\n(#!/bin/bash\n#SBATCH.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) == 1, "the README should hold exactly one sbatch script"
    script = tmp_path / "train.sbatch"
    script.write_text(blocks[0])
    return script


def steplog_callback(path: Path) -> str:
    return f"+callbacks.steplog={{_target_:steplog.StepLog,path:'{path}',pause_s:{PAUSE_S}}}"


def steps_and_batches(entries: list[dict]) -> list[tuple[int, str]]:
    return [(e["step"], e["batch"]) for e in entries]


@pytest.fixture(scope="module")
def train_sweep(slurm, tmp_path_factory) -> Path:
    sweep = tmp_path_factory.mktemp("train-sweep") / "sweep"
    entry_point(
        "train.py", "-m", *LAUNCHER, *TINY, "model.blocks=1,2", "trainer.max_steps=3",
        "trainer.limit_train_batches=3", f"hydra.sweep.dir={sweep}", env=slurm,
    )
    return sweep


def test_a_training_sweep_runs_one_slurm_job_per_point_and_summarises_both(train_sweep):
    rows = summary_rows(train_sweep)
    assert [row["model.blocks"] for row in rows] == ["1", "2"]
    assert all(row["status"] == "finished" and row["steps"] == "3" for row in rows)
    assert all(math.isfinite(float(row["val_loss"])) for row in rows)
    # submitit's folder per SLURM job: one array task per sweep point, each with its result
    results = sorted(train_sweep.glob(".submitit/*/*_result.pkl"))
    assert len(results) == 2 and len({p.parent.name for p in results}) == 2


def test_a_sampling_sweep_runs_one_slurm_job_per_sampler_and_summarises_both(
    train_sweep, slurm, tmp_path
):
    checkpoint = train_sweep / "0" / "checkpoints" / "last.ckpt"
    entry_point(
        "sample.py", "-m", *LAUNCHER, "sampler=argmax,topk", f"ckpt_path={checkpoint}",
        "num_samples=2", "num_notes=16", "formats=[mid]", f"hydra.sweep.dir={tmp_path}", env=slurm,
    )
    rows = summary_rows(tmp_path)
    assert [row["sampler"] for row in rows] == ["argmax", "topk"]
    assert all(row["samples"] == "2" for row in rows)
    assert len(list(tmp_path.glob("*/sample*.mid"))) == 4


def test_two_slurm_tasks_train_as_two_ddp_ranks_logging_what_one_process_logs(
    train_sweep, slurm, tmp_path
):
    entry_point(
        "train.py", "-m", *LAUNCHER, "hydra.launcher.tasks_per_node=2", "trainer=ddp_cpu",
        "trainer.devices=2", *TINY, "model.blocks=1", "trainer.max_steps=3",
        "trainer.limit_train_batches=3", f"hydra.sweep.dir={tmp_path}", env=slurm,
    )
    ddp, one = tmp_path / "0", train_sweep / "0"  # the sweep's point model.blocks=1: one process
    assert run_info(ddp)["world_size"] == 2
    assert run_info(ddp)["cluster_environment"] == "SLURMEnvironment"
    assert run_info(one)["world_size"] == 1
    assert run_info(ddp)["results"]["steps"] == run_info(one)["results"]["steps"] == 3
    ddp_rows, one_rows = metric_rows(ddp), metric_rows(one)
    assert set(ddp_rows[0]) == set(one_rows[0])
    for rows in (ddp_rows, one_rows):
        logged = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
        assert len(logged) == 3 and all(math.isfinite(v) for v in logged)
        assert any(r.get("val/loss") for r in rows)


def test_the_readme_sbatch_script_trains_two_ddp_ranks_as_written(slurm, tmp_path):
    env = {**slurm, "MUSICGEN_OUTPUTS": str(tmp_path)}
    job = sbatch(
        readme_sbatch_script(tmp_path), "trainer=ddp_cpu", *TINY, "model.blocks=1",
        "trainer.max_steps=4", "trainer.limit_train_batches=4",
        options=[*ON_TEST_NODE, "--ntasks-per-node=2", f"--output={tmp_path}/slurm-%j.out"],
        env=env,
    )
    assert job.wait()["JobState"] == "COMPLETED", (tmp_path / f"slurm-{job.id}.out").read_text()
    info = run_info(tmp_path / "train" / f"slurm-{job.id}")
    assert info["status"] == "finished" and info["results"]["steps"] == 4
    assert info["world_size"] == 2 and info["cluster_environment"] == "SLURMEnvironment"


def test_a_failed_sweep_point_reruns_alone_in_its_folder_and_the_summary_is_rewritten(
    train_sweep, slurm
):
    """The README's recipe: the point's own overrides, hydra.sweep.subdir = its folder."""
    point = train_sweep / "1"
    info = run_info(point)
    (point / "run_info.json").write_text(json.dumps({**info, "status": "failed: node lost"}))
    overrides = [f"{key}={value}" for key, value in job_overrides(point).items()]
    entry_point(
        "train.py", "-m", *LAUNCHER, f"hydra.sweep.dir={train_sweep}", "hydra.sweep.subdir=1",
        *overrides, env=slurm,
    )
    assert run_info(point)["resumed_from"] == str(point / "checkpoints" / "last.ckpt")
    assert sorted(p.name for p in train_sweep.iterdir() if not p.name.startswith(".")) == [
        "0", "1", "multirun.yaml", "summary.csv", "summary.md"
    ]
    rows = summary_rows(train_sweep)
    assert [(r["model.blocks"], r["status"], r["steps"]) for r in rows] == [
        ("1", "finished", "3"), ("2", "finished", "3")
    ]


class ScriptRun:
    """One run of the README's sbatch script with the step log, 2 epochs of 8 slowed-down steps."""

    def __init__(self, tmp_path: Path, env: dict[str, str], name: str):
        self.script = readme_sbatch_script(tmp_path)
        self.tmp_path, self.name = tmp_path, name
        self.env = {**env, "MUSICGEN_OUTPUTS": str(tmp_path)}
        self.steplog = tmp_path / f"{name}.jsonl"

    def submit(self, *overrides: str) -> Job:
        return sbatch(
            self.script, "trainer=ddp_cpu", *TINY, "model.blocks=1", f"trainer.max_epochs={EPOCHS}",
            f"trainer.limit_train_batches={STEPS_PER_EPOCH}", steplog_callback(self.steplog),
            *overrides,
            options=[*ON_TEST_NODE, "--ntasks-per-node=1", f"--output={self.tmp_path}/slurm-%j.out"],
            env=self.env,
        )

    def log(self, job: Job) -> str:
        return (self.tmp_path / f"slurm-{job.id}.out").read_text()


@pytest.fixture(scope="module")
def uninterrupted(slurm, tmp_path_factory) -> dict:
    """The reference: the same job never interrupted (submitted once, waited for on first use)."""
    run = ScriptRun(tmp_path_factory.mktemp("uninterrupted"), slurm, "uninterrupted")
    job = run.submit()
    result: dict = {}

    def finished() -> dict:
        if not result:
            assert job.wait()["JobState"] == "COMPLETED", run.log(job)
            result["steplog"] = read_steplog(run.steplog)
            result["steps"] = run_info(run.tmp_path / "train" / f"slurm-{job.id}")["results"]["steps"]
        return result

    return finished


def test_a_job_signalled_with_sigusr1_is_requeued_and_continues_its_steps_and_data_order(
    slurm, uninterrupted, tmp_path
):
    run = ScriptRun(tmp_path, slurm, "preempted")
    job = run.submit()
    signal_at = STEPS_PER_EPOCH + 3  # mid-way through the second epoch
    wait_until(lambda: len(read_steplog(run.steplog)) >= signal_at, 240, f"step {signal_at}")
    job.signal("USR1")  # what --signal=SIGUSR1@90 sends before the time limit
    info = job.wait()
    assert info["JobState"] == "COMPLETED" and info["Restarts"] == "1", run.log(job)

    folder = tmp_path / "train" / f"slurm-{job.id}"
    entries = read_steplog(run.steplog)
    before = [e for e in entries if e["restart"] == 0]
    after = [e for e in entries if e["restart"] == 1]
    assert signal_at <= len(before) < EPOCHS * STEPS_PER_EPOCH  # stopped mid-training
    assert after[0]["step"] == before[-1]["step"] + 1  # continued at the next global step
    reference = uninterrupted()
    assert steps_and_batches(entries) == steps_and_batches(reference["steplog"])
    record = run_info(folder)
    assert record["status"] == "finished"
    assert record["results"]["steps"] == reference["steps"] == EPOCHS * STEPS_PER_EPOCH
    assert record["resumed_from"] == str(folder / "checkpoints" / "last.ckpt")
    assert list(folder.glob("hpc_ckpt_*.ckpt")), "Lightning's SIGUSR1 handler saved no checkpoint"


def test_a_killed_job_resumes_from_its_last_checkpoint_when_resubmitted_into_its_folder(
    slurm, uninterrupted, tmp_path
):
    run = ScriptRun(tmp_path, slurm, "killed")
    folder = tmp_path / "run"
    first = run.submit(f"hydra.run.dir={folder}")
    kill_at = STEPS_PER_EPOCH + 3  # the first epoch's last.ckpt exists, the second is half done
    wait_until(lambda: len(read_steplog(run.steplog)) >= kill_at, 240, f"step {kill_at}")
    # killed outright (as by the OOM killer or a lost node): scancel would SIGTERM first
    os.kill(read_steplog(run.steplog)[-1]["pid"], signal.SIGKILL)
    assert first.wait(release=False)["JobState"] == "FAILED"
    assert (folder / "checkpoints" / "last.ckpt").is_file()

    second = run.submit(f"hydra.run.dir={folder}")
    assert second.wait()["JobState"] == "COMPLETED", run.log(second)
    resumed = [e for e in read_steplog(run.steplog) if e["job"] == second.id]
    reference = uninterrupted()
    # back to the end of the first epoch (the last checkpoint), then exactly the reference's steps
    assert resumed[0]["step"] == STEPS_PER_EPOCH + 1
    assert steps_and_batches(resumed) == steps_and_batches(reference["steplog"][STEPS_PER_EPOCH:])
    record = run_info(folder)
    assert record["status"] == "finished"
    assert record["resumed_from"] == str(folder / "checkpoints" / "last.ckpt")
    assert record["results"]["steps"] == reference["steps"]
