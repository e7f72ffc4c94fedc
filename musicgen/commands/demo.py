"""``python -m musicgen.demo ckpt_path=latest port=7860``: a live demo (config ``conf/demo.yaml``).

A small standard-library web server with one static page (``demo.html``): a person types chords
or picks a named progression, chooses the sampler and its settings, presses Generate and gets
the audio player, the engraved score, the piano roll and a MIDI download. The model is loaded
once; each request writes its files into a numbered folder of the run directory. A mistake in
the form comes back as the same one line the command line would print, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import torch
from omegaconf import DictConfig, OmegaConf

from musicgen.cli import USER_ERRORS, hydra_command, one_line
from musicgen.commands.sample import piece_maker
from musicgen.metrics.registry import compute_all
from musicgen.models import load_model
from musicgen.models.checkpoint import resolve_checkpoint
from musicgen.paths import run_dir
from musicgen.render import render_all
from musicgen.render.midi import INSTRUMENTS
from musicgen.render.samples import render_settings, sample_title
from musicgen.sampling.configs import build_sampler, sampler_names
from musicgen.sampling.progressions import PROGRESSIONS
from musicgen.sampling.records import model_kind

PAGE = Path(__file__).with_name("demo.html")
CONTENT_TYPES = {
    ".wav": "audio/wav", ".svg": "image/svg+xml", ".png": "image/png", ".mid": "audio/midi",
    ".musicxml": "application/vnd.recordare.musicxml+xml", ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}  # fmt: skip
FORM_FIELDS = {
    "chords": str, "key": str, "choruses": int, "sampler": str, "k": int, "temperature": float,
    "chord_aware": float, "instrument": str, "seed": int, "num_notes": int,
}  # fmt: skip
"""What a request may set, and the type each value is read as."""


def _read_field(name: str, value: Any) -> Any:
    kind = FORM_FIELDS[name]
    if value is None or value == "":
        return None
    try:
        read = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value}: expected {'a number' if kind is not str else 'text'}") from None
    if kind is float and math.isnan(read):
        raise ValueError(f"{name}={value}: expected a number")
    return read


class DemoApp:
    """The model and the settings of one demo session; ``generate`` turns a form into files."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(int(cfg.threads))
        self.ckpt = resolve_checkpoint(cfg.ckpt_path, cfg.paths.outputs)
        self.model = load_model(self.ckpt)
        self.is_jazz = model_kind(self.model) == "lead_sheet"
        self.out = run_dir(cfg)
        self.samplers = [name for name in sampler_names() if name != "beam"]  # beam writes several
        self._lock = threading.Lock()
        self._count = 0

    def options(self) -> dict[str, Any]:
        """What the page offers: the model kind, named progressions, samplers, instruments, defaults."""
        cfg = self.cfg
        return {
            "model": "jazzgpt" if self.is_jazz else self.model.__class__.__name__.lower(),
            "checkpoint": self.ckpt.name,
            "progressions": list(PROGRESSIONS),
            "samplers": self.samplers,
            "instruments": list(INSTRUMENTS),
            "defaults": {
                "chords": cfg.chords, "key": cfg.key or "", "choruses": cfg.choruses,
                "sampler": cfg.sampler, "k": 15, "temperature": 1.0, "chord_aware": 0.0,
                "instrument": cfg.instrument, "seed": cfg.seed, "num_notes": cfg.num_notes,
            },  # fmt: skip
        }

    def request_config(self, form: dict[str, Any]) -> tuple[DictConfig, Any]:
        """The run config and sampler of one request; unknown fields and bad values are refused."""
        unknown = sorted(set(form) - set(FORM_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        values = {name: _read_field(name, value) for name, value in form.items()}
        values = {k: v for k, v in values.items() if v is not None}
        choruses = values.get("choruses", self.cfg.choruses)
        if not 1 <= choruses <= self.cfg.max_choruses:
            raise ValueError(f"choruses={choruses}: expected 1 to {self.cfg.max_choruses}")
        name = values.pop("sampler", self.cfg.sampler)
        if name not in self.samplers:
            raise ValueError(f"sampler={name}: choose one of {', '.join(self.samplers)}")
        options = {k: values.pop(k) for k in ("k", "temperature", "chord_aware") if k in values}
        sampler = build_sampler(name, options)
        base = OmegaConf.create(OmegaConf.to_container(self.cfg))  # Hydra's config is closed to new keys
        cfg = OmegaConf.merge(base, {"num_samples": 1, "primer": None, "primer_length": 32, **values})
        return cfg, sampler

    def generate(self, form: dict[str, Any]) -> dict[str, Any]:
        """One piece for the form: its files (as URLs under ``/files/``), title, metrics, timings."""
        cfg, sampler = self.request_config(form)
        settings = render_settings(cfg)
        with self._lock:
            self._count += 1
            folder = self.out / f"{self._count:04d}"
            started = time.perf_counter()
            record = piece_maker(self.model, self.ckpt, cfg, sampler)(0, 1)[0]
            generated = time.perf_counter()
            title = sample_title(record, cfg, sampler.name)
            # one request at a time: verovio and matplotlib share state between threads
            files = render_all(
                record, folder, "piece", cfg.formats, dataclasses.replace(settings, title=title)
            )
            rendered = time.perf_counter()
        metrics = {k: (None if math.isnan(v) else round(v, 4)) for k, v in compute_all(record).items()}
        return {
            "title": title,
            "files": {fmt: f"/files/{folder.name}/{path.name}" for fmt, path in files.items()},
            "metrics": metrics,
            "seconds": {"generate": round(generated - started, 3), "render": round(rendered - generated, 3)},
            "audio": settings.audio.describe() if settings.audio is not None else None,
        }

    def file(self, url_path: str) -> Path | None:
        """The file a ``/files/<folder>/<name>`` URL names, only inside this run's folder."""
        relative = unquote(url_path.removeprefix("/files/"))
        path = (self.out / relative).resolve()
        if self.out.resolve() not in path.parents or not path.is_file():
            return None
        return path


def make_handler(app: DemoApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            pass  # one line per request would bury the URL the user needs

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict[str, Any]) -> None:
            self._send(status, json.dumps(data).encode(), CONTENT_TYPES[".json"])

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = urlparse(self.path).path
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, PAGE.read_bytes(), CONTENT_TYPES[".html"])
            elif path == "/options":
                self._json(HTTPStatus.OK, app.options())
            elif path.startswith("/files/") and (found := app.file(path)) is not None:
                kind = CONTENT_TYPES.get(found.suffix, "application/octet-stream")
                self._send(HTTPStatus.OK, found.read_bytes(), kind)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"not found: {path}"})

        def do_POST(self) -> None:  # noqa: N802
            if urlparse(self.path).path != "/generate":
                self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                form = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(form, dict):
                    raise ValueError("expected a JSON object of form fields")
                self._json(HTTPStatus.OK, app.generate(form))
            except USER_ERRORS as err:
                self._json(HTTPStatus.BAD_REQUEST, {"error": f"error: {one_line(err)}"})
            except Exception as err:  # a bug: say so in one line, keep serving
                self._json(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {"error": f"internal error: {type(err).__name__}: {one_line(err)}"},
                )

    return Handler


def make_server(app: DemoApp, host: str, port: int) -> ThreadingHTTPServer:
    """The demo's HTTP server (``port=0`` picks a free port: ``server.server_address``)."""
    return ThreadingHTTPServer((host, port), make_handler(app))


def serve(cfg: DictConfig) -> None:
    """Load the model, print the URL and serve until Ctrl+C."""
    app = DemoApp(cfg)
    server = make_server(app, cfg.host, int(cfg.port))
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/"
    print(f"demo: {app.ckpt.name} ({app.options()['model']}) at {url}  (Ctrl+C stops)", flush=True)
    if cfg.open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("demo: stopped")
    finally:
        server.server_close()


main = hydra_command("demo", serve)


if __name__ == "__main__":
    main()
