"""Deterministic train/val/test splits by group (a source and all its transposed copies)."""

from __future__ import annotations

import random
from collections.abc import Sequence


def split_groups(
    groups: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, set[str]]:
    """Assign each distinct group to one split; at least one group trains when any exist."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
            "and sum to less than 1"
        )
    distinct = sorted(set(groups))
    random.Random(seed).shuffle(distinct)
    n = len(distinct)
    n_test = round(n * test_fraction) if n > 2 else 0
    n_val = max(1 if val_fraction > 0 and n > 1 else 0, round(n * val_fraction)) if n > 1 else 0
    n_val = min(n_val, n - n_test - 1) if n > 1 else 0
    return {
        "test": set(distinct[:n_test]),
        "val": set(distinct[n_test : n_test + n_val]),
        "train": set(distinct[n_test + n_val :]),
    }
