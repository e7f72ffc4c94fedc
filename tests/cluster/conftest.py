"""The one-host SLURM cluster (``slurm.sh``) as a session fixture.

Every test here is marked ``cluster``: ``make test`` leaves them out, ``make test-cluster`` runs
them. The cluster starts once per session (installing slurm and munge when missing) and is
stopped at the end; where it cannot start (not root, no apt-get, no Linux) the tests skip with
the script's one-line reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SLURM_SH = HERE / "slurm.sh"
_started: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if "seconds" in _started:
        terminalreporter.write_line(f"cluster: started in {_started['seconds']:.1f} s")


@pytest.fixture(scope="session")
def slurm() -> dict[str, str]:
    """Start the cluster; yields the environment jobs are submitted with."""
    begin = time.monotonic()
    started = subprocess.run(["bash", str(SLURM_SH), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        subprocess.run(["bash", str(SLURM_SH), "stop"], capture_output=True, text=True)
        lines = started.stderr.strip().splitlines() or ["slurm.sh start failed without a message"]
        pytest.skip(f"no SLURM cluster: {lines[-1]}")
    _started["seconds"] = time.monotonic() - begin
    conf = subprocess.run(["bash", str(SLURM_SH), "env"], capture_output=True, text=True, check=True)
    env = dict(os.environ)
    env["SLURM_CONF"] = conf.stdout.strip().removeprefix("export SLURM_CONF=")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SLURM_SH), "stop"], capture_output=True, text=True)
