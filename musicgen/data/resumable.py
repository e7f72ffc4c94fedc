"""A training DataLoader whose order survives a restart, at an epoch boundary or mid-epoch.

A plain shuffled DataLoader draws each epoch's order from the global RNG, so a resumed run
sees other batches than an uninterrupted one, and Lightning restarts a half-done epoch from
its first batch. Here the order depends only on (seed, epoch), and the loader tells Lightning
how far into the epoch it got (``state_dict``, saved in every checkpoint), so a resumed run
continues with exactly the batches the uninterrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler


class EpochShuffle(RandomSampler):
    """A permutation drawn from (seed, epoch) alone; Lightning calls ``set_epoch`` each epoch.

    Being a RandomSampler, it is replaced under DDP by Lightning's DistributedSampler, which is
    seeded by epoch in the same way.
    """

    def __init__(self, data_source: Sized, seed: int = 0):
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(hash((self.seed, self.epoch)))  # ints: stable
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


class ResumableLoader(DataLoader):
    """A shuffling DataLoader that Lightning checkpoints and restores (``state_dict`` protocol).

    After ``load_state_dict`` the next pass over the same epoch skips the batches already
    trained on; a pass over any other epoch starts from its first batch.
    """

    def __init__(self, dataset: Any, *, seed: int = 0, sampler: Any = None, **kwargs: Any):
        if sampler is None:
            sampler = EpochShuffle(dataset, seed)
        super().__init__(dataset, sampler=sampler, **kwargs)
        self.seed = seed
        self._epoch: int | None = None
        self._served = 0
        self._resume: dict[str, Any] = {}

    def __iter__(self) -> Iterator[Any]:
        epoch = getattr(self.sampler, "epoch", None)
        skip = self._resume.get("batches", 0) if self._resume.get("epoch") == epoch else 0
        self._resume = {}
        self._epoch, self._served = epoch, skip
        batches = super().__iter__()
        for _ in range(skip):
            next(batches)
        for batch in batches:
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self._epoch, "batches": self._served}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = dict(state)
