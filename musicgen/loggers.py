"""Experiment loggers that need more than a yaml: W&B that works without an account or network.

A run without W&B credentials must not hang on a login prompt or a network timeout, so the
logger goes offline before wandb ever tries the network; the run can be uploaded later.
"""

from __future__ import annotations

import netrc
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only


def wandb_credentials() -> str | None:
    """Where a W&B API key would come from (``WANDB_API_KEY`` or ``~/.netrc``), or None."""
    if os.environ.get("WANDB_API_KEY"):
        return "WANDB_API_KEY"
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    return str(path) if entry else None


def wandb_reachable(timeout: float = 3.0) -> bool:
    """Whether the W&B server answers a TCP connection (asked only when credentials exist)."""
    url = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def hydra_run_names() -> tuple[str | None, str | None]:
    """(run name, group) from Hydra: a sweep's jobs share the sweep folder as their group."""
    if not HydraConfig.initialized():
        return None, None
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        group = "/".join(Path(hc.sweep.dir).parts[-2:])
        return f"{group}/{hc.job.override_dirname or hc.job.num}", group
    return "/".join(Path(hc.run.dir).parts[-2:]), None


def wandb_logger(
    project: str,
    save_dir: str,
    name: str | None = None,
    group: str | None = None,
    tags: Sequence[str] = (),
    mode: str | None = None,
    **kwargs: Any,
) -> WandbLogger:
    """A WandbLogger that runs offline (saying so once) when there are no credentials.

    ``mode`` (or ``WANDB_MODE``) forces online/offline; otherwise the run is online only when
    credentials exist and the server answers. ``name`` and ``group`` default to the Hydra run
    folder and sweep.
    """
    mode = mode or os.environ.get("WANDB_MODE")
    if mode is None:
        if not wandb_credentials():
            why = "no credentials (WANDB_API_KEY or ~/.netrc)"
        elif not wandb_reachable():
            why = "the W&B server is unreachable"
        else:
            why = None
        mode = "offline" if why else "online"
        if why and rank_zero_only.rank == 0:
            where = Path(save_dir).resolve() / "wandb"
            print(
                f"wandb: {why}, logging offline to {where}; "
                f"upload later with: wandb sync {where}/offline-run-*"
            )
    import wandb  # only when W&B is used: importing it costs a second

    default_name, default_group = hydra_run_names()
    # Offline, the line above says all there is to say; online, keep wandb's links but not the
    # run summary it prints at exit.
    quiet = {"silent": True} if mode == "offline" else {"quiet": True}
    kwargs.setdefault("settings", wandb.Settings(**quiet))
    return WandbLogger(
        project=project,
        save_dir=save_dir,
        name=name or default_name,
        group=group or default_group,
        tags=list(tags),
        offline=mode == "offline",
        **kwargs,
    )


def finish_wandb(loggers: Sequence[Any]) -> None:
    """End this process's W&B run now, so the next run in it (a sweep job) starts its own."""
    if not any(isinstance(logger, WandbLogger) for logger in loggers):
        return
    import wandb  # only when W&B is used: importing it costs a second

    if wandb.run is not None:
        wandb.finish()
