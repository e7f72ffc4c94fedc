"""A rival that runs in a process of its own, driven step by step from the benchmark.

Some comparisons need a fresh process per side: a peer framework whose thread pools would fight
PyTorch's inside one process (Keras), or a setting read only when the OpenMP runtime starts
(``OMP_WAIT_POLICY``). The worker builds its side once, says it is ready, and then runs step
``i`` each time it receives ``i``, so the benchmark can still interleave the rounds
(``timing.race_over``) and time each step from outside.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any

Worker = Callable[..., None]
"""``worker(conn, *args)``: builds its side, sends one ready value (a version, say), then answers
every ``i`` received with ``conn.send(i)`` after running step ``i``, until it receives None."""


def serve_steps(conn: Connection, step: Callable[[int], object], ready: Any) -> None:
    """The worker's loop: announce ``ready``, then run ``step(i)`` for every ``i`` received."""
    conn.send(ready)
    while (i := conn.recv()) is not None:
        step(i)
        conn.send(i)


class ProcessRival:
    """``worker(conn, *args)`` in a spawned process, with ``env`` set in its environment (a None
    value removes the variable)."""

    def __init__(self, name: str, worker: Worker, args: tuple, env: Mapping[str, str | None] | None = None):
        self.name = name
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        saved = {k: os.environ.get(k) for k in env or {}}
        for key, value in (env or {}).items():  # a spawned child copies the environment when it starts
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            self.process = context.Process(target=worker, args=(child, *args), daemon=True)
            self.process.start()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        child.close()
        self.ready = self._receive()

    def _receive(self) -> Any:
        try:
            return self.conn.recv()
        except EOFError:
            raise RuntimeError(f"bench: the {self.name} process died (see its error above)") from None

    def step(self, i: int) -> None:
        self.conn.send(i)
        self._receive()

    def close(self) -> None:
        self.conn.send(None)
        self.process.join()
