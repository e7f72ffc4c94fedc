"""From performed timing to a grid: seconds -> beats (through annotated beats) -> whole ticks.

``quantize_melody`` turns a monophonic melody into the LeadSheet form: events that tile the
time line exactly (notes plus explicit rests, pitch 0), durations in whole ticks, the first event
at tick 0. What it had to change is counted, never silently absorbed:

* ``trimmed``: a note ran past the next onset and now ends where the next note starts;
* ``lengthened``: a note rounded to zero ticks and now lasts one tick. Onsets are first made
  distinct (see ``dropped_same_tick``), so this step never reaches into the next note;
* ``dropped_same_tick``: several notes rounded to one onset tick; the last one is kept (in
  performed jazz the earlier one is usually a grace note leading into it);
* ``dropped_before_origin``: a note starting before tick 0;
* ``clipped_at_end`` / ``dropped_after_end``: a note running past ``total_ticks`` is cut there,
  one starting at or after it is dropped;
* ``split_notes`` / ``split_rests`` / ``clipped_notes``: events longer than ``max_ticks``.

Long events and ``max_ticks``: a vocabulary of (pitch, duration) tokens needs a bounded set of
durations. ``long_policy="split"`` (default) cuts a long note into ``max_ticks`` pieces plus a
remainder, so the sounding time is kept but the note is re-articulated: a decoder cannot tell
the pieces from repeated notes (there is no tie token). ``"clip"`` keeps one articulation and
shortens the note to ``max_ticks``, the remainder becoming rest. Long rests are always split
(consecutive rests sound the same as one), so neither policy moves any later onset.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from musicgen.music.records import REST

LONG_POLICIES = ("split", "clip")


class QuantizedMelody(NamedTuple):
    pitches: np.ndarray  # int64, REST (0) for rests
    durations: np.ndarray  # int64 ticks, all > 0
    counts: dict[str, int]  # notes/rests out and what quantization changed (module docstring)


def seconds_to_beats(times: np.ndarray, beat_onsets: np.ndarray) -> np.ndarray:
    """Fractional beat positions (beat i of ``beat_onsets`` = i) by linear interpolation.

    Outside the annotated beats the first/last beat period is extended, so a note just before
    the first beat or after the last one still lands at a sensible position.
    """
    times = np.asarray(times, dtype=np.float64)
    beats = np.asarray(beat_onsets, dtype=np.float64)
    if beats.ndim != 1 or len(beats) < 2:
        raise ValueError(f"need at least two beat onsets, got {beats.shape}")
    if np.any(np.diff(beats) <= 0):
        where = int(np.flatnonzero(np.diff(beats) <= 0)[0])
        raise ValueError(
            f"beat onsets must increase; beat {where + 1} is at or before beat {where}"
        )
    index = np.arange(len(beats), dtype=np.float64)
    positions = np.interp(times, beats, index)
    first_period, last_period = beats[1] - beats[0], beats[-1] - beats[-2]
    before, after = times < beats[0], times > beats[-1]
    positions[before] = (times[before] - beats[0]) / first_period
    positions[after] = index[-1] + (times[after] - beats[-1]) / last_period
    return positions


def quantize_melody(
    onset_beats: np.ndarray,
    offset_beats: np.ndarray,
    pitches: np.ndarray,
    ticks_per_beat: int = 24,
    max_ticks: int | None = None,
    long_policy: str = "split",
    total_ticks: int | None = None,
) -> QuantizedMelody:
    """A monophonic melody in beats -> gap-free (pitch, ticks) events from tick 0.

    ``total_ticks`` pads the end with rest (or cuts notes) so the events span exactly that long.
    """
    if long_policy not in LONG_POLICIES:
        raise ValueError(f"long_policy {long_policy!r} is not one of {LONG_POLICIES}")
    if max_ticks is not None and max_ticks < 1:
        raise ValueError(f"max_ticks must be >= 1, got {max_ticks}")
    onset_beats = np.asarray(onset_beats, dtype=np.float64)
    offset_beats = np.asarray(offset_beats, dtype=np.float64)
    pitches = np.asarray(pitches, dtype=np.int64)
    if not len(onset_beats) == len(offset_beats) == len(pitches):
        raise ValueError("onsets, offsets and pitches differ in length")
    if np.any(pitches == REST):
        raise ValueError(f"pitch {REST} is reserved for rests")
    counts = dict.fromkeys(
        ("notes_in", "dropped_before_origin", "dropped_after_end", "dropped_same_tick",
         "clipped_at_end", "trimmed", "lengthened", "split_notes", "split_rests", "clipped_notes"),
        0,
    )  # fmt: skip
    counts["notes_in"] = len(pitches)

    order = np.argsort(onset_beats, kind="stable")
    starts = np.floor(onset_beats[order] * ticks_per_beat + 0.5).astype(np.int64)
    ends = np.floor(offset_beats[order] * ticks_per_beat + 0.5).astype(np.int64)
    pitches = pitches[order]

    keep = starts >= 0
    counts["dropped_before_origin"] = int(np.count_nonzero(~keep))
    if total_ticks is not None:
        counts["dropped_after_end"] = int(np.count_nonzero(keep & (starts >= total_ticks)))
        keep &= starts < total_ticks
    starts, ends, pitches = starts[keep], ends[keep], pitches[keep]

    last_at_tick = np.ones(len(starts), dtype=bool)
    last_at_tick[:-1] = starts[1:] != starts[:-1]
    counts["dropped_same_tick"] = int(np.count_nonzero(~last_at_tick))
    starts, ends, pitches = starts[last_at_tick], ends[last_at_tick], pitches[last_at_tick]

    next_starts = np.append(starts[1:], np.iinfo(np.int64).max)
    overlapping = ends > next_starts
    counts["trimmed"] = int(np.count_nonzero(overlapping))
    ends = np.minimum(ends, next_starts)
    empty = ends <= starts
    counts["lengthened"] = int(np.count_nonzero(empty))
    ends = np.where(empty, starts + 1, ends)
    if total_ticks is not None:
        beyond = ends > total_ticks
        counts["clipped_at_end"] += int(np.count_nonzero(beyond))
        ends = np.minimum(ends, total_ticks)

    event_pitches, event_durations = _with_rests(starts, ends, pitches, total_ticks)
    if max_ticks is not None:
        event_pitches, event_durations = _bound_durations(
            event_pitches, event_durations, max_ticks, long_policy, counts
        )
    counts["note_events"] = int(np.count_nonzero(event_pitches != REST))
    counts["rest_events"] = len(event_pitches) - counts["note_events"]
    return QuantizedMelody(event_pitches, event_durations, counts)


def _with_rests(
    starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, total_ticks: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleave a rest before every note (dropped where the gap is empty), plus a final rest."""
    previous_ends = np.concatenate([[0], ends])[:-1]
    last_end = int(ends[-1]) if len(ends) else 0
    tail = [] if total_ticks is None else [max(total_ticks - last_end, 0)]
    gaps_and_notes = np.column_stack([starts - previous_ends, ends - starts]).ravel()
    rests_and_pitches = np.column_stack([np.full_like(pitches, REST), pitches]).ravel()
    durations = np.concatenate([gaps_and_notes, tail]).astype(np.int64)
    kinds = np.concatenate([rests_and_pitches, [REST] * len(tail)]).astype(np.int64)
    present = durations > 0
    return kinds[present], durations[present]


