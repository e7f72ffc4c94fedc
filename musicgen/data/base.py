"""Shared LightningDataModule glue: prepare once from a source, cache atomically, serve loaders."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from musicgen.data import cache
from musicgen.data.resumable import ResumableLoader
from musicgen.data.splits import split_groups

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class PreparedDataModule(L.LightningDataModule):
    """Subclasses turn source records into a dict of tensors (``_prepare``) and datasets.

    The prepared dict is cached under a key made of the source's fingerprint (its config and
    file contents) and this module's preparation settings, so a second run loads tensors without
    parsing anything, and any change to data or settings prepares afresh.
    """

    namespace = "prepared"
    version = 1

    def __init__(
        self,
        source: Any,
        transpositions: Sequence[int] = (0,),
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        use_cache: bool = True,
        path: str | None = None,
    ):
        super().__init__()
        self.source = source
        self.transpositions = tuple(int(t) for t in transpositions)
        if not self.transpositions:
            raise ValueError("transpositions is empty: list at least one key offset (0 = as written)")
        self.path = path  # the user's data location (``data.path=``); the source reads it
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.use_cache = use_cache
        self.prepared: dict | None = None
        self.datasets: dict[str, Dataset] = {}

    # -- subclass hooks ------------------------------------------------------------------
    def preparation_config(self) -> dict:
        """Settings that change the prepared tensors (batch size and workers do not)."""
        return {
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "seed": self.seed,
            "transpositions": self.transpositions,
        }

    def transposed_by_split(
        self, records: list, splits: dict[str, set[str]], transpose: Callable[[Any, int], Any | None]
    ) -> tuple[dict[str, list], dict]:
        """Every record in each key of ``transpositions`` (0 = as written), grouped by split,
        with the counts the report shows. ``transpose`` returns None for a copy it drops."""
        copies: dict[str, list] = {split: [] for split in SPLITS}
        sources = dict.fromkeys(SPLITS, 0)
        dropped = 0
        for record in records:
            split = next(s for s in SPLITS if (record.group or record.id) in splits[s])
            sources[split] += 1
            for offset in self.transpositions:
                copy = transpose(record, offset)
                if copy is None:
                    dropped += 1
                else:
                    copies[split].append(copy)
        if sources["train"] and not copies["train"]:
            raise ValueError(
                f"every transposed copy of the training pieces was dropped (transpositions="
                f"{list(self.transpositions)}): their notes leave the allowed pitch range"
            )
        counts = {
            "sources_per_split": sources,
            "transpositions": list(self.transpositions),
            "transposed_copies_dropped": dropped,
        }
        return copies, counts

    def refuse_empty(self, notes: int, examples: int, unit: str) -> None:
        """Stop a preparation whose training split holds no notes or no examples, naming the
        data, instead of training on thousands of windows of silence."""
        if notes and examples:
            return
        what = f"no {unit}" if not examples else f"{examples} {unit} but not one note"
        raise ValueError(f"{self.data_name}: the training split has {what}: nothing to learn from")

    @property
    def data_name(self) -> str:
        """The data as a user named it (``data.path``), else the kind of source."""
        return str(self.path or type(self.source).__name__)

    def _prepare(self, records: list, splits: dict[str, set[str]], source_report: dict) -> dict:
        raise NotImplementedError

    def _dataset(self, split: str) -> Dataset:
        raise NotImplementedError

    def collate(self, batch: Any) -> Any:
        return torch.utils.data.default_collate(batch)

    def model_inputs(self) -> dict:
        """Keyword arguments the model needs from the data (vocabularies, data_info)."""
        raise NotImplementedError

    def records(self, split: str) -> list:
        """A split as the model sees it, decoded back to records (for metrics and inputs)."""
        raise NotImplementedError

    # -- preparation and caching -----------------------------------------------------------
    def fingerprint(self) -> dict:
        """Everything the prepared tensors depend on: the cache key hashes it, and checkpoints
        keep it, so a resumed run can name what changed in its data."""
        return {
            "namespace": self.namespace,
            "version": self.version,
            "source": self.source.fingerprint(),
            "config": self.preparation_config(),
        }

    def cache_key(self) -> str:
        return cache.cache_key(self.fingerprint())

    def load_prepared(self) -> dict:
        if self.prepared is not None:
            return self.prepared
        path = cache.cache_path(self.namespace, self.cache_key())
        prepared = cache.load(path) if self.use_cache else None
        if prepared is None:
            records, source_report = self.source.load()
            if not records:
                raise ValueError(f"{self.data_name}: the source produced no pieces")
            groups = [r.group or r.id for r in records]
            splits = split_groups(groups, self.val_fraction, self.test_fraction, self.seed)
            prepared = self._prepare(records, splits, source_report)
            prepared["report"]["cache_key"] = self.cache_key()
            if self.use_cache and cache.save(path, prepared):
                log.info("prepared data cached at %s", path)
        else:
            log.info("loaded prepared data from %s", path)
        self.prepared = prepared
        return prepared

    @property
    def report(self) -> dict:
        return self.load_prepared()["report"]

    def prepare_data(self) -> None:
        self.load_prepared()

    def setup(self, stage: str | None = None) -> None:
        self.load_prepared()
        self.datasets = {split: self._dataset(split) for split in SPLITS}

    # -- loaders ---------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if not self.datasets:
            self.setup()
        dataset = self.datasets[split]
        if len(dataset) == 0:
            raise ValueError(
                f"the {split} split is empty: the data has too few sources for "
                f"val_fraction={self.val_fraction}, test_fraction={self.test_fraction}"
            )
        options = {
            "batch_size": self.batch_size,
            "num_workers": self.num_workers,
            "collate_fn": self.collate,
            "persistent_workers": self.num_workers > 0,
        }
        if shuffle:  # the order depends on (seed, epoch) only, so a resumed run sees the same batches
            return ResumableLoader(dataset, seed=self.seed, **options)
        return DataLoader(dataset, **options)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
