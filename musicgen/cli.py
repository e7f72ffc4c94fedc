"""Entry-point glue: a user's mistake ends in one clear line, not a traceback."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType, ValueType
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from musicgen.callbacks import NonFiniteLossError
from musicgen.music.chords import ChordParseError, shorten

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
USER_ERRORS = (OSError, ValueError, KeyError, ChordParseError, OmegaConfBaseException, NonFiniteLossError)


def run_cli(job: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``job``; errors that a user can fix print one line and exit with status 2.

    Command-line values of the wrong type (``trainer.max_epochs=abc``) are refused before the
    job starts, so a typo never costs a data preparation first. ``MUSICGEN_DEBUG=1`` shows the
    full traceback instead, for bug reports.
    """
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    try:
        if HydraConfig.initialized():
            hydra_cfg = HydraConfig.get()
            groups = set(hydra_cfg.runtime.choices)
            problems = wrong_type_overrides(
                hydra_cfg.job.config_name, list(hydra_cfg.overrides.task), groups
            )
            if problems:
                raise ValueError("; ".join(problems))
        return job(cfg)
    except (*USER_ERRORS, InstantiationException) as err:
        if os.environ.get("MUSICGEN_DEBUG"):
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        sys.exit(2)


def one_line(err: BaseException) -> str:
    """What a user needs from an error, on one line (Hydra and OmegaConf write several)."""
    if isinstance(err, InstantiationException) and err.__cause__ is not None:
        found = re.search(r"^full_key: (\S+)", str(err), flags=re.MULTILINE)
        cause = err.__cause__
        reason = one_line(cause)
        if not isinstance(cause, USER_ERRORS):
            reason = f"{type(cause).__name__}: {reason}"
        return f"{found.group(1)}: {reason}" if found else reason
    if isinstance(err, MissingMandatoryValue) and err.full_key:
        return f"{err.full_key} is not set: add {err.full_key}=... to the command"
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    text = str(err).strip()
    return shorten(text.splitlines()[0], 400) if text else type(err).__name__


def _kind(default: Any) -> str | None:
    """What a command-line value must be to replace ``default`` (None: anything goes)."""
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int | float):
        return "a number"
    return None


def _fits(value: Any, default: Any) -> bool:
    if value is None or (isinstance(value, str) and "${" in value):
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def wrong_type_overrides(config_name: str, overrides: list[str], groups: set[str]) -> list[str]:
    """``key=value`` overrides whose value cannot replace the config's number or boolean.

    The defaults are the config composed with the same group choices (``model=mary``) but none
    of the values, so each value is compared with what it replaces.
    """
    parsed = OverridesParser.create().parse_overrides(overrides)
    values = [
        o for o in parsed
        if o.type == OverrideType.CHANGE and o.value_type == ValueType.ELEMENT and o.key_or_group not in groups
    ]
    if not values:
        return []
    defaults = _compose(config_name, [o.input_line for o in parsed if o.key_or_group in groups])
    problems = []
    for override in values:
        default = OmegaConf.select(defaults, override.key_or_group, throw_on_resolution_failure=False)
        kind = _kind(default)
        if kind and not _fits(override.value(), default):
            shown = str(default).lower() if isinstance(default, bool) else default
            problems.append(f"{override.input_line}: expected {kind} (the default is {shown})")
    return problems


def _compose(config_name: str, overrides: list[str]) -> DictConfig:
    if GlobalHydra.instance().is_initialized():
        return compose(config_name, overrides=overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name, overrides=overrides)
