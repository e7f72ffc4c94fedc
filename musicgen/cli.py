"""Entry-point glue: a user's mistake ends in one clear line, not a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from musicgen.music.chords import ChordParseError

USER_ERRORS = (FileNotFoundError, ValueError, KeyError, ChordParseError, OmegaConfBaseException)


def run_cli(job: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``job``; errors that a user can fix print one line and exit with status 2."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    try:
        return job(cfg)
    except USER_ERRORS as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
