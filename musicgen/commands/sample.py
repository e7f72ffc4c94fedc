"""``python sample.py``: load a checkpoint, generate with a sampler, write every format.

``python sample.py ckpt_path=latest sampler=topk sampler.k=15`` (config ``conf/sample.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from musicgen.cli import hydra_command
from musicgen.data.tokenizers import tokenizer_from_info
from musicgen.data.vocab import Vocabulary
from musicgen.errors import shorten
from musicgen.models import datamodule_from_checkpoint, load_model
from musicgen.models.checkpoint import recommended_sampler, resolve_checkpoint
from musicgen.music.key import Key, parse_key
from musicgen.music.records import Record
from musicgen.paths import run_dir
from musicgen.render.midi import check_tempo
from musicgen.render.samples import atomic_json_list, render_settings, write_samples
from musicgen.sampling.configs import sampler_config as named_sampler_config
from musicgen.sampling.engine import TokenSampler, hold_eos_until_filled
from musicgen.sampling.progressions import resolve_chords
from musicgen.sampling.records import generate_records, model_kind
from musicgen.sampling.user_music import MIDI_SUFFIXES, phrase_melody, phrase_tokens, read_phrase

DEFAULT_CHORDS = "blues"
"""What a JazzGPT checkpoint plays over when ``chords=`` is not given."""
SAMPLE_ID = "sample{:03d}"
"""How the pieces of a run are named (and their files)."""


def is_phrase_file(primer: object) -> bool:
    """``primer=phrase.mid``: a MIDI phrase to continue (rather than ``data``)."""
    return str(primer).lower().endswith(MIDI_SUFFIXES)


def check_counts(cfg: DictConfig, names: tuple[str, ...]) -> None:
    """Counts a user typed must be positive whole numbers (``num_samples=-1`` writes nothing)."""
    for name in names:
        value = cfg[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value}: expected a whole number of at least 1")


def chords_to_play(model, cfg: DictConfig) -> list[str]:
    """The progression a JazzGPT checkpoint plays over (``chords``, ``key``, ``choruses``), after
    refusing the options of the other models and a progression longer than the model reads."""
    if cfg.primer is not None and not is_phrase_file(cfg.primer):
        raise ValueError(
            f"primer={cfg.primer}: a JazzGPT checkpoint writes over chords=, starting from a "
            "MIDI phrase (primer=phrase.mid) or from nothing (drop primer=)"
        )
    if cfg.get("mode") is not None:  # the demo's config has no mode
        raise ValueError(
            f"mode={cfg.mode} is for key-conditioned MAR-Y and LSTM checkpoints; a JazzGPT "
            "checkpoint takes its key from chords= and key= (drop mode=)"
        )
    check_counts(cfg, ("num_samples", "max_tokens", "choruses"))
    spec = cfg.chords if cfg.chords is not None else DEFAULT_CHORDS
    chords = resolve_chords(
        spec, key=cfg.key, choruses=cfg.choruses,
        beats_per_bar=model.hparams.data_info["beats_per_bar"], wjazzd_path=cfg.wjazzd_path,
    )
    if len(chords) > model.hparams.max_len:
        raise ValueError(
            f"chords={shorten(str(spec))} with choruses={cfg.choruses} is {len(chords)} beats, but this "
            f"model reads at most max_len={model.hparams.max_len}: use fewer choruses or bars"
        )
    unknown = sorted({c for c in chords if c not in Vocabulary(model.hparams.chord_vocab)})
    if unknown:
        print(f"warning: chords the model never saw in training (read as <unk>): {' '.join(unknown)}")
    return chords


def primers_to_continue(model, ckpt: Path, cfg: DictConfig) -> list[list[int]]:
    """The primers a MAR-Y / LSTM checkpoint continues in turn (``[[]]``: from nothing; ``data``:
    the openings of its own validation pieces), after refusing the options of JazzGPT."""
    if cfg.chords is not None:
        raise ValueError(
            f"chords={cfg.chords} is for JazzGPT checkpoints; a {type(model).__name__} checkpoint "
            "writes num_notes tokens from primer= (drop chords=)"
        )
    check_counts(cfg, ("num_samples", "num_notes") + (("primer_length",) if cfg.primer else ()))
    if cfg.primer is None:
        return [[]]
    if is_phrase_file(cfg.primer):
        info = model.hparams.data_info
        phrase = read_phrase(cfg.primer)
        tokens = tokenizer_from_info(info["tokenizer"]).encode(phrase)
        return [phrase_tokens(phrase, tokens, model.hparams.vocab, str(cfg.primer))]
    if cfg.primer != "data":
        raise ValueError(f"primer={cfg.primer}: use null (start from nothing), data, or a MIDI file")
    datamodule = datamodule_from_checkpoint(ckpt)
    if datamodule is None:
        raise ValueError(f"{ckpt} does not record its data config, so primer=data cannot be used")
    if datamodule.model_inputs()["vocab"] != list(model.hparams.vocab):
        raise ValueError(f"the data of {ckpt} no longer gives the model's vocabulary: prepare it as in training")
    primers = [p for p in datamodule.primers("val", cfg.primer_length) if p]
    if not primers:
        raise ValueError("primer=data: the validation split has no sequences")
    return primers


def requested_key(model, cfg: DictConfig) -> Key | None:
    """The key a MAR-Y / LSTM checkpoint is asked to write in (``key=Eb mode=minor``; mode
    defaults to major), or None: a key-conditioned model then keeps each primer's key."""
    mode = cfg.get("mode")
    if cfg.key is None:
        if mode is not None:
            raise ValueError(
                f"mode={mode} needs a tonic: add key=, e.g. key=Eb mode={mode}"
            )
        return None
    if not model.hparams.get("key_conditioning", False):
        raise ValueError(
            f"key={cfg.key} is for JazzGPT and key-conditioned checkpoints; this {type(model).__name__} "
            "checkpoint was trained without model.key_conditioning (drop key=)"
        )
    return parse_key(cfg.key, mode)


