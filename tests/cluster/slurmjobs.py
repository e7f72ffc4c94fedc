"""Driving jobs on the test cluster: submit with sbatch, follow with scontrol, signal with scancel."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


@dataclass
class Job:
    """One SLURM job, followed with ``scontrol`` (the test cluster keeps no accounting database)."""

    id: str
    env: dict[str, str]

    def info(self) -> dict[str, str]:
        out = subprocess.run(
            ["scontrol", "show", "job", "--oneliner", self.id],
            env=self.env, capture_output=True, text=True, check=True,
        ).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def state(self) -> str:
        return self.info()["JobState"]

    def signal(self, name: str) -> None:
        """Send a signal the way SLURM does before a time limit: to the job's steps."""
        subprocess.run(["scancel", f"--signal={name}", self.id], env=self.env, check=True)

    def wait(self, timeout: float = 240, release: bool = True) -> dict[str, str]:
        """Wait for a final state. ``release``: a requeued job is held 2 minutes (its BeginTime);
        start it now, as the scheduler would once that delay had passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.info()
            if info["JobState"] in FINAL_STATES:
                return info
            if release and info["JobState"] == "PENDING" and info.get("Reason") == "BeginTime":
                subprocess.run(
                    ["scontrol", "update", f"JobId={self.id}", "StartTime=now"],
                    env=self.env, check=True,
                )
            time.sleep(0.5)
        subprocess.run(["scancel", self.id], env=self.env)
        raise AssertionError(f"job {self.id} still {self.state()} after {timeout} s")


def sbatch(script: Path, *overrides: str, options: list[str], env: dict[str, str]) -> Job:
    """Submit ``script`` from the repository root with extra sbatch options and overrides."""
    result = subprocess.run(
        ["sbatch", "--parsable", *options, str(script), *overrides],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return Job(result.stdout.strip().split(";")[0], env)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
