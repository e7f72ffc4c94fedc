"""``python sample.py`` (musicgen.commands.sample): the options a checkpoint cannot use are refused in one line each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from helpers import cli_error, entry_point, sample_cfg, the_error_line

from musicgen.commands.sample import sample
from musicgen.music.records import LeadSheet
from musicgen.render.musicxml import lead_sheet_to_musicxml
from musicgen.sampling.progressions import resolve_chords


def test_sample_py_with_an_unknown_chord_symbol_names_it(checkpoints, tmp_path):
    result = entry_point(
        "sample.py", f"ckpt_path={checkpoints['jazzgpt']}", "chords=C7 | H7", "formats=[mid]",
        outputs=tmp_path,
    )  # fmt: skip
    assert the_error_line(result) == (
        "error: unknown chord symbol 'H7': bar 2, 'H7' is not a note name (A-G with optional b or #)"
    )


@pytest.mark.parametrize(
    "chords, expected",
    [
        ("Cj7 | Xm7", "unknown chord symbol 'Xm7': bar 2"),
        ("C D E F G | C", "chords: bar 1 has 5 chords but only 4 beats"),
        ("", "chords: the progression is empty"),
        (" | \n | ", "chords: the progression is empty"),
    ],
    ids=["unknown-symbol", "too-many-chords-in-a-bar", "empty", "only-bar-lines"],
)
def test_bad_chord_inputs_are_one_line_naming_the_problem(
    checkpoints, chords, expected, tmp_path, capsys
):
    line = cli_error(
        sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, f"chords='{chords}'"), capsys
    )
    assert line.startswith(f"error: {expected}")


def test_primer_data_on_a_jazzgpt_checkpoint_is_refused(checkpoints, tmp_path, capsys):
    line = cli_error(sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "primer=data"), capsys)
    assert line.startswith("error: primer=data: a JazzGPT checkpoint writes over chords=, starting from a MIDI phrase")


def test_jazzgpt_plays_over_a_musicxml_lead_sheet_from_a_midi_phrase(checkpoints, tmp_path):
    chords = resolve_chords("C-7 F7 | Bb6 | Eb7 | D7 G7")
    tune = lead_sheet_to_musicxml(LeadSheet("tune", np.array([60]), np.array([16 * 24]), tuple(chords)), tmp_path / "tune.musicxml")
    midi = pretty_midi.PrettyMIDI(initial_tempo=60)
    line = pretty_midi.Instrument(0)
    line.notes = [pretty_midi.Note(80, 67, 0, 1), pretty_midi.Note(80, 65, 1, 2)]
    midi.instruments.append(line)
    midi.write(str(tmp_path / "lick.mid"))
    index = sample(sample_cfg(checkpoints["jazzgpt"], tmp_path / "out", f"chords={tune}",
                              f"primer={tmp_path / 'lick.mid'}", "num_samples=2", "windowed=false"))
    for entry in json.loads(index.read_text())["samples"]:
        notes = pretty_midi.PrettyMIDI(entry["files"]["mid"]).instruments[0].notes
        assert [(n.pitch, round(n.start * 2, 3)) for n in notes[:2]] == [(67, 0.0), (65, 1.0)]


def test_mary_continues_a_midi_phrase_with_its_own_tokenizer(checkpoints, tmp_path, capsys):
    midi = pretty_midi.PrettyMIDI(initial_tempo=60)
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(80, p, i, i + 1) for i, p in enumerate((60, 64, 67, 127))]
    midi.instruments.append(piano)
    midi.write(str(tmp_path / "phrase.mid"))
    index = sample(sample_cfg(checkpoints["mary"], tmp_path / "out", f"primer={tmp_path / 'phrase.mid'}"))
    assert "tokens the model never saw (read as <unk>)" in capsys.readouterr().out
    assert len(json.loads(index.read_text())["samples"]) == 4


def test_chords_given_to_a_piano_checkpoint_are_refused_not_ignored(checkpoints, tmp_path, capsys):
    line = cli_error(sample, sample_cfg(checkpoints["mary"], tmp_path, "chords=blues"), capsys)
    assert line == (
        "error: chords=blues is for JazzGPT checkpoints; a Mary checkpoint writes num_notes tokens "
        "from primer= (drop chords=)"
    )


def test_a_key_given_to_a_piano_checkpoint_without_key_conditioning_is_refused(checkpoints, tmp_path, capsys):
    line = cli_error(sample, sample_cfg(checkpoints["mary"], tmp_path, "key=F"), capsys)
    assert line == (
        "error: key=F is for JazzGPT and key-conditioned checkpoints; this Mary checkpoint was "
        "trained without model.key_conditioning (drop key=)"
    )


MIDI_SOURCE = "musicgen.data.midi.MidiFolderSource"


def _checkpoint_with_data(source: Path, target: Path, edit) -> Path:
    """A copy of ``source`` whose recorded data config was changed by ``edit``."""
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    edit(checkpoint["musicgen_run"]["config"]["data"])
    torch.save(checkpoint, target)
    return target


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda data: data["source"].update(limit=3), "no longer gives the model's vocabulary"),
        (
            lambda data: data.update(source={"_target_": MIDI_SOURCE, "path": "/gone"}),
            "MIDI folder not found: /gone",
        ),
    ],
    ids=["vocabulary-changed", "data-moved"],
)
def test_primer_data_when_the_data_no_longer_matches_the_checkpoint(
    checkpoints, edit, expected, tmp_path, capsys
):
    ckpt = _checkpoint_with_data(checkpoints["mary"], tmp_path / "edited.ckpt", edit)
    line = cli_error(sample, sample_cfg(ckpt, tmp_path / "out", "primer=data"), capsys)
    assert expected in line


@pytest.mark.parametrize(
    "model, override",
    [
        ("jazzgpt", "num_samples=-1"), ("jazzgpt", "num_samples=0"), ("jazzgpt", "max_tokens=0"),
        ("jazzgpt", "choruses=0"), ("mary", "num_samples=-1"), ("mary", "num_notes=0"),
        ("mary", "primer_length=0"),
    ],
)  # fmt: skip
def test_counts_below_one_are_refused_by_name(checkpoints, model, override, tmp_path, capsys):
    extra = ["primer=data"] if override.startswith("primer_length") else []
    line = cli_error(sample, sample_cfg(checkpoints[model], tmp_path, override, *extra), capsys)
    assert line == f"error: {override}: expected a whole number of at least 1"


def test_a_sampler_setting_out_of_range_is_one_line_naming_the_sampler(
    checkpoints, tmp_path, capsys
):
    line = cli_error(
        sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "sampler=topk", "sampler.k=0"), capsys
    )
    assert line == "error: sampler: k must be >= 1, got 0"


def test_a_progression_longer_than_jazzgpts_positions_is_refused_with_the_limit(
    checkpoints, tmp_path, capsys
):
    cfg = sample_cfg(checkpoints["jazzgpt"], tmp_path, "chords=blues", "choruses=43")
    assert cli_error(sample, cfg, capsys) == (
        "error: chords=blues with choruses=43 is 2064 beats, but this model reads at most "
        "max_len=2048: use fewer choruses or bars"
    )


def test_a_melody_limit_beyond_jazzgpts_positions_is_refused(checkpoints, tmp_path, capsys):
    line = cli_error(
        sample, sample_cfg(checkpoints["jazzgpt"], tmp_path, "max_tokens=4096"), capsys
    )
    assert line == "error: max_tokens=4096 must be below the model's max_len=2048"
