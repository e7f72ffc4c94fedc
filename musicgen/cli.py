"""Entry-point glue: every command's shape, and a user's mistake as one clear line, not a traceback.

A Hydra command is ``main = hydra_command("<config>", job)``: Hydra composes
``conf/<config>.yaml`` with the command line and ``job(cfg)`` runs under ``run_cli``. The
commands whose arguments are files (``sweep``, ``export``, ``curves``, ``bench``) use
``ArgumentParser`` instead, with the same one-line errors.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import hydra._internal.utils as hydra_utils
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType, ValueType
from hydra.errors import HydraException, InstantiationException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from musicgen.errors import UserError, shorten
from musicgen.paths import FAILED_JOB, conf_dir

# Library deprecation notices a user can do nothing about, silenced by their exact message only.
LIBRARY_NOISE = (
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),  # Lightning's _pytree, torch 2.13
    (UserWarning, r"Precision \S+ is not supported by the model summary"),  # only its size estimate
)
USER_ERRORS = (UserError, OSError, ValueError, KeyError, OmegaConfBaseException)
"""What a user's mistake raises: musicgen's own types, and Python's and OmegaConf's from bad input."""


def run_cli(job: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``job``; errors that a user can fix print one line and exit with status 2.

    Command-line values of the wrong type (``trainer.max_epochs=abc``) are refused before the
    job starts, so a typo never costs a data preparation first. ``MUSICGEN_DEBUG=1`` shows the
    full traceback instead, for bug reports.
    """
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    for category, message in LIBRARY_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)
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
        line = one_line(err)
        print(f"error: {line}", file=sys.stderr)
        hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
        run = OmegaConf.select(hydra_cfg, "runtime.output_dir") if hydra_cfg else None
        if run and hydra_cfg.mode == RunMode.MULTIRUN:
            (Path(run) / FAILED_JOB).write_text(line + "\n")  # the sweep summary lists it
            return None  # the other points of the sweep still run
        if run:
            remove_if_unused(Path(run))
        sys.exit(2)


def remove_if_unused(run: Path) -> None:
    """Remove a run folder holding only what Hydra wrote before the job (``.hydra``, its log),
    so a command that failed leaves no empty run behind."""
    if not run.is_dir() or run.resolve() == Path.cwd().resolve():
        return  # a command that writes nothing (stats) runs in the working directory
    made = [p for p in run.iterdir() if p.name != ".hydra" and not (p.suffix == ".log" and p.is_file())]
    if made:
        return
    shutil.rmtree(run, ignore_errors=True)
    with contextlib.suppress(OSError):
        run.parent.rmdir()  # the date folder, when this was its only run


def hydra_command(config_name: str, job: Callable[[DictConfig], Any]) -> Callable[[], Any]:
    """A command's ``main``: Hydra composes ``conf/<config_name>.yaml`` with the command line
    (the run folder, logging and ``hydra.job.name`` come from the shared ``hydra/output``
    config), then ``job(cfg)`` runs under ``run_cli``; a bad command line is one line too."""

    @hydra.main(config_path=str(conf_dir()), config_name=config_name, version_base="1.3")
    def task(cfg: DictConfig) -> Any:
        return run_cli(job, cfg)

    def main() -> Any:
        return launch(task)

    return main


def launch(main: Callable[[], Any]) -> Any:
    """Call an entry point's ``hydra.main`` so that a bad command line also ends in one line.

    Hydra checks the command line (``model=foo``, a key typo, an unquoted space) before the
    job runs and reports it in several lines with status 1; here its report is one ``error:``
    line with status 2, like every other user mistake. Other errors keep Hydra's own report.
    """
    hydra_report = hydra_utils.run_and_report
    hydra_utils.run_and_report = lambda func: hydra_report(lambda: exit_on_config_error(func))
    try:
        return main()
    finally:
        hydra_utils.run_and_report = hydra_report


def exit_on_config_error(func: Callable[[], Any]) -> Any:
    """``func()``, with a Hydra or OmegaConf configuration error as one ``error:`` line, exit 2."""
    try:
        return func()
    except (HydraException, OmegaConfBaseException) as err:
        if os.environ.get("MUSICGEN_DEBUG"):
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        sys.exit(2)


def _hydra_line(err: HydraException) -> str:
    """Hydra's composition message without its search path and links, as one line."""
    if isinstance(err, MissingConfigException) and err.options:
        found = re.search(r"Could not find '([^/']+)/([^']+)'", str(err))
        if found:
            group, name = found.groups()
            return f"{group}={name}: no such {group} config; choose one of {', '.join(err.options)}"
    lines = []
    for line in str(err).splitlines():
        if line.startswith("Config search path"):
            break
        if line.strip() and not line.startswith("See https://"):
            lines.append(line.strip().rstrip("."))
    if not lines:
        return type(err).__name__
    head, rest = lines[0], lines[1:]
    if isinstance(err.__cause__, OmegaConfBaseException):
        head = f"{head}: {one_line(err.__cause__)}"
    if "missing EQUAL" in str(err):
        rest.append("quote a value that holds spaces: key='a b'")
    return f"{head} ({'; '.join(rest)})" if rest else head


def one_line(err: BaseException) -> str:
    """What a user needs from an error, on one line (Hydra and OmegaConf write several)."""
    if isinstance(err, HydraException) and not isinstance(err, InstantiationException):
        return _hydra_line(err)
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


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one ``error:`` line with status 2, like Hydra commands."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


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
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name, overrides=overrides)
