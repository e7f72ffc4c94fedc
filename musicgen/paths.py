"""Where musicgen keeps what it makes: caches and outputs never go beside the source data."""

from __future__ import annotations

import os
from pathlib import Path

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


def resolve_checkpoint(spec: str | os.PathLike, outputs: str | os.PathLike = "outputs") -> Path:
    """A checkpoint path from a user's ``ckpt_path``.

    ``latest`` is the newest ``*.ckpt`` under ``outputs``; ``last`` the newest ``last.ckpt``
    (what an interrupted run resumes from); ``pretrained:<name>`` a model shipped with the
    package; anything else must be an existing file.
    """
    spec = str(spec)
    if spec.startswith("pretrained:"):
        from musicgen.models.pretrained import pretrained_path

        return pretrained_path(spec)
    if spec in ("latest", "last"):
        return newest_checkpoints(spec, outputs)[0]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={spec}: no such checkpoint file")
    return path


def newest_checkpoints(spec: str, outputs: str | os.PathLike) -> list[Path]:
    """Checkpoints under ``outputs`` newest first: every ``*.ckpt`` for ``latest``, every
    ``last.ckpt`` for ``last``; a one-line error when there is none."""
    pattern = "last.ckpt" if spec == "last" else "*.ckpt"
    found = sorted(Path(outputs).rglob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    if not found:
        raise FileNotFoundError(f"ckpt_path={spec}: no {pattern} under {Path(outputs).resolve()}")
    return found
