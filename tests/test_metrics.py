import math
import pickle

import numpy as np
import pytest
import torch

from musicgen.metrics import functional as F
from musicgen.metrics.modules import DownbeatSTD, InsideRatio, PieceMean, Plagiarism, RepetitionRate
from musicgen.metrics.ngrams import DEFAULT_N, NGramIndex, record_codes
from musicgen.metrics.registry import MusicMetrics, compute_all
from musicgen.music.records import LeadSheet, PianoScore

TPB = 24
C_TRIAD = frozenset({0, 4, 7})
C7 = frozenset({0, 4, 7, 10})


def sheet(pitches, beats, chords=None, name="t"):
    """A lead sheet from durations in beats; the chart defaults to C7 over the melody's length."""
    durations = np.rint(np.asarray(beats, dtype=float) * TPB).astype(np.int64)
    n_beats = math.ceil(durations.sum() / TPB)
    return LeadSheet(name, np.asarray(pitches, dtype=np.int64), durations,
                     tuple(chords) if chords is not None else ("C7",) * n_beats, TPB)


def piano(notes, name="p"):
    onsets, durations, pitches = (np.asarray(col) for col in zip(*notes, strict=True))
    return PianoScore(name, onsets.astype(float), durations.astype(float), pitches.astype(np.int64))


def random_sheet(rng, n_notes, name):
    return sheet(rng.integers(48, 85, n_notes), rng.choice([0.25, 0.5, 1.0, 1.5], n_notes), name=name)


# ---------------------------------------------------------------- inside ratio


def test_c_major_arpeggio_over_c_is_fully_inside():
    count = F.count_inside([60, 64, 67, 72], [0, 1, 2, 3], [C_TRIAD] * 4)
    assert count == (4, 4, 0)
    assert count.ratio == 1.0


def test_chromatic_run_over_c7_has_four_of_twelve_notes_inside():
    count = F.count_inside(range(60, 72), range(12), [C7] * 12)
    assert (count.inside, count.total) == (4, 12)
    assert count.ratio == pytest.approx(4 / 12)


def test_rests_and_nc_notes_are_left_out_of_the_inside_ratio_and_nc_is_counted():
    count = F.count_inside([60, 0, 61, 62, 64], [0, 1, 2, 3, 3], [C_TRIAD, C_TRIAD, None, C_TRIAD])
    assert count == (2, 3, 1)  # 60 and 64 inside, 62 outside; the rest and the NC note excluded


def test_note_outside_the_chord_chart_is_an_error_naming_note_and_beat():
    with pytest.raises(ValueError, match="note 1 .* beat 2"):
        F.count_inside([60, 62], [0, 2], [C_TRIAD, C_TRIAD])


def test_lead_sheet_inside_ratio_reads_chord_symbols_and_onset_beats():
    # eighth notes C D E F over one beat of C7 then one beat of F (F A C): beat = tick // 24
    melody = sheet([60, 62, 64, 65], [0.5] * 4, chords=("C7", "F"))
    assert F.inside_count(melody) == (2, 4, 0)  # C in C7, D not; E not in F, F is
    with_nc = sheet([60, 0, 65], [1, 1, 1], chords=("C", "C", "NC"))
    assert F.inside_count(with_nc) == (1, 1, 1)


def test_lead_sheet_with_melody_past_its_chart_names_the_sheet():
    with pytest.raises(ValueError, match="short: note 1"):
        F.inside_count(sheet([60, 62], [1, 1], chords=("C",), name="short"))


# ---------------------------------------------------------------- downbeat STD


def test_downbeat_std_is_zero_for_notes_only_on_beats_one_and_three():
    melody = sheet([60, 62, 64, 65, 67, 69], [2] * 6)  # onsets 0, 2, 4, 6, 8, 10
    assert F.downbeat_std(melody) == 0.0


def test_downbeat_std_matches_a_hand_computed_mixed_case():
    # onsets 0, 0.5, 1, 2 -> distances 0, 0.5, 1, 0; mean 0.375, variance 0.6875 / 4
    melody = sheet([60, 62, 64, 65], [0.5, 0.5, 1, 2])
    assert F.downbeat_std(melody) == pytest.approx(math.sqrt(0.6875 / 4))


def test_downbeat_positions_are_configurable():
    # only beat 1 as downbeat: onsets 0, 1, 2, 3 -> distances 0, 1, 2, 1 (beat 4 is near next bar)
    assert F.downbeat_distances([0, 1, 2, 3], 4, downbeats=(0,)).tolist() == [0, 1, 2, 1]
    with pytest.raises(ValueError, match="downbeats"):
        F.downbeat_distances([0], 4, downbeats=(4,))


