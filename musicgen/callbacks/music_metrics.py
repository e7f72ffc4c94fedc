"""Music metrics of generated samples during training: what the validation loss cannot show.

Every ``every_n_epochs`` epochs, at the end of validation, ``MusicMetricsCallback`` generates
``num_samples`` pieces with the model being trained (JazzGPT: one melody over each of
``num_samples`` validation chord windows; MAR-Y and the LSTM: a continuation of validation
primers), decodes them to records and logs ``MusicMetrics`` of them under ``gen/``. The same
metrics of the whole validation split are logged once, under ``data/``, as the target. The
plagiarism indexes are built once, from the training split.

Distributed training: only rank 0 generates and updates the metrics. Every rank then calls
``compute``, whose all-reduce sums rank 0's counts with the others' empty states, so all ranks
log the same values and ``gen/*`` can be monitored (checkpointing, early stopping) like any other
logged metric. Rank 0 alone writes the media.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_warn

from musicgen.metrics.ngrams import KINDS, NGramIndex, training_indexes
from musicgen.metrics.registry import MusicMetrics
from musicgen.music.records import Record
from musicgen.sampling.records import generate_records, model_kind, spread
from musicgen.sampling.sampler import Sampler

MEDIA_FORMATS = ("mid", "png", "wav")


def metric_values(
    records: Sequence[Record], kind: str, indexes: Sequence[NGramIndex], prefix: str, device: Any
) -> dict[str, Any]:
    """``MusicMetrics`` of the records, computed (and all-reduced) on ``device``.

    Every rank must call this with the same ``kind`` and indexes; ranks without records pass [].
    """
    metrics = MusicMetrics(kind, ngram_indexes=indexes, prefix=prefix)
    if records:
        metrics.update(list(records))
    return {name: value.float() for name, value in metrics.to(device).compute().items()}


def _log(pl_module: L.LightningModule, values: dict[str, Any]) -> None:
    # Equal on every rank already; sync_dist (a mean) only spares Lightning's DDP warning.
    pl_module.log_dict(values, sync_dist=True)


@dataclass
class ValidationData:
    """What the callback reads from the data module once: records, generation inputs, indexes."""

    kind: str
    records: list[Record]
    indexes: list[NGramIndex]
    inputs: list  # chord progressions (lead sheets) or primers (token ids)


class MusicMetricsCallback(Callback):
    """Generate, decode and score samples every few epochs; log ``gen/*`` (and ``data/*`` once).

    ``sampler`` holds ``Sampler`` keyword arguments (default: plain softmax sampling).
    ``max_tokens`` bounds a JazzGPT melody (default: the model's ``max_len - 1``);
    ``num_tokens`` is the length of a MAR-Y/LSTM continuation after a primer of
    ``primer_tokens`` validation tokens (the primer is real data, so it is not scored).
    The first ``log_media`` samples are written as MIDI, piano roll and WAV under
    ``media_dir/epoch{N}/`` (default ``<trainer.default_root_dir>/samples``), and sent to W&B
    when a ``WandbLogger`` is active. Samples use seeds ``seed + i`` every time, so epochs are
    compared on the same random draws.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 8,
        sampler: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        num_tokens: int = 256,
        primer_tokens: int = 32,
        log_media: int = 3,
        seed: int = 0,
        ngram_kinds: Sequence[str] = KINDS,
        media_dir: str | Path | None = None,
        tempo: float = 120,
        soundfont: str | None = None,
        instrument: str = "alto_sax",
    ):
        for name, value, low in (
            ("every_n_epochs", every_n_epochs, 1), ("num_samples", num_samples, 1),
            ("num_tokens", num_tokens, 1), ("primer_tokens", primer_tokens, 0),
            ("log_media", log_media, 0),
        ):  # fmt: skip
            if value < low:
                raise ValueError(f"MusicMetricsCallback: {name} must be >= {low}, got {value}")
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.sampler = Sampler(**dict(sampler or {}))
        self.max_tokens = max_tokens
        self.num_tokens = num_tokens
        self.primer_tokens = primer_tokens
        self.log_media = log_media
        self.seed = seed
        self.ngram_kinds = tuple(ngram_kinds)
        self.media_dir = Path(media_dir) if media_dir is not None else None
        self.tempo = tempo
        self.soundfont = soundfont
        self.instrument = instrument
        self._data: ValidationData | None = None
        self._baseline_logged = False

    def validation_data(self, datamodule: Any, kind: str) -> ValidationData:
        """The validation records and generation inputs, and the training indexes (built once)."""
        if self._data is None:
            records = datamodule.records("val")
            if kind == "lead_sheet":
                inputs = [list(r.chords) for r in records]
            elif self.primer_tokens:
                inputs = datamodule.primers("val", self.primer_tokens)
            else:
                inputs = [[] for _ in records]
            indexes = training_indexes(datamodule.records("train"), self.ngram_kinds)
            self._data = ValidationData(kind, records, indexes, inputs)
        return self._data

    def generate(self, pl_module: L.LightningModule, data: ValidationData) -> list[Record]:
        """``num_samples`` decoded samples over (or after) evenly spread validation inputs."""
        inputs = [data.inputs[i] for i in spread(len(data.inputs), self.num_samples)]
        return generate_records(
            pl_module, self.sampler, inputs, max_tokens=self.max_tokens, num_tokens=self.num_tokens,
            seed=self.seed,
        )

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        data = self.validation_data(trainer.datamodule, model_kind(pl_module))
        rank_zero = trainer.is_global_zero
        if not self._baseline_logged:
            baseline = data.records if rank_zero else []
            _log(pl_module, metric_values(baseline, data.kind, data.indexes, "data/", pl_module.device))
            self._baseline_logged = True
        samples = self.generate(pl_module, data) if rank_zero else []
        _log(pl_module, metric_values(samples, data.kind, data.indexes, "gen/", pl_module.device))
        if rank_zero and self.log_media:
            self.save_media(trainer, samples[: self.log_media])

    def save_media(self, trainer: L.Trainer, records: Sequence[Record]) -> list[dict[str, Path]]:
        """Write each record's MIDI, piano roll and WAV; hand them to W&B when it is logging."""
        from musicgen.render import RenderSettings, render_all
        from musicgen.render.audio import choose_renderer

        settings = RenderSettings(
            tempo=self.tempo, instrument=self.instrument, audio=choose_renderer(self.soundfont)
        )
        root = self.media_dir or Path(trainer.default_root_dir) / "samples"
        out = root / f"epoch{trainer.current_epoch}"
        out.mkdir(parents=True, exist_ok=True)
        files = [
            render_all(r, out, r.id, formats=MEDIA_FORMATS, settings=settings) for r in records
        ]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and files:
                _send_to_wandb(logger, files, [r.id for r in records], trainer)
        return files


def _send_to_wandb(
    logger: WandbLogger, files: list[dict[str, Path]], names: list[str], trainer: L.Trainer
) -> None:
    """Each sample's piano roll (and audio) under its own key, so a panel follows one seed over
    the epochs; the MIDI and WAV files as a versioned artifact.

    ``wandb.Audio`` needs the optional ``soundfile`` package; without it the audio panels are
    skipped (with a warning) and the WAV files are still in the artifact.
    """
    import wandb

    step = trainer.global_step
    with_audio = importlib.util.find_spec("soundfile") is not None
    if not with_audio:
        rank_zero_warn("W&B audio panels need `pip install soundfile`; the WAVs are in the artifact")
    for name, f in zip(names, files, strict=True):
        logger.log_image(f"gen/piano_roll/{name}", [str(f["png"])], step=step)
        if with_audio:
            logger.log_audio(f"gen/audio/{name}", [str(f["wav"])], step=step)
    artifact = wandb.Artifact(f"{logger.experiment.id}-samples", type="samples")
    for f in files:
        artifact.add_file(str(f["mid"]))
        artifact.add_file(str(f["wav"]))
    logger.experiment.log_artifact(artifact, aliases=[f"epoch{trainer.current_epoch}"])