def piece_maker(model, ckpt: Path, cfg: DictConfig, sampler: TokenSampler) -> Callable[[int, int], list[Record]]:
    """Checks the options for what the model writes, then makes ``count`` pieces from sample
    ``start`` on (the pieces of one run are the same whatever the batches)."""
    if model_kind(model) == "lead_sheet":
        chords = chords_to_play(model, cfg)
        token_filter = hold_eos_until_filled if cfg.fill_chords else None
        info = model.hparams.data_info
        primer = [] if cfg.primer is None else phrase_melody(
            read_phrase(cfg.primer), info["ticks_per_beat"], model.hparams.melody_vocab, str(cfg.primer)
        )
        return lambda start, count: generate_records(
            model, sampler, [chords], count=count, max_tokens=cfg.max_tokens, seed=cfg.seed,
            first=start, token_filter=token_filter, windowed=cfg.windowed, id_format=SAMPLE_ID,
            melody_primer=primer,
        )
    primers = primers_to_continue(model, ckpt, cfg)
    key = requested_key(model, cfg)
    return lambda start, count: generate_records(
        model, sampler, [primers[(start + i) % len(primers)] for i in range(count)],
        num_tokens=cfg.num_notes, seed=cfg.seed, first=start, with_primer=True, id_format=SAMPLE_ID,
        key=key,
    )


def sampler_config(cfg: DictConfig, ckpt: Path) -> DictConfig:
    """``cfg.sampler``, or with ``sampler=recommended`` the checkpoint's recommended decoding
    with whatever the user set over the plain defaults applied on top."""
    chosen = OmegaConf.to_container(cfg.sampler, resolve=True)
    recommended = recommended_sampler(ckpt) if chosen.pop("recommended", False) else None
    if recommended is not None:
        plain = OmegaConf.to_container(named_sampler_config("softmax"))
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
    make = piece_maker(model, ckpt, cfg, sampler)
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


main = hydra_command("sample", sample)

if __name__ == "__main__":
    main()
