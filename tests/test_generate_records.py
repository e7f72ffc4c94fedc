"""The one path from a model to music (``musicgen.sampling.records``): what a model writes is
read from its own data_info, batches never change the pieces, inputs are picked evenly."""

from __future__ import annotations

import pytest
import torch
from helpers import CHORDS, INFO, MELODY, PIANO

from musicgen.data.tokenizers import make_tokenizer
from musicgen.models import JazzGPT, Mary
from musicgen.music.records import LeadSheet, PianoScore
from musicgen.sampling.engine import generate_melodies
from musicgen.sampling.records import generate_records, model_kind, spread
from musicgen.sampling.sampler import Sampler

PIANO_INFO = {"kind": "piano", "tokenizer": make_tokenizer("skuli").info()}


@pytest.fixture(scope="module")
def jazzgpt() -> JazzGPT:
    torch.manual_seed(0)
    return JazzGPT(CHORDS, MELODY, {"kind": "lead_sheet", **INFO}, d_model=32, n_heads=4,
                   enc_layers=1, dec_layers=1, d_ff=64, max_len=64).eval()  # fmt: skip


@pytest.fixture(scope="module")
def mary() -> Mary:
    torch.manual_seed(0)
    vocab = [*PIANO[:4], "C4", "E4", "G4", "0.4.7", "2.5.9"]
    return Mary(vocab, PIANO_INFO, context=8, blocks=1, embed_dim=16, hidden=16, dense=16,
                attention_units=8).eval()  # fmt: skip


def test_what_a_model_writes_comes_from_its_data_info(jazzgpt, mary):
    assert (model_kind(jazzgpt), model_kind(mary)) == ("lead_sheet", "piano")
    records = generate_records(jazzgpt, Sampler("softmax"), [["C7", "F7"]], count=2, max_tokens=20)
    assert all(isinstance(r, LeadSheet) and r.chords == ("C7", "F7") for r in records)
    scores = generate_records(mary, Sampler("softmax"), [[], [5]], num_tokens=6)
    assert all(isinstance(s, PianoScore) for s in scores)


def test_a_model_whose_data_info_names_no_kind_is_one_line(mary):
    torch.manual_seed(0)
    unnamed = Mary(list(mary.hparams.vocab), {"tokenizer": PIANO_INFO["tokenizer"]}, context=8, blocks=1,
                   embed_dim=16, hidden=16, dense=16, attention_units=8)  # fmt: skip
    with pytest.raises(ValueError, match=r"^Mary: its data_info names no record kind"):
        model_kind(unnamed)


def test_pieces_made_in_batches_are_the_pieces_of_one_batch(jazzgpt, mary):
    chords = [["C7", "F7", "G7", "C7"]]
    whole = generate_records(jazzgpt, Sampler("softmax"), chords, count=4, max_tokens=30, seed=7)
    parts = [generate_records(jazzgpt, Sampler("softmax"), chords, count=2, max_tokens=30, seed=7,
                              first=start) for start in (0, 2)]  # fmt: skip
    assert [(r.id, r.tokens()) for r in whole] == [(r.id, r.tokens()) for r in parts[0] + parts[1]]
    one = generate_records(mary, Sampler("softmax"), [[4, 5]] * 3, num_tokens=5, seed=2)
    split = generate_records(mary, Sampler("softmax"), [[4, 5]], num_tokens=5, seed=2, first=2)
    assert split[0].id == "sample2" and split[0].pitches.tolist() == one[2].pitches.tolist()


def test_a_primer_is_kept_at_the_start_of_a_piece_only_when_asked(mary):
    primer = [4, 5, 6]  # C4, E4, G4: one note each, half a beat apart
    kept, dropped = (generate_records(mary, Sampler("argmax"), [primer], num_tokens=4, with_primer=w,
                                      id_format="piece{:02d}")[0] for w in (True, False))  # fmt: skip
    assert kept.id == "piece00"
    assert kept.pitches.tolist()[:3] == [60, 64, 67]
    assert kept.pitches.tolist()[3:] == dropped.pitches.tolist()


def test_spread_picks_evenly_and_repeats_only_when_short():
    assert spread(10, 4) == [0, 2, 5, 7]
    assert spread(3, 3) == [0, 1, 2]
    assert spread(2, 5) == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="validation split is empty"):
        spread(0, 2)


def test_windowed_plays_long_chords_in_the_models_own_training_windows():
    torch.manual_seed(0)
    info = {"kind": "lead_sheet", **INFO, "window_bars": 1}
    model = JazzGPT(CHORDS, MELODY, info, d_model=32, n_heads=4, enc_layers=1, dec_layers=1,
                    d_ff=64, max_len=64).eval()  # fmt: skip
    chords = [["C7"] * 4 + ["F7"] * 4 + ["G7"] * 4]
    windowed = generate_records(model, Sampler("softmax"), chords, max_tokens=20, seed=1, windowed=True)
    direct = generate_melodies(model, chords, Sampler("softmax"), 1, 20, seed=1, window_bars=1)
    assert [r.tokens() for r in windowed] == direct
    assert int(windowed[0].durations.sum()) == 12 * INFO["ticks_per_beat"]
