"""Key conditioning ``[X; M]`` for MAR-Y and the LSTM: the key of each piece estimated once and
moved with its transposed copies, the key vector on every input step, ``sample.py key= mode=``,
and plain models and data left exactly as they were."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import compose_config, tiny_train_overrides
from helpers import (
    PIANO,
    ListSource,
    cli_error,
    one_error_line,
    sample_cfg,
    sequence_batch,
    tiny_lstm,
    tiny_mary,
)

from musicgen.commands.keys import main as compare_keys
from musicgen.commands.sample import sample
from musicgen.data.sequence import SequenceDataModule
from musicgen.data.tokenizers import make_tokenizer
from musicgen.metrics.functional import in_key_share
from musicgen.models import Mary, load_model
from musicgen.models.base import with_key
from musicgen.music.key import (
    KEY_DIM,
    KEY_IDS,
    Key,
    key_from_id,
    key_vector,
    parse_key,
    score_key,
    transpose_key,
)
from musicgen.music.records import PianoScore
from musicgen.music.transpose import transpose_score
from musicgen.sampling.engine import beam_search_sequences, generate_sequences
from musicgen.sampling.records import generate_records, primer_key
from musicgen.sampling.sampler import Sampler

ALL_KEYS = [key_from_id(i) for i in range(KEY_IDS)]


def scale_piece(name: str, tonic_pitch: int, minor: bool = False) -> PianoScore:
    """A scale up and its tonic triad held: a piece whose key is beyond doubt."""
    steps = (0, 2, 3, 5, 7, 8, 10, 12) if minor else (0, 2, 4, 5, 7, 9, 11, 12)
    third = 3 if minor else 4
    pitches = [tonic_pitch + s for s in steps] + [tonic_pitch, tonic_pitch + third, tonic_pitch + 7]
    onsets = [float(i) for i in range(len(steps))] + [8.0] * 3
    return PianoScore(name, onsets, [1.0] * len(steps) + [4.0] * 3, pitches, group=name)


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.name)
def test_key_vector_shifts_with_transposition(key):
    for semitones in range(-11, 12):
        moved = key_vector(transpose_key(key, semitones))
        assert np.array_equal(moved[:12], np.roll(key_vector(key)[:12], semitones))
        assert np.array_equal(moved[12:], key_vector(key)[12:])  # the mode never moves


@pytest.mark.parametrize("semitones", [-5, -1, 2, 6])
def test_the_estimated_key_of_a_transposed_piece_is_the_transposed_key(semitones):
    piece = scale_piece("a", 62, minor=True)
    moved = transpose_score(piece, semitones)
    assert score_key(moved.pitches, moved.durations) == transpose_key(
        score_key(piece.pitches, piece.durations), semitones
    )


def test_key_ids_round_trip_and_the_torch_vector_is_the_documented_one():
    assert [key_from_id(k.midi_number) for k in ALL_KEYS] == ALL_KEYS
    h = torch.zeros(KEY_IDS, 3, 5)
    joined = with_key(h, torch.arange(KEY_IDS), conditioned=True, name="m")
    assert joined.shape == (KEY_IDS, 3, 5 + KEY_DIM)
    expected = torch.from_numpy(np.stack([key_vector(k) for k in ALL_KEYS]))
    assert all(torch.equal(joined[:, t, 5:], expected) for t in range(3))


@pytest.mark.parametrize(
    "tonic, mode, expected",
    [
        ("Eb", "major", Key(3)),
        ("F#", "minor", Key(6, True)),
        ("bb", None, Key(10)),
        (" C ", "Minor", Key(0, True)),
    ],
)
def test_a_requested_key_is_parsed(tonic, mode, expected):
    assert parse_key(tonic, mode) == expected


@pytest.mark.parametrize(
    "tonic, mode, message",
    [
        ("H", "major", "key=H: not a tonic; write a note name such as C, Eb or F#"),
        ("", None, "key=: not a tonic; write a note name such as C, Eb or F#"),
        ("C", "dorian", "mode=dorian: expected major or minor"),
    ],
)
def test_a_bad_key_or_mode_is_one_line_naming_it(tonic, mode, message):
    with pytest.raises(ValueError) as error:
        parse_key(tonic, mode)
    assert str(error.value) == message


def test_in_key_share_counts_the_notes_inside_the_scale():
    piece = PianoScore("p", [0.0, 1.0, 2.0, 3.0], [1.0] * 4, [60, 64, 66, 71])
    assert in_key_share(piece, Key(0)) == 0.75  # F# leaves C major
    assert in_key_share(piece, Key(7)) == 1.0  # and belongs to G major
    assert np.isnan(in_key_share(PianoScore("e", [], [], []), Key(0)))


def key_module(key_conditioning: bool, transpositions=(0, 2)) -> SequenceDataModule:
    pieces = [scale_piece(f"p{i}", 60 + i, minor=i % 2 == 1) for i in range(4)]
    return SequenceDataModule(
        ListSource(pieces, name="scales"), transpositions=transpositions, context=4,
        val_fraction=0.25, test_fraction=0.25, key_conditioning=key_conditioning, use_cache=False,
    )  # fmt: skip


def test_each_transposed_copy_carries_its_piece_key_moved_with_it():
    module = key_module(True, transpositions=(0, 2, -3))
    module.setup()
    keys = [key_from_id(k) for k in module.load_prepared()["flat"]["train"]["keys"].tolist()]
    as_written = [Key(i, i % 2 == 1) for i in range(4)]  # scale_piece(f"p{i}", 60 + i, ...)
    # Sequences come piece by piece, each in the keys of ``transpositions`` in order.
    assert len(keys) == 3 * 2  # two training pieces in three keys
    for i in range(0, len(keys), 3):
        assert keys[i] in as_written
        assert keys[i + 1 : i + 3] == [transpose_key(keys[i], 2), transpose_key(keys[i], -3)]
    x, y, k = next(iter(module.train_dataloader()))
    assert x.shape[1] == 4 and k.shape == y.shape and k.dtype == torch.long


def test_plain_data_is_unchanged_by_the_key_option():
    plain, keyed = key_module(False), key_module(True)
    assert "keys" not in plain.preparation_config() and "keys" in keyed.preparation_config()
    plain.setup()
    assert "keys" not in plain.load_prepared()["flat"]["train"]
    assert len(next(iter(plain.train_dataloader()))) == 2


@pytest.mark.parametrize(
    "build, first_input",
    [
        (lambda **kw: tiny_mary(**kw), lambda m: m.blocks[0].lstm.input_size),
        (lambda **kw: tiny_lstm(**kw), lambda m: m.lstm.input_size),
        (lambda **kw: tiny_lstm(input="scalar", **kw), lambda m: m.lstm.input_size),
    ],
    ids=["mary", "lstm", "lstm-scalar"],
)
def test_conditioned_models_read_the_key_on_every_step_and_plain_ones_take_none(
    build, first_input
):
    plain, keyed = build(), build(key_conditioning=True)
    assert first_input(keyed) == first_input(plain) + KEY_DIM
    x, y = sequence_batch()
    keys = torch.arange(len(x)) % KEY_IDS
    assert keyed(x, keys).shape == plain(x).shape == (len(x), len(PIANO))
    keyed.eval()
    assert not torch.allclose(keyed(x, keys), keyed(x, (keys + 1) % KEY_IDS))
    loss, _ = keyed.loss_and_tokens((x, y, keys))
    assert loss.isfinite()
    with pytest.raises(ValueError, match="key_conditioning=true: give each window its key id"):
        keyed(x)
    with pytest.raises(ValueError, match="trained without key_conditioning: it takes no key"):
        plain(x, keys)


def test_the_engine_gives_each_primer_its_key_whatever_the_batch():
    model = tiny_mary(key_conditioning=True).eval()
    primers, keys = [[4, 5], [6], []], [3, 15, 7]
    together = generate_sequences(model, primers, Sampler("softmax"), 6, seed=4, keys=keys)
    alone = [generate_sequences(model, [p], Sampler("softmax"), 6, seed=4 + i, keys=[k])[0]
             for i, (p, k) in enumerate(zip(primers, keys, strict=True))]  # fmt: skip
    assert together == alone
    assert len(beam_search_sequences(model, primers, 3, 4, keys=keys)) == 3
    with pytest.raises(ValueError, match="2 keys for 3 primers"):
        generate_sequences(model, primers, Sampler("softmax"), 2, keys=keys[:2])


def test_generate_records_asks_a_conditioned_model_for_a_key_and_refuses_a_plain_one():
    tokenizer = make_tokenizer("skuli")
    vocab = [*PIANO[:4], "C4", "G4", "D4", "A4", "0.4.7", "2.6.9"]
    info = {"kind": "piano", "tokenizer": tokenizer.info()}
    torch.manual_seed(0)
    sizes = dict(context=8, blocks=1, embed_dim=16, hidden=16, dense=16, attention_units=8)
    keyed = Mary(vocab, info, key_conditioning=True, **sizes).eval()
    plain = Mary(vocab, info, **sizes).eval()
    primer = [9, 6, 9, 7, 6]  # D major triads, D, A and D again
    assert primer_key(keyed, primer) == Key(2)
    assert primer_key(keyed, [8, 4, 8, 5, 4]) == Key(0)  # the same in C
    assert primer_key(keyed, []) == Key(0)  # nothing sounds: C major
    asked = generate_records(keyed, Sampler("softmax"), [primer], num_tokens=5, key=Key(3))
    kept = generate_records(keyed, Sampler("softmax"), [primer], num_tokens=5)
    assert len(asked) == len(kept) == 1
    with pytest.raises(ValueError, match=r"^key=Eb major: this Mary was trained without"):
        generate_records(plain, Sampler("softmax"), [primer], num_tokens=5, key=Key(3))


@pytest.fixture(scope="module")
def keyed_checkpoint(tmp_path_factory):
    from musicgen.training import train

    overrides = [*tiny_train_overrides("mary"), "model.key_conditioning=true"]
    return train(compose_config("train", overrides, tmp_path_factory.mktemp("keyed") / "run"))


def test_a_conditioned_checkpoint_round_trips_with_its_key_input(keyed_checkpoint):
    model = load_model(keyed_checkpoint).eval()
    again = load_model(keyed_checkpoint).eval()
    assert model.hparams.key_conditioning is True
    x = torch.full((2, 5), 4)
    keys = torch.tensor([3, 20])
    assert torch.equal(model(x, keys), again(x, keys))


def test_sample_writes_in_a_requested_key(keyed_checkpoint, tmp_path):
    index = sample(sample_cfg(keyed_checkpoint, tmp_path, "key=Eb", "mode=major", "num_samples=2"))
    assert index.is_file() and len(list(tmp_path.glob("*.mid"))) == 2


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["key=H"], "error: key=H: not a tonic; write a note name such as C, Eb or F#"),
        (["key=Eb", "mode=lydian"], "error: mode=lydian: expected major or minor"),
        (["mode=minor"], "error: mode=minor needs a tonic: add key=, e.g. key=Eb mode=minor"),
    ],
    ids=["bad-tonic", "bad-mode", "mode-without-key"],
)
def test_sample_refuses_a_bad_key_in_one_line(
    keyed_checkpoint, overrides, message, tmp_path, capsys
):
    assert cli_error(sample, sample_cfg(keyed_checkpoint, tmp_path, *overrides), capsys) == message


def test_mode_on_a_jazzgpt_checkpoint_is_refused(checkpoints, tmp_path, capsys):
    line = cli_error(sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "mode=minor"), capsys)
    assert line.startswith("error: mode=minor is for key-conditioned MAR-Y and LSTM checkpoints")


def test_the_key_comparison_measures_each_checkpoint_on_the_same_primers(
    keyed_checkpoint, tmp_path
):
    out = tmp_path / "keys.json"
    compare_keys([str(keyed_checkpoint), "--samples-per-key", "1", "--num-tokens", "6",
          "--val-batches", "2", "--out", str(out)])  # fmt: skip
    rows = json.loads(out.read_text())
    *models, reference = rows
    assert [(r["primer"], r["key_conditioning"]) for r in models] == [("none", True), ("data", True)]
    assert all(0.0 <= r["in_key_mean"] <= 1.0 and r["val_loss"] > 0 for r in models)
    assert reference["checkpoint"] is None and 0.0 <= reference["in_key_mean"] <= 1.0


def test_the_key_comparison_names_a_missing_checkpoint_in_one_line(tmp_path, capsys):
    line = one_error_line(lambda: compare_keys([str(tmp_path / "gone.ckpt")]), capsys)
    assert "gone.ckpt" in line
