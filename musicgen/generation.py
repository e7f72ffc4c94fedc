"""What ``python sample.py`` does: load a checkpoint, generate with a sampler, write every format."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from musicgen.data.records import LeadSheet, PianoScore
from musicgen.data.tokenizers import tokenizer_from_info
from musicgen.data.vocab import Vocabulary
from musicgen.metrics import compute_all
from musicgen.models import load_model
from musicgen.models.pretrained import recommended_sampler
from musicgen.music.chords import shorten
from musicgen.paths import conf_dir, resolve_checkpoint
from musicgen.render import RenderSettings, render_all
from musicgen.render.midi import check_tempo
from musicgen.sampling.generate import generate_melodies, generate_sequences, hold_eos_until_filled
from musicgen.sampling.progressions import resolve_chords
from musicgen.training import run_dir


def check_counts(cfg: DictConfig, names: tuple[str, ...]) -> None:
    """Counts a user typed must be positive whole numbers (``num_samples=-1`` writes nothing)."""
    for name in names:
        value = cfg[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value}: expected a whole number of at least 1")


DEFAULT_CHORDS = "blues"
"""What a JazzGPT checkpoint plays over when ``chords=`` is not given."""


def melody_maker(model, cfg: DictConfig, sampler) -> Callable[[int, int], list[LeadSheet]]:
    """Checks the JazzGPT options, then makes ``count`` lead sheets from sample ``start`` on."""
    if cfg.primer is not None:
        raise ValueError(
            f"primer={cfg.primer} is for MAR-Y and LSTM checkpoints; a JazzGPT checkpoint writes "
            "over chords= (drop primer=)"
        )
    check_counts(cfg, ("num_samples", "max_tokens", "choruses"))
    info = model.hparams.data_info
    spec = cfg.chords if cfg.chords is not None else DEFAULT_CHORDS
    chords = resolve_chords(
        spec, key=cfg.key, choruses=cfg.choruses,
        beats_per_bar=info["beats_per_bar"], wjazzd_path=cfg.wjazzd_path,
    )
    if len(chords) > model.hparams.max_len:
        raise ValueError(
            f"chords={shorten(str(spec))} with choruses={cfg.choruses} is {len(chords)} beats, but this "
            f"model reads at most max_len={model.hparams.max_len}: use fewer choruses or bars"
        )
    unknown = sorted({c for c in chords if c not in Vocabulary(model.hparams.chord_vocab)})
    if unknown:
        print(f"warning: chords the model never saw in training (read as <unk>): {' '.join(unknown)}")

    def make(start: int, count: int) -> list[LeadSheet]:
        melodies = generate_melodies(
            model, chords, sampler, num_samples=count, max_tokens=cfg.max_tokens, seed=cfg.seed + start,
            token_filter=hold_eos_until_filled if cfg.fill_chords else None,
            window_bars=info.get("window_bars") if cfg.windowed else None,
        )
        return [
            LeadSheet.from_tokens(
                f"sample{start + i:03d}", tokens, tuple(chords),
                ticks_per_beat=info["ticks_per_beat"], beats_per_bar=info["beats_per_bar"],
            )
            for i, tokens in enumerate(melodies)
        ]

    return make


def primers_from_checkpoint(ckpt: Path, cfg: DictConfig, vocab: Vocabulary) -> list[list[int]]:
    """The primers samples start from in turn (``[[]]``: from nothing)."""
    if cfg.primer is None:
        return [[]]
    if cfg.primer != "data":
        raise ValueError(f"primer={cfg.primer}: use null (start from nothing) or data")
    run = torch.load(ckpt, map_location="cpu", weights_only=False).get("musicgen_run")
    if not run:
        raise ValueError(f"{ckpt} does not record its data config, so primer=data cannot be used")
    datamodule = instantiate(OmegaConf.create(run["config"]["data"]))
    if datamodule.model_inputs()["vocab"] != vocab.tokens:
        raise ValueError(f"the data of {ckpt} no longer gives the model's vocabulary: prepare it as in training")
    primers = [p for p in datamodule.primers("val", cfg.primer_length) if p]
    if not primers:
        raise ValueError("primer=data: the validation split has no sequences")
    return primers


def score_maker(model, ckpt: Path, cfg: DictConfig, sampler) -> Callable[[int, int], list[PianoScore]]:
    """Checks the MAR-Y / LSTM options, then makes ``count`` scores from sample ``start`` on."""
    name = type(model).__name__
    for key in ("chords", "key"):
        if cfg[key] is not None:
            raise ValueError(
                f"{key}={cfg[key]} is for JazzGPT checkpoints; a {name} checkpoint writes num_notes "
                f"tokens from primer= (drop {key}=)"
            )
    check_counts(cfg, ("num_samples", "num_notes") + (("primer_length",) if cfg.primer else ()))
    vocab = Vocabulary(model.hparams.vocab)
    tokenizer = tokenizer_from_info(model.hparams.data_info["tokenizer"])
    primers = primers_from_checkpoint(ckpt, cfg, vocab)

    def make(start: int, count: int) -> list[PianoScore]:
        batch = [primers[(start + i) % len(primers)] for i in range(count)]
        sequences = generate_sequences(model, batch, sampler, num_tokens=cfg.num_notes, seed=cfg.seed + start)
        return [
            tokenizer.decode(vocab.decode(primer + seq)).with_(id=f"sample{start + i:03d}")
            for i, (primer, seq) in enumerate(zip(batch, sequences, strict=True))
        ]

    return make


def sample_title(record: LeadSheet | PianoScore, cfg: DictConfig, sampler_name: str) -> str:
    """What a score's title says: the progression (or the model) and its key, the sampler, which
    sample; e.g. ``blues in F major · softmax · sample 1``."""
    from musicgen.render.midi import record_key

    number = int(record.id.removeprefix("sample")) + 1 if record.id.startswith("sample") else record.id
    if isinstance(record, LeadSheet):
        what = str(cfg.chords) if len(str(cfg.chords)) <= 32 else "chords"
    else:
        what = "piano piece"
    return f"{what} in {record_key(record).name} · {sampler_name} · sample {number}"


def render_settings(cfg: DictConfig) -> RenderSettings:
    """The output settings of a sample run (``tempo``, ``comping``, ``instrument``, ``accents``,
    ``soundfont``); a bad instrument or SoundFont is a one-line error here."""
    from musicgen.render.audio import choose_renderer
    from musicgen.render.midi import instrument_program

    instrument_program(cfg.instrument)
    audio = choose_renderer(cfg.soundfont) if "wav" in cfg.formats else None
    return RenderSettings(
        tempo=cfg.tempo, comping=cfg.comping, instrument=cfg.instrument, accents=cfg.accents,
        audio=audio,
    )


def write_samples(
    records, out: Path, cfg: DictConfig, sampler_name: str, settings: RenderSettings
) -> list[dict]:
    """Render every record in ``cfg.formats``; one ``samples.json`` entry per record."""
    entries = []
    for record in records:
        title = sample_title(record, cfg, sampler_name)
        files = render_all(
            record, out, record.id, formats=tuple(cfg.formats),
            settings=dataclasses.replace(settings, title=title),
        )
        metrics = {k: (None if math.isnan(v) else round(v, 6)) for k, v in compute_all(record).items()}
        entry = {"id": record.id, "title": title, "files": {k: str(v) for k, v in files.items()},
                 "metrics": metrics}
        if settings.audio is not None:
            entry["audio"] = settings.audio.describe()
        entries.append(entry)
        print("\n".join(str(p) for p in files.values()))
    return entries


def sampler_config(cfg: DictConfig, ckpt: Path) -> DictConfig:
    """``cfg.sampler``, or with ``sampler=recommended`` the checkpoint's recommended decoding
    with whatever the user set over the plain defaults applied on top."""
    chosen = OmegaConf.to_container(cfg.sampler, resolve=True)
    recommended = recommended_sampler(ckpt) if chosen.pop("recommended", False) else None
    if recommended is not None:
        plain = OmegaConf.to_container(OmegaConf.load(conf_dir() / "sampler" / "softmax.yaml"))
        changed = {k: v for k, v in chosen.items() if plain.get(k) != v}
        chosen = OmegaConf.to_container(OmegaConf.merge(recommended, changed))
    return OmegaConf.create({"sampler": chosen}).sampler  # errors name the key "sampler"


def sample(cfg: DictConfig) -> Path:
    """Generate ``num_samples`` pieces, ``batch_size`` at a time, each written as soon as it is
    made (memory stays flat however many); returns the path of the ``samples.json`` index (an
    ``index.html`` listening page is written beside it)."""
    from musicgen.render.page import run_page

    check_tempo(cfg.tempo)
    check_counts(cfg, ("batch_size",))
    settings = render_settings(cfg)  # a wrong instrument or SoundFont fails before any work
    ckpt = resolve_checkpoint(cfg.ckpt_path, cfg.paths.outputs)
    model = load_model(ckpt)
    sampler_cfg = sampler_config(cfg, ckpt)
    sampler = instantiate(sampler_cfg)
    if "chord_vocab" in model.hparams:
        make = melody_maker(model, cfg, sampler)
    else:
        make = score_maker(model, ckpt, cfg, sampler)
    out = run_dir(cfg)
    header = {
        "checkpoint": str(ckpt.resolve()),
        "sampler": {"name": sampler.name, **OmegaConf.to_container(sampler_cfg, resolve=True)},
        "seed": cfg.seed,
    }
    index = out / "samples.json"
    with atomic_json_list(index, header, "samples") as add:
        for start in range(0, cfg.num_samples, cfg.batch_size):
            records = make(start, min(cfg.batch_size, cfg.num_samples - start))
            for entry in write_samples(records, out, cfg, sampler.name, settings):
                add(entry)
    page = run_page(index, f"musicgen samples · {sampler.name}", f"checkpoint {ckpt.name}, seed {cfg.seed}")
    print(f"samples: {index.resolve()}")
    print(f"listen: {page.resolve()}")
    return index


@contextmanager
def atomic_json_list(path: Path, header: dict, key: str) -> Iterator[Callable[[dict], None]]:
    """Write ``{**header, key: [items...]}`` one item at a time (nothing is held in memory),
    into a temporary file renamed to ``path`` only when every item was written."""
    partial = path.with_name(f".{path.name}.partial")
    opening = json.dumps({**header, key: []}, indent=2)
    head, _, _ = opening.rpartition("[]")
    written = 0
    try:
        with open(partial, "w") as fh:
            fh.write(head + "[")

            def add(item: dict) -> None:
                nonlocal written
                text = textwrap.indent(json.dumps(item, indent=2), "    ")
                fh.write(("," if written else "") + "\n" + text)
                written += 1

            yield add
            fh.write(("\n  " if written else "") + "]\n}")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
