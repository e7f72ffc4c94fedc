"""What a user can fix: the base class of musicgen's own error types, and how one is shown.

Every error type musicgen defines for a user's mistake (a chord symbol it cannot read, a
database of the wrong shape, a training loss that blew up) derives from ``UserError``, so the
command-line glue (``musicgen.cli``) recognises all of them by one class instead of importing
each package's types; Python's own ``OSError``/``ValueError``/``KeyError`` from bad input are
recognised beside it.
"""

from __future__ import annotations

import sys


class UserError(Exception):
    """A mistake in a user's input or settings: a command reports it in one line, exit status 2."""


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to at most ``limit`` characters, saying how long it was: an error that echoes
    a user's input (a whole progression typed without spaces) must stay one readable line."""
    if len(text) <= limit:
        return text
    tail = f"… ({len(text)} characters)"
    return text[: max(limit - len(tail), 0)] + tail


def user_error(message: str) -> None:
    """Stop a command with one ``error:`` line and status 2 (where no exception can carry it)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