def test_piano_chord_counts_once_in_downbeat_std():
    # a C major chord on beat 1 and one note on beat 2: distances {0, 1} -> std 0.5
    score = piano([(0, 1, 60), (0, 1, 64), (0, 1, 67), (1, 1, 72)])
    assert F.downbeat_std(score) == pytest.approx(0.5)


# ---------------------------------------------------------------- plagiarism


@pytest.fixture(scope="module")
def training():
    rng = np.random.default_rng(7)
    return [random_sheet(rng, 200, f"train{i}") for i in range(20)]


@pytest.mark.parametrize("kind", ["interval", "pitch_duration"])
def test_training_excerpt_is_fully_plagiarised(training, kind):
    index = NGramIndex.from_records(training, kind, n=4)
    source = training[3]
    excerpt = sheet(source.pitches[50:90], source.durations[50:90] / TPB)
    assert F.plagiarism(excerpt, index) == 1.0


@pytest.mark.parametrize("kind", ["interval", "pitch_duration"])
def test_seeded_random_melody_is_almost_never_plagiarised(training, kind):
    index = NGramIndex.from_records(training, kind, n=5)
    fresh = random_sheet(np.random.default_rng(12345), 200, "fresh")
    assert F.plagiarism(fresh, index) < 0.05


def test_interval_plagiarism_finds_a_transposed_copy_but_pitch_duration_does_not(training):
    source = training[0]
    up_a_third = sheet(source.pitches[:40] + 4, source.durations[:40] / TPB)
    assert F.plagiarism(up_a_third, NGramIndex.from_records(training, "interval", 4)) == 1.0
    assert F.plagiarism(up_a_third, NGramIndex.from_records(training, "pitch_duration", 4)) < 0.05


def test_ngram_index_answers_contains_and_survives_pickling(training):
    index = NGramIndex.build([[1, 2, 3, 4, 5]], n=3)
    assert index.contains([2, 3, 4]) and not index.contains([3, 2, 1])
    assert len(index) == 3 and index.share([1, 2, 3, 9]) == 0.5
    assert math.isnan(index.share([1, 2]))
    with pytest.raises(ValueError, match="3-grams"):
        index.contains([1, 2])
    assert NGramIndex.from_records(training[:1], "interval").n == DEFAULT_N["interval"]
    with pytest.raises(ValueError, match="'chords'"):
        NGramIndex.from_records(training, "chords")
    full = NGramIndex.from_records(training, "interval", 5)
    restored = pickle.loads(pickle.dumps(full))
    probe = record_codes(training[5], "interval")
    assert restored.share(probe) == full.share(probe) == 1.0


# ---------------------------------------------------------------- pitch and rhythm statistics


def test_pitch_class_entropy_is_zero_for_one_pitch_and_log2_12_for_all_twelve():
    assert F.pitch_class_entropy(sheet([60, 0, 72, 48], [1] * 4)) == 0.0
    assert F.pitch_class_entropy(sheet(range(60, 72), [1] * 12)) == pytest.approx(math.log2(12))


def test_scale_consistency_is_one_for_a_c_major_scale_and_seven_twelfths_for_chromatic():
    assert F.scale_consistency(sheet([60, 62, 64, 65, 67, 69, 71, 72], [1] * 8)) == 1.0
    assert F.scale_consistency(sheet(range(60, 72), [1] * 12)) == pytest.approx(7 / 12)


def test_repetition_rate_counts_consecutive_identical_tokens():
    assert F.repetition_rate(["a", "a", "a", "b"]) == pytest.approx(2 / 3)
    assert math.isnan(F.repetition_rate(["a"]))


def test_record_repetition_sees_a_note_repeated_across_rests_but_not_a_new_duration():
    # C C (rest) C as eighths, then C as a quarter: two repeats out of three note pairs
    stuck = sheet([60, 60, 0, 60, 60], [0.5, 0.5, 0.5, 0.5, 1])
    assert F.record_repetition_rate(stuck) == pytest.approx(2 / 3)


def test_groove_consistency_is_one_for_identical_bars_and_hand_computed_otherwise():
    bar = [1, 0.5, 0.5, 2]  # onsets on beats 0, 1, 1.5, 2 of each bar
    assert F.groove_consistency(sheet([60] * 12, bar * 3)) == 1.0
    # bar 2 moves the off-beat onset from 1.5 to 2.5: two of 96 positions differ
    changed = sheet([60] * 8, bar + [1, 1, 0.5, 1.5])
    assert F.groove_consistency(changed) == pytest.approx(1 - 2 / 96)


def test_empty_beat_rate_is_one_for_a_whole_rest_bar_and_counts_gaps():
    assert F.empty_beat_rate(sheet([0], [4])) == 1.0
    assert F.empty_beat_rate(sheet([60, 0, 62], [1.5, 1.5, 1])) == pytest.approx(1 / 4)
    # a piano note held over beats 0-1, then silence until a note on beat 3
    assert F.empty_beat_rate(piano([(0, 2, 60), (3, 1, 62)])) == pytest.approx(1 / 4)


