"""Where musicgen keeps what it makes: caches and outputs never go beside the source data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir


def conf_dir() -> Path:
    """The Hydra config tree that ships beside the package (``conf/``)."""
    return Path(__file__).resolve().parents[1] / "conf"


FAILED_JOB = "error.txt"
"""Written into a multirun job's folder when the job stops on a user's mistake: its one line
(``musicgen.cli``), which the sweep summary lists."""


def cache_dir() -> Path:
    """The cache folder: ``$MUSICGEN_CACHE_DIR`` if set, else the user's cache dir."""
    root = os.environ.get("MUSICGEN_CACHE_DIR") or user_cache_dir("musicgen")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path:
    """The optional ``shared/data`` folder beside the checkout (real data for tests and benchmarks)."""
    env = os.environ.get("MUSICGEN_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def run_dir(cfg: Any) -> Path:
    """The folder a command's run writes into (its config's ``paths.run_dir``, Hydra's run
    folder), created if need be."""
    out = Path(cfg.paths.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out
