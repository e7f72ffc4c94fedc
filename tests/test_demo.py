"""The live demo: its HTTP answers, its one-line errors, and one real click in headless Chromium."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import Browser, chromium_path
from conftest import compose_config

from musicgen.commands.demo import DemoApp, make_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, checkpoints):
    """A demo of a tiny JazzGPT on a free port of 127.0.0.1 (built-in synth: fast, no SoundFont)."""
    root = tmp_path_factory.mktemp("demo")
    ckpt = checkpoints["jazzgpt"]
    app = DemoApp(compose_config("demo", [f"ckpt_path={ckpt}", "soundfont=none"], root / "demo"))
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _post(url: str, form: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/generate", data=json.dumps(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_generate_answers_with_the_files_of_one_piece(demo):
    app, url = demo
    status, piece = _post(url, {"chords": "ii_v_i", "key": "F", "sampler": "topk", "k": "5", "choruses": 2})
    assert status == 200, piece
    assert piece["title"].startswith("ii_v_i in F major · topk_k5")
    assert sorted(piece["files"]) == ["mid", "musicxml", "png", "svg", "wav"]
    for fmt, link in piece["files"].items():
        with urllib.request.urlopen(url + link, timeout=30) as response:
            body = response.read()
        assert len(body) > 100, fmt
    assert body.startswith(b"RIFF")  # the last one is the WAV
    assert "inside_ratio" in piece["metrics"] and piece["seconds"]["generate"] >= 0


@pytest.mark.parametrize(
    ("form", "error"),
    [({"chords": "C7 | H7"}, "error: unknown chord symbol 'H7': bar 2"),
     ({"choruses": "many"}, "error: choruses=many: expected a number"),
     ({"choruses": 99}, "error: choruses=99: expected 1 to 8"),
     ({"sampler": "nope"}, "error: sampler=nope: choose one of argmax"),
     ({"instrument": "kazoo"}, "error: instrument=kazoo: unknown"),
     ({"evil": 1}, "error: unknown field(s) evil")],
)  # fmt: skip
def test_bad_input_is_one_line_in_the_answer(demo, form, error):
    status, answer = _post(demo[1], form)
    assert status == 400
    assert answer["error"].startswith(error) and "\n" not in answer["error"]


def test_only_files_of_this_demo_are_served(demo):
    for path in ("/files/../../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/hostname", "/nope"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(demo[1] + path, timeout=10)
        assert err.value.code == 404


def test_a_missing_checkpoint_stops_the_demo_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "musicgen.demo", f"ckpt_path={tmp_path}/nope.ckpt", f"paths.outputs={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: ckpt_path={tmp_path}/nope.ckpt: no such checkpoint file"


@pytest.mark.skipif(
    chromium_path() is None,
    reason="chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)
def test_a_person_generates_a_piece_in_a_real_browser(demo, tmp_path):
    with Browser() as browser:
        browser.open(demo[1] + "/")
        browser.wait_for("!document.getElementById('generate').disabled")
        assert browser.evaluate("document.getElementById('form').checkValidity()")  # defaults submit
        browser.evaluate(
            "const f = document.getElementById('form'); f.elements.chords.value = 'blues';"
            " f.elements.sampler.value = 'topk'; document.getElementById('generate').click(); true"
        )
        src = browser.wait_for("document.getElementById('audio').getAttribute('src')", timeout=120)
        assert src.startswith("/files/") and src.endswith(".wav")
        assert browser.wait_for(
            "(() => { const s = document.getElementById('score');"
            " return s.complete && s.naturalWidth > 0 && s.getAttribute('src'); })()"
        ).endswith(".svg")
        assert browser.evaluate("document.getElementById('download-mid').getAttribute('href')").endswith(".mid")
        assert "blues in F major" in browser.evaluate("document.getElementById('title').textContent")
        assert browser.evaluate("document.getElementById('error').textContent") == ""
        browser.screenshot(tmp_path / "demo.png")

        browser.evaluate(
            "document.getElementById('form').elements.chords.value = 'C7 | H7';"
            " document.getElementById('generate').click(); true"
        )
        error = browser.wait_for("document.getElementById('error').textContent", timeout=60)
        assert error.startswith("error: unknown chord symbol 'H7'") and "Traceback" not in error
        browser.screenshot(tmp_path / "demo-error.png")
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