def _merge_rests(pitches: np.ndarray, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join runs of consecutive rests into one rest."""
    is_rest = pitches == REST
    starts_group = ~(is_rest & np.concatenate([[False], is_rest[:-1]]))
    group = np.cumsum(starts_group) - 1
    merged = np.bincount(
        group, weights=durations, minlength=int(group[-1]) + 1 if len(group) else 0
    )
    return pitches[starts_group], merged.astype(np.int64)


def _bound_durations(
    pitches: np.ndarray, durations: np.ndarray, max_ticks: int, policy: str, counts: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Split (or, for notes under ``clip``, shorten) events longer than ``max_ticks``."""
    if policy == "clip":
        clipped = (durations > max_ticks) & (pitches != REST)
        counts["clipped_notes"] += int(np.count_nonzero(clipped))
        remainder = np.where(clipped, durations - max_ticks, 0)
        durations = np.where(clipped, max_ticks, durations)
        pitches = np.column_stack([pitches, np.full_like(pitches, REST)]).ravel()
        durations = np.column_stack([durations, remainder]).ravel()
        present = durations > 0
        pitches, durations = _merge_rests(pitches[present], durations[present])
    long = durations > max_ticks
    counts["split_rests"] += int(np.count_nonzero(long & (pitches == REST)))
    counts["split_notes"] += int(np.count_nonzero(long & (pitches != REST)))
    full, rest = np.divmod(durations, max_ticks)
    pieces = full + (rest > 0)
    owner = np.repeat(np.arange(len(durations)), pieces)
    first_piece = np.concatenate([[0], np.cumsum(pieces)[:-1]])
    index_in_event = np.arange(len(owner)) - first_piece[owner]
    piece_durations = np.where(index_in_event < full[owner], max_ticks, rest[owner])
    return pitches[owner], piece_durations.astype(np.int64)
