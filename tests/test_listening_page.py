"""The listening page of a sample run and of a sampling sweep, read as HTML and in a real browser."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import Browser, chromium_path
from conftest import compose_config

from musicgen.commands.sample import sample
from musicgen.sweep import write_listening_page

needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, checkpoints) -> Path:
    """A tiny JazzGPT's samples in every format, with the built-in synth (fast, no SoundFont)."""
    root = tmp_path_factory.mktemp("listen")
    ckpt = checkpoints["jazzgpt"]
    overrides = [f"ckpt_path={ckpt}", "num_samples=2", "chords=ii_v_i", "soundfont=none"]
    return sample(compose_config("sample", overrides, root / "sample"))


def test_a_sample_run_writes_a_small_page_linking_every_file(sample_run):
    page = sample_run.parent / "index.html"
    html = page.read_text()
    elements = Elements(html)
    samples = json.loads(sample_run.read_text())["samples"]
    assert [s["audio"] for s in samples] == [{"renderer": "builtin", "soundfont": None}] * 2
    audio = [a["src"] for a in elements.all("audio")]
    images = [i["src"] for i in elements.all("img")]
    assert audio == ["sample000.wav", "sample001.wav"]  # relative: the folder can move
    assert images == ["sample000.svg", "sample000.png", "sample001.svg", "sample001.png"]
    links = {a["href"] for a in elements.all("a")}
    assert {"sample000.mid", "sample000.musicxml", "sample001.mid"} <= links
    assert all((page.parent / name).is_file() for name in [*audio, *images, *links])
    assert "http://" not in html and "https://" not in html  # nothing from the network
    assert page.stat().st_size < 20_000  # files are linked, never inlined
    assert "ii_v_i in C major" in html and "inside_ratio" in html


def test_a_sampling_sweep_gets_one_section_per_job_with_its_settings(sample_run, tmp_path):
    for number, sampler in enumerate(("softmax", "topk")):
        job = tmp_path / f"{number}_sampler={sampler}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- sampler={sampler}\n- ckpt_path=x.ckpt\n")
        for file in sample_run.parent.glob("sample0*"):
            shutil.copy(file, job / file.name)
        (job / "samples.json").write_text(sample_run.read_text().replace(str(sample_run.parent), str(job)))
    page = write_listening_page(tmp_path)
    html = page.read_text()
    assert html.count("<h2>") == 2 and "sampler=topk" in html
    assert html.count("ckpt_path=x.ckpt") == 1  # shared settings once, at the top
    audio = [a["src"] for a in Elements(html).all("audio")]
    assert audio == [f"{job}/sample00{i}.wav" for job in ("0_sampler=softmax", "1_sampler=topk") for i in (0, 1)]


def test_a_training_sweep_gets_no_listening_page(tmp_path):
    job = tmp_path / "0_model.lr=0.1"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.lr=0.1\n")
    assert write_listening_page(tmp_path) is None and not (tmp_path / "index.html").exists()


@needs_chromium
def test_the_page_opens_from_disk_in_a_browser_with_its_players_and_images(sample_run, tmp_path):
    with Browser() as browser:
        browser.open((sample_run.parent / "index.html").as_uri())
        assert browser.evaluate("document.querySelectorAll('audio').length") == 2
        loaded = browser.wait_for(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            " && document.images.length"
        )
        assert loaded == 4
        durations = browser.wait_for(
            "Promise.all(Array.from(document.querySelectorAll('audio')).map(a => new Promise(r => {"
            " if (a.readyState >= 1) r(a.duration); a.preload = 'metadata';"
            " a.onloadedmetadata = () => r(a.duration); a.onerror = () => r(-1); a.load(); })))"
        )
        assert all(d > 1 for d in durations), durations  # the WAV files play
        shot = browser.screenshot(tmp_path / "index.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
