"""LeadSheetDataModule and SequenceDataModule on small in-memory sources: windows, splits, vocab, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import CountingSource, ListSource, make_sheet, sequence_module

from musicgen.data.leadsheet import LeadSheetDataModule, window_lead_sheet
from musicgen.data.sequence import SequenceDataModule
from musicgen.data.vocab import Vocabulary
from musicgen.music.records import LeadSheet, PianoScore


def make_score(index: int) -> PianoScore:
    rng = np.random.default_rng(index)
    onsets = np.repeat(np.arange(40) * 0.5, 2)
    return PianoScore(f"score{index}", onsets, np.full(80, 0.5), rng.integers(48, 72, 80), group=f"score{index}")


def test_windows_cover_whole_bars_and_their_melody_fills_them_exactly():
    sheet = make_sheet(0, bars=10)
    windows = list(window_lead_sheet(sheet, window_bars=4, hop_bars=2))
    assert [w.id.rsplit("#", 1)[1] for w in windows] == ["bar1", "bar3", "bar5", "bar7"]
    for w in windows:
        assert len(w.chords) == 16
        assert w.durations.sum() == 16 * 24
        assert (w.durations > 0).all()


def test_a_note_sounding_into_a_window_becomes_a_rest_there():
    sheet = LeadSheet("s", np.array([60, 62]), np.array([24 * 6, 24 * 2]), tuple(["C"] * 8))
    second = list(window_lead_sheet(sheet, window_bars=1, hop_bars=1))[1]
    assert second.pitches.tolist() == [0, 62] and second.durations.tolist() == [48, 48]


def test_jazz_splits_are_disjoint_by_source_in_every_key_and_vocab_comes_from_train():
    source = ListSource([make_sheet(i) for i in range(10)])
    dm = LeadSheetDataModule(source, transpositions=[0, 1, 2], window_bars=2, hop_bars=2, val_fraction=0.2,
                        test_fraction=0.2, seed=3, use_cache=False)
    dm.setup()
    report = dm.report
    assert sum(report["sources_per_split"].values()) == 10
    assert report["sources_per_split"]["val"] == 2 and report["sources_per_split"]["test"] == 2
    train_tokens = {t for w in dm.records("train") for t in w.tokens()}
    assert set(Vocabulary(dm.model_inputs()["melody_vocab"]).tokens[4:]) == train_tokens
    batch = next(iter(dm.train_dataloader()))
    assert batch["melody"][:, 0].eq(1).all() and batch["chords"].shape[1] == 8


def test_prepared_data_is_cached_and_a_second_module_never_reloads_the_source():
    source = ListSource([make_sheet(i) for i in range(5)], name="cached")
    LeadSheetDataModule(source, transpositions=[0], window_bars=2).prepare_data()
    again = LeadSheetDataModule(source, transpositions=[0], window_bars=2)
    again.setup()
    assert source.loads == 1
    changed = LeadSheetDataModule(source, transpositions=[0, 5], window_bars=2)
    changed.setup()
    assert source.loads == 2


def test_sequence_windows_are_left_padded_next_token_pairs_within_one_sequence():
    source = ListSource([make_score(i) for i in range(6)], name="scores")
    dm = SequenceDataModule(source, transpositions=[0, 1], context=8, val_fraction=0.2, test_fraction=0.0,
                            use_cache=False)
    dm.setup()
    flat = dm.load_prepared()["flat"]["train"]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape[1] == 8 and x.dtype == torch.long
    first = dm.datasets["train"][0]
    assert first[0][:-1].eq(0).all() and first[0][-1] == 1 and first[1] == flat["tokens"][1]
    # no window reaches back into the previous sequence
    ds = dm.datasets["train"]
    first_target_of_second_sequence = int(flat["starts"][1]) - 1  # sequence 0 gives len - 1 targets
    x, _ = ds[first_target_of_second_sequence]
    assert x[:-1].eq(0).all() and x[-1] == 1


def test_sequence_splits_are_disjoint_by_file():
    source = ListSource([make_score(i) for i in range(10)], name="split")
    dm = SequenceDataModule(source, transpositions=[0, 1, 2], context=4, val_fraction=0.2, test_fraction=0.2,
                            use_cache=False)
    dm.setup()
    per_split = dm.report["sources_per_split"]
    assert per_split == {"train": 6, "val": 2, "test": 2}
    assert dm.report["sequences"] == {"train": 18, "val": 6, "test": 6}


def test_too_few_sources_for_a_split_is_a_clear_error():
    dm = SequenceDataModule(ListSource([make_score(0)], name="one"), transpositions=[0], context=4, use_cache=False)
    dm.setup()
    with pytest.raises(ValueError, match="val split is empty"):
        dm.val_dataloader()


def test_no_transpositions_is_refused_before_preparing():
    with pytest.raises(ValueError, match=r"^transpositions is empty"):
        sequence_module(CountingSource("no-keys"), transpositions=[])


def test_a_pitch_range_that_drops_every_training_copy_says_so():
    sheets = [make_sheet(i) for i in range(5)]  # melodies within 60-72
    module = LeadSheetDataModule(
        ListSource(sheets, name="all-dropped"), transpositions=[0, 2], pitch_range=(80, 96),
        transpose_policy="drop", window_bars=2,
    )  # fmt: skip
    with pytest.raises(
        ValueError, match=r"^every transposed copy of the training pieces was dropped"
    ):
        module.setup()
