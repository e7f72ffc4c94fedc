"""Lick tokens (``data.tokenizer.bpe_vocab``): exact round trips, key-independent merges, the
merges travelling in the checkpoint, and generation with them through the one model -> music
path."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import compose_config, tiny_train_overrides
from helpers import ListSource, make_sheet

from musicgen.commands.evaluate import evaluate
from musicgen.data.embedded import ChoraleLeadSheetSource
from musicgen.data.leadsheet import ALL_KEYS, LeadSheetDataModule
from musicgen.data.licks import LickTokenizer
from musicgen.data.wjazzd import read_solo, solo_ids
from musicgen.models import datamodule_from_checkpoint, load_model
from musicgen.music.records import LeadSheet
from musicgen.music.tokens import expand_melody
from musicgen.sampling import Sampler
from musicgen.sampling.engine import generate_melodies, token_durations, token_pitches
from musicgen.sampling.progressions import PROGRESSIONS, parse_progression
from musicgen.sampling.records import generate_records
from musicgen.sampling.sampler import chord_bias

BPE = ["data.tokenizer.bpe_vocab=40"]


def random_melodies(seed: int, count: int = 60) -> list[list[str]]:
    """Melodies of random notes and rests with a recurring three-note figure to merge."""
    rng = random.Random(seed)
    plain = [f"{p}:{d}" for p in (0, 60, 62, 63, 65, 67, 70) for d in (3, 6, 12, 24)]
    melodies = []
    for _ in range(count):
        melody: list[str] = []
        while len(melody) < 50:
            melody += ["67:6", "65:6", "63:12"] if rng.random() < 0.3 else [rng.choice(plain)]
        melodies.append(melody)
    return melodies


def sheets_module(transpositions, bpe_vocab: int | None = 30) -> LeadSheetDataModule:
    source = ListSource([make_sheet(i) for i in range(10)])
    tokenizer = None if bpe_vocab is None else {"bpe_vocab": bpe_vocab}
    return LeadSheetDataModule(
        source, transpositions=transpositions, window_bars=4, hop_bars=2, tokenizer=tokenizer,
        use_cache=False,
    )


def same_notes(a: LeadSheet, b: LeadSheet) -> bool:
    return np.array_equal(a.pitches, b.pitches) and np.array_equal(a.durations, b.durations)


def test_licks_decode_to_exactly_the_notes_of_random_melodies():
    licks = LickTokenizer.train(random_melodies(0), num_licks=25, max_length=5)
    assert licks.licks and "67:6+65:6" in licks.licks
    for melody in random_melodies(1):  # unseen melodies, and a token outside the alphabet
        tokens = [*melody, "61:7"]
        encoded = licks.encode(tokens)
        assert expand_melody(encoded) == tokens
        assert len(encoded) < len(tokens)
    assert max(len(lick.split("+")) for lick in licks.licks) < 5


def test_merges_saved_as_plain_lists_rebuild_the_same_tokenizer():
    licks = LickTokenizer.train(random_melodies(2), num_licks=25)
    again = LickTokenizer.from_info(json.loads(json.dumps(licks.info())))
    assert all(again.encode(m) == licks.encode(m) for m in random_melodies(3))


def test_lick_windows_hold_exactly_the_notes_of_the_plain_windows():
    plain, licks = sheets_module([0, 2], None), sheets_module([0, 2])
    assert any("+" in t for t in licks.model_inputs()["melody_vocab"])
    for split in ("train", "val"):
        pairs = list(zip(plain.records(split), licks.records(split), strict=True))
        assert all(same_notes(a, b) for a, b in pairs)
    assert licks.report["melody_tokens"]["train"] < plain.report["notes"]["train"] + plain.report["rests"]["train"]


def test_chorale_melodies_come_back_note_for_note_from_lick_windows():
    def chorales(tokenizer):
        source = ChoraleLeadSheetSource(limit=6, progress=False)
        return LeadSheetDataModule(source, transpositions=[0, 2], window_bars=4, hop_bars=4, tokenizer=tokenizer)

    plain, licks = chorales(None), chorales({"bpe_vocab": 40})
    assert licks.report["lick_tokens"] == 40
    for split in ("train", "test"):
        assert all(same_notes(a, b) for a, b in zip(plain.records(split), licks.records(split), strict=True))


def test_wjd_solos_round_trip_through_licks_learned_from_other_solos(shared_data):
    db = shared_data / "wjazzd" / "wjazzd.db"
    solos = [read_solo(db, melid).tokens() for melid in solo_ids(db)[:16]]
    licks = LickTokenizer.train(solos[:8], num_licks=200)
    for melody in solos[8:]:
        encoded = licks.encode(melody)
        assert expand_melody(encoded) == melody
        assert len(encoded) < len(melody)


def test_merges_are_learned_over_all_twelve_keys_whatever_the_transpositions():
    one_key = sheets_module([0]).model_inputs()["data_info"]["licks"]
    twelve = sheets_module(list(ALL_KEYS)).model_inputs()["data_info"]["licks"]
    assert one_key == twelve


def test_plain_default_keeps_its_tokens_cache_key_and_data_info():
    plain = sheets_module([0, 2], None)
    assert "tokenizer" not in plain.fingerprint()["config"]
    assert "licks" not in plain.model_inputs()["data_info"]
    assert not any("+" in t for t in plain.model_inputs()["melody_vocab"])


def test_a_lick_lasts_its_notes_and_is_judged_by_its_first_sounded_pitch():
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", "61:12", "0:6+61:12", "60:6+0:3+61:6", "0:12+0:6"]
    assert token_durations(vocab)[4:] == [12, 18, 15, 18]
    assert token_pitches(vocab)[4:] == [61, 61, 60, 0]
    assert token_pitches(vocab, last=True)[4:] == [61, 61, 61, 0]
    bias = chord_bias(vocab, "C7", 2.0).tolist()  # C# is outside C7, C is a chord tone
    assert bias[4:] == [-2.0, -2.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def lick_checkpoint(tmp_path_factory, one_thread):
    from hydra.core.hydra_config import HydraConfig

    from musicgen.training import train

    root = tmp_path_factory.mktemp("licks")
    ckpt = train(compose_config("train", [*tiny_train_overrides("jazzgpt"), *BPE], root / "run"))
    HydraConfig.instance().cfg = None
    return ckpt


def test_checkpoint_carries_the_licks_and_rebuilds_their_data(lick_checkpoint):
    model = load_model(lick_checkpoint)
    datamodule = datamodule_from_checkpoint(lick_checkpoint)
    inputs = datamodule.model_inputs()
    assert model.hparams.data_info["licks"] == inputs["data_info"]["licks"]
    assert list(model.hparams.melody_vocab) == inputs["melody_vocab"]
    licks = LickTokenizer.from_info(model.hparams.data_info["licks"])
    assert set(licks.licks) <= set(model.hparams.melody_vocab)


@pytest.mark.parametrize(
    "options", [{}, {"chord_aware": 2.0, "repeat_penalty": 1.0}, {"beam_width": 2}],
    ids=["sampling", "biases", "beam"],
)
def test_generation_with_licks_fills_the_chords_with_decodable_notes(lick_checkpoint, options):
    model = load_model(lick_checkpoint)
    chords = parse_progression(PROGRESSIONS["blues"][1])[:40]  # 10 bars: longer than a window
    records = generate_records(
        model, Sampler(transform="softmax", **options), [chords], count=2, max_tokens=60, seed=3,
        windowed=True,
    )
    tpb = model.hparams.data_info["ticks_per_beat"]
    for record in records:
        assert int(record.durations.sum()) == len(chords) * tpb
        assert (record.durations > 0).all()


def test_generated_tokens_are_plain_notes_whose_durations_add_up(lick_checkpoint):
    model = load_model(lick_checkpoint)
    chords = parse_progression(PROGRESSIONS["ii_v_i"][1])
    melodies = generate_melodies(model, chords, Sampler(transform="softmax"), num_samples=3, max_tokens=60)
    durations = dict(zip(model.hparams.melody_vocab, token_durations(model.hparams.melody_vocab), strict=True))
    for melody in melodies:
        assert all("+" not in t for t in melody)
        assert sum(durations.get(t, int(t.split(":")[1])) for t in melody) == len(chords) * 24


def test_likelihood_task_reports_bits_per_note_and_tokens_per_melody(lick_checkpoint, tmp_path):
    cfg = compose_config("evaluate", ["task=likelihood", f"ckpt_path={lick_checkpoint}"], tmp_path)
    result = json.loads(evaluate(cfg).read_text())
    report = datamodule_from_checkpoint(lick_checkpoint).report
    events = report["notes"]["val"] + report["rests"]["val"]
    assert result["tokens_per_melody"] * result["windows"] == report["melody_tokens"]["val"]
    assert result["tokens_per_melody"] * result["windows"] < events
    assert result["bits_per_note"] * result["notes"] == pytest.approx(
        result["nats_per_token"] * result["tokens"] / np.log(2)
    )
