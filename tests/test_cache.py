"""The prepared-data cache (musicgen.data.cache): damaged or half-written files are never read, only rebuilt."""

from __future__ import annotations

import os
import pickle

import pytest
from helpers import CountingSource, sequence_module

from musicgen.data import cache

DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "flipped-byte": lambda raw: raw[:-10] + bytes([raw[-10] ^ 0xFF]) + raw[-9:],
    "header-only": lambda raw: raw[:40],
    "empty": lambda raw: b"",
    "foreign-pickle": lambda raw: pickle.dumps({"not": "a cache"}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_file_is_discarded_and_rebuilt(damage):
    source = CountingSource(f"damaged-{damage}")
    first = sequence_module(source)
    first.setup()
    path = cache.cache_path(first.namespace, first.cache_key())
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    again = sequence_module(source)
    again.setup()
    assert source.loads == 2
    assert again.model_inputs() == first.model_inputs()
    assert cache.load(path) is not None  # rebuilt whole


def test_a_temp_file_left_by_a_killed_writer_is_never_read():
    source = CountingSource("killed-writer")
    module = sequence_module(source)
    path = cache.cache_path(module.namespace, module.cache_key())
    (path.parent / f".{path.name}.x1y2.tmp").write_bytes(b"MUSICGEN-CACHE-1\n" + b"0" * 40)
    module.setup()
    assert source.loads == 1 and cache.load(path) is not None


def test_a_write_interrupted_before_the_rename_leaves_no_file(monkeypatch):
    source = CountingSource("interrupted-save")
    module = sequence_module(source)
    path = cache.cache_path(module.namespace, module.cache_key())

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        module.setup()
    monkeypatch.undo()
    assert list(path.parent.glob(f"*{path.stem}*")) == []
    sequence_module(source).setup()
    assert source.loads == 2 and cache.load(path) is not None