def test_pitch_range_and_polyphony_of_overlapping_piano_notes():
    score = piano([(0, 2, 48), (1, 2, 67), (5, 1, 60)])
    assert F.pitch_range(score) == 19
    # 5 beats of notes over 4 beats of sound (0-3 and 5-6)
    assert F.polyphony(score) == pytest.approx(5 / 4)
    assert F.polyphony(sheet([60, 0, 62], [1, 1, 1])) == 1.0


def test_compute_all_reports_the_metrics_of_each_record_type(training):
    index = NGramIndex.from_records(training, "interval", 4)
    lead = compute_all(training[0], ngram_indexes=[index])
    assert {"inside_ratio", "nc_notes", "downbeat_std", "plagiarism_interval_4"} <= lead.keys()
    assert "polyphony" not in lead and lead["plagiarism_interval_4"] == 1.0
    assert "inside_ratio" not in compute_all(training[0], chords_known=False)
    score = compute_all(piano([(0, 1, 60), (0, 1, 64), (1, 1, 62)]))
    assert "inside_ratio" not in score and score["polyphony"] == pytest.approx(1.5)
    assert math.isnan(compute_all(sheet([0], [4]))["pitch_range"])


# ---------------------------------------------------------------- torchmetrics


def _whole_and_halves(make, records):
    """One metric over all records, and two that each saw one half, as two DDP ranks would."""
    whole, first, second = make(), make(), make()
    whole.update(records)
    first.update(records[: len(records) // 2])
    second.update(records[len(records) // 2 :])
    return whole, first, second


@pytest.mark.parametrize("make", [
    InsideRatio,
    DownbeatSTD,
    RepetitionRate,
    lambda: PieceMean(F.pitch_class_entropy),
], ids=["inside", "downbeat_std", "repetition", "entropy"])
def test_metric_states_sum_across_two_simulated_processes(training, make):
    whole, first, second = _whole_and_halves(make, training[:7])
    for name, value in whole.metric_state.items():  # what an all-reduce with "sum" produces
        assert torch.allclose(first.metric_state[name] + second.metric_state[name], value)
    first.merge_state(second)
    assert torch.allclose(first.compute(), whole.compute())


def test_plagiarism_metric_pools_ngrams_across_processes(training):
    index = NGramIndex.from_records(training[:10], "pitch_duration", 4)
    records = training[8:14]  # two seen, four unseen
    whole, first, second = _whole_and_halves(lambda: Plagiarism(index), records)
    first.merge_state(second)
    assert first.compute().item() == pytest.approx(whole.compute().item())
    found = sum(index.matches(index.encode(r))[0] for r in records)
    total = sum(index.matches(index.encode(r))[1] for r in records)
    assert whole.compute().item() == pytest.approx(found / total)
    assert 0.3 < found / total < 0.4


def test_inside_ratio_metric_is_the_ratio_of_summed_notes_and_rejects_piano_scores():
    metric = InsideRatio()
    metric.update([sheet([60, 64, 67], [1, 1, 1], chords=("C",) * 3),
                   sheet(range(60, 72), [1] * 12)])
    assert metric.compute().item() == pytest.approx((3 + 4) / (3 + 12))
    with pytest.raises(TypeError, match="PianoScore 'p'"):
        metric.update([piano([(0, 1, 60)])])


def test_downbeat_std_metric_averages_per_piece_values_and_skips_empty_pieces():
    pieces = [sheet([60, 62, 64, 65], [0.5, 0.5, 1, 2]), sheet([60, 62], [2, 2]), sheet([0], [4])]
    metric = DownbeatSTD()
    metric.update(pieces)
    assert metric.compute().item() == pytest.approx(math.sqrt(0.6875 / 4) / 2)


def test_music_metrics_updates_every_metric_from_one_list_of_records(training):
    index = NGramIndex.from_records(training, "interval", 6)
    lead = MusicMetrics("lead_sheet", ngram_indexes=[index], prefix="val/")
    lead.update(training[:3])
    values = lead.compute()
    assert values["val/plagiarism_interval_6"].item() == 1.0
    assert "val/inside_ratio" in values and "val/polyphony" not in values
    expected = np.mean([F.scale_consistency(r) for r in training[:3]])
    assert values["val/scale_consistency"].item() == pytest.approx(expected)
    piano_metrics = MusicMetrics("piano")
    piano_metrics.update([piano([(0, 2, 60), (1, 2, 64)])])
    assert "inside_ratio" not in piano_metrics.keys()
    assert piano_metrics.compute()["polyphony"].item() == pytest.approx(4 / 3)
