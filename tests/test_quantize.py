import numpy as np
import pytest

from musicgen.music.quantize import quantize_melody, seconds_to_beats
from musicgen.music.records import REST


def _random_melody(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    onsets = np.cumsum(rng.exponential(0.4, n)) + rng.uniform(0, 3)
    lengths = rng.exponential(0.35, n)
    pitches = rng.integers(40, 90, n)
    return onsets, onsets + lengths, pitches


def test_seconds_to_beats_interpolates_between_beats_and_extrapolates_outside():
    beats = np.array([1.0, 1.5, 2.5, 3.0])
    times = np.array([0.75, 1.0, 1.25, 2.0, 3.0, 3.25])
    assert np.allclose(seconds_to_beats(times, beats), [-0.5, 0.0, 0.5, 1.5, 3.0, 3.5])


def test_seconds_to_beats_rejects_beats_that_do_not_increase():
    with pytest.raises(ValueError, match="beat 2 is at or before beat 1"):
        seconds_to_beats([1.0], [0.0, 1.0, 1.0])


@pytest.mark.parametrize("seed", range(5))
def test_rests_fill_every_gap_so_durations_sum_to_the_span(seed):
    onsets, offsets, pitches = _random_melody(seed)
    total = int(np.ceil(offsets.max())) * 24 + 24
    q = quantize_melody(onsets, offsets, pitches, ticks_per_beat=24, total_ticks=total)
    assert q.durations.sum() == total
    assert np.all(q.durations > 0)
    is_rest = q.pitches == REST
    assert not np.any(is_rest[1:] & is_rest[:-1])  # never two rests in a row
    assert q.counts["note_events"] == q.counts["notes_in"] - q.counts["dropped_same_tick"]


@pytest.mark.parametrize("seed", range(5))
def test_each_onset_tick_keeps_its_last_note_within_half_a_grid_step(seed):
    onsets, offsets, pitches = _random_melody(seed)
    q = quantize_melody(onsets, offsets, pitches, ticks_per_beat=12)
    starts = np.concatenate([[0], np.cumsum(q.durations)[:-1]])[q.pitches != REST]
    source_ticks = np.floor(onsets * 12 + 0.5).astype(int)
    ticks, first = np.unique(source_ticks[::-1], return_index=True)
    assert starts.tolist() == ticks.tolist()
    assert q.pitches[q.pitches != REST].tolist() == pitches[::-1][first].tolist()
    last = len(onsets) - 1 - first
    assert np.all(np.abs(starts / 12 - onsets[last]) <= 0.5 / 12 + 1e-12)


def test_first_event_is_a_leading_rest_when_the_melody_starts_late():
    q = quantize_melody([1.0], [2.0], [60], ticks_per_beat=4)
    assert q.pitches.tolist() == [REST, 60] and q.durations.tolist() == [4, 4]


def test_overlaps_are_trimmed_and_zero_length_notes_get_one_tick_without_moving_the_next():
    q = quantize_melody([0.0, 0.5, 0.51, 1.0], [0.9, 0.501, 0.52, 1.5], [60, 62, 63, 64], 4)
    # 60 overlaps 62's onset (trimmed); 62 and 63 share tick 2 (63 kept); 63 rounds to 0 ticks
    assert q.pitches.tolist() == [60, 63, REST, 64]
    assert q.durations.tolist() == [2, 1, 1, 2]
    assert q.counts["trimmed"] == 1
    assert q.counts["dropped_same_tick"] == 1
    assert q.counts["lengthened"] == 1


def test_split_policy_reattacks_long_notes_in_max_tick_pieces():
    q = quantize_melody([0.0, 5.0], [4.5, 5.5], [60, 62], ticks_per_beat=4, max_ticks=8)
    assert q.pitches.tolist() == [60, 60, 60, REST, 62]
    assert q.durations.tolist() == [8, 8, 2, 2, 2]
    assert q.counts["split_notes"] == 1


def test_clip_policy_keeps_one_attack_and_later_onsets_in_place():
    q = quantize_melody([0.0, 5.0], [4.5, 5.5], [60, 62], 4, max_ticks=8, long_policy="clip")
    assert q.pitches.tolist() == [60, REST, REST, 62]
    assert q.durations.tolist() == [8, 8, 4, 2]
    assert q.counts["clipped_notes"] == 1 and q.counts["split_rests"] == 1
    assert np.cumsum(q.durations)[-2] == 20  # 62 still starts on beat 5


def test_total_ticks_cuts_notes_at_the_end_and_drops_later_ones():
    q = quantize_melody([0.0, 3.0], [3.5, 4.0], [60, 62], ticks_per_beat=2, total_ticks=5)
    assert q.pitches.tolist() == [60] and q.durations.tolist() == [5]
    assert q.counts["dropped_after_end"] == 1 and q.counts["clipped_at_end"] == 1


def test_pitch_zero_and_unknown_policy_are_rejected():
    with pytest.raises(ValueError, match="reserved for rests"):
        quantize_melody([0.0], [1.0], [0])
    with pytest.raises(ValueError, match="long_policy"):
        quantize_melody([0.0], [1.0], [60], long_policy="tie")
