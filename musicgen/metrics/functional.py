"""Music metrics as pure functions of one record (numpy only).

Every metric is defined on the music, not on tokens, so models with different vocabularies are
compared on equal terms. A metric that is undefined for a record (no notes, too few bars) is
NaN rather than a made-up number; the torchmetrics wrappers in ``modules`` skip those pieces.
Which metrics apply to which records is listed once, in ``registry.METRICS``.

Timing is in beats: a LeadSheet's onsets are ``onset_tick / ticks_per_beat`` and its meter is
its own ``beats_per_bar``; a PianoScore has no meter, so ``beats_per_bar`` defaults to 4.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from musicgen.metrics.ngrams import NGramIndex, record_codes
from musicgen.music.chords import parse_chord
from musicgen.music.key import Key
from musicgen.music.records import REST, LeadSheet, PianoScore, Record, record_notes
from musicgen.music.tokens import UNK

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
PIANO_GROOVE_POSITIONS_PER_BEAT = 12
"""Grid for a PianoScore's groove patterns: sixteenths and eighth-note triplets both land on it."""


def _beats_per_bar(record: Record, beats_per_bar: int | None) -> int:
    if beats_per_bar is not None:
        return beats_per_bar
    return record.beats_per_bar if isinstance(record, LeadSheet) else 4


def _span_beats(record: Record) -> float:
    """Length of the piece in beats: a lead sheet's chart (or its melody, if longer)."""
    if isinstance(record, LeadSheet):
        return max(record.num_beats, int(np.sum(record.durations)) / record.ticks_per_beat)
    onsets, durations, _ = record_notes(record)
    return float(np.max(onsets + durations)) if len(onsets) else 0.0


# ---------------------------------------------------------------- inside ratio


class InsideCount(NamedTuple):
    """Notes on a chord tone, notes scored (sounding, under a chord), notes under NC (unscored)."""

    inside: int
    total: int
    nc: int

    @property
    def ratio(self) -> float:
        return self.inside / self.total if self.total else float("nan")


def count_inside(pitches: Sequence[int] | np.ndarray, onset_beats: Sequence[int] | np.ndarray,
                 beat_tones: Sequence[Collection[int] | None]) -> InsideCount:
    """Count melody notes whose pitch class is a tone of the chord sounding at their onset.

    ``beat_tones[b]`` holds the chord-tone pitch classes of beat ``b`` (None under NC);
    ``onset_beats`` are whole beats (``onset_tick // ticks_per_beat``). Rests (pitch 0) are
    skipped; notes under NC are counted in ``nc`` and left out of the ratio.
    """
    inside = total = nc = 0
    for i, (pitch, beat) in enumerate(zip(pitches, onset_beats, strict=True)):
        if pitch == REST:
            continue
        if not 0 <= beat < len(beat_tones):
            raise ValueError(f"note {i} (pitch {pitch}) starts on beat {beat}, outside the "
                             f"{len(beat_tones)} beats of the chord chart")
        tones = beat_tones[beat]
        if tones is None:
            nc += 1
            continue
        total += 1
        inside += int(pitch) % 12 in tones
    return InsideCount(inside, total, nc)


@lru_cache(maxsize=4096)
def _tone_set(symbol: str) -> frozenset[int] | None:
    if symbol == UNK:  # a chord outside the vocabulary: no known tones, scored like NC
        return None
    chord = parse_chord(symbol)
    return None if chord.is_nc else frozenset(chord.tones)


def chord_tone_sets(chords: Sequence[str]) -> list[frozenset[int] | None]:
    """Per-beat chord-tone pitch classes of a chart (None for NC and ``<unk>``)."""
    return [_tone_set(symbol) for symbol in chords]


def inside_count(sheet: LeadSheet) -> InsideCount:
    """``count_inside`` over a lead sheet's melody and chord chart."""
    beats = sheet.onsets // sheet.ticks_per_beat
    try:
        return count_inside(sheet.pitches, beats, chord_tone_sets(sheet.chords))
    except ValueError as err:
        raise ValueError(f"{sheet.id}: {err}") from err


def inside_ratio(sheet: LeadSheet) -> float:
    """Fraction of the sheet's notes (rests and NC notes excluded) that are chord tones."""
    return inside_count(sheet).ratio


def nc_notes(sheet: LeadSheet) -> float:
    """Notes under NC or an unknown chord: left out of the inside ratio, so reported beside it."""
    return float(inside_count(sheet).nc)


# ---------------------------------------------------------------- downbeat STD


def default_downbeats(beats_per_bar: int) -> tuple[float, ...]:
    """Beats 1 and 3 of 4/4 (positions 0 and 2): the bar's start and, in even meters, its middle."""
    return (0.0, beats_per_bar / 2) if beats_per_bar % 2 == 0 else (0.0,)


def downbeat_distances(onset_beats: Sequence[float] | np.ndarray, beats_per_bar: int = 4,
                       downbeats: Sequence[float] | None = None) -> np.ndarray:
    """Distance in beats from each onset to the nearest downbeat (of its bar or the next)."""
    downbeats = default_downbeats(beats_per_bar) if downbeats is None else tuple(downbeats)
    if not downbeats or not all(0 <= d < beats_per_bar for d in downbeats):
        raise ValueError(f"downbeats {downbeats} must be positions in [0, {beats_per_bar})")
    position = np.mod(np.asarray(onset_beats, dtype=np.float64), beats_per_bar)
    gap = np.abs(position[:, None] - np.asarray(downbeats)[None, :])
    return np.minimum(gap, beats_per_bar - gap).min(axis=1)


def downbeat_std(record: Record, beats_per_bar: int | None = None,
                 downbeats: Sequence[float] | None = None) -> float:
    """Standard deviation (population) of the onsets' distances to the nearest downbeat.

    Downbeats default to beats 1 and 3 of a 4/4 bar. 0 means every onset sits the same distance
    from a strong beat (all on 1 and 3, or all on 2 and 4); a mix of on-beat and off-beat onsets
    raises it. A piano chord is one rhythmic event, so notes sharing an onset count once. NaN
    without notes; the corpus figure is the mean over pieces (``modules.DownbeatSTD``).

    Not the Pop Music Transformer's "downbeat STD" (Huang & Yang 2020), which synthesizes
    audio, tracks downbeats with madmom and takes the std of the bar lengths in seconds, i.e.
    tempo steadiness. On a symbolic grid bar lengths are constant, so this reads placement.
    """
    onsets, _, _ = record_notes(record)
    if isinstance(record, PianoScore):
        onsets = np.unique(np.round(onsets, 6))
    if not len(onsets):
        return float("nan")
    return float(np.std(downbeat_distances(onsets, _beats_per_bar(record, beats_per_bar), downbeats)))


# ---------------------------------------------------------------- pitch statistics


def pitch_class_entropy(record: Record) -> float:
    """Entropy in bits of the pitch-class histogram, one count per note (0 to log2 12).

    As Wu & Yang's Jazz Transformer evaluation, but over the whole piece, not bar windows.
    """
    _, _, pitches = record_notes(record)
    if not len(pitches):
        return float("nan")
    counts = np.bincount(pitches % 12, minlength=12)
    p = counts[counts > 0] / counts.sum()
    return float(np.sum(p * np.log2(1 / p)))


def scale_consistency(record: Record) -> float:
    """Largest fraction of notes inside one of the 24 major / natural-minor scales (Mogren 2016).

    A natural minor scale holds its relative major's pitch classes, so 12 distinct sets decide.
    """
    _, _, pitches = record_notes(record)
    if not len(pitches):
        return float("nan")
    counts = np.bincount(pitches % 12, minlength=12)
    best = 0
    for root in range(12):
        for scale in (MAJOR_SCALE, NATURAL_MINOR_SCALE):
            best = max(best, int(counts[[(root + step) % 12 for step in scale]].sum()))
    return best / len(pitches)


def in_key_share(record: Record, key: Key) -> float:
    """Share of notes inside ``key``'s scale (natural minor for minor keys): how well a piece
    keeps to a key it was asked for."""
    _, _, pitches = record_notes(record)
    if not len(pitches):
        return float("nan")
    steps = NATURAL_MINOR_SCALE if key.minor else MAJOR_SCALE
    scale = [(key.tonic + step) % 12 for step in steps]
    return float(np.isin(pitches % 12, scale).mean())


def pitch_range(record: Record) -> float:
    """Highest minus lowest sounding pitch, in semitones."""
    _, _, pitches = record_notes(record)
    return float(pitches.max() - pitches.min()) if len(pitches) else float("nan")


def polyphony(record: Record) -> float:
    """Mean number of notes sounding together, over the time when at least one sounds.

    Equals the notes' total duration divided by the length of the union of their spans.
    """
    onsets, durations, _ = record_notes(record)
    if not len(onsets):
        return float("nan")
    times = np.concatenate([onsets, onsets + durations])
    steps = np.concatenate([np.ones(len(onsets)), -np.ones(len(onsets))])
    order = np.argsort(times, kind="stable")
    sounding = np.cumsum(steps[order])[:-1] > 0
    covered = float(np.sum(np.diff(times[order])[sounding]))
    return float(durations.sum()) / covered if covered > 0 else float("nan")


# ---------------------------------------------------------------- rhythm statistics


def groove_consistency(record: Record, positions_per_beat: int | None = None,
                       beats_per_bar: int | None = None) -> float:
    """1 - mean normalized Hamming distance between the onset patterns of all pairs of bars.

    A bar's pattern marks which of its ``beats_per_bar * positions_per_beat`` grid positions
    hold an onset (a LeadSheet's own tick grid, else 12 per beat). Every bar of the piece takes
    part, silent ones included, as in Wu & Yang's grooving similarity (Jazz Transformer, 2020).
    NaN below two bars.
    """
    bpb = _beats_per_bar(record, beats_per_bar)
    if positions_per_beat is None:
        positions_per_beat = (record.ticks_per_beat if isinstance(record, LeadSheet)
                              else PIANO_GROOVE_POSITIONS_PER_BEAT)
    per_bar = bpb * positions_per_beat
    n_bars = math.ceil(_span_beats(record) / bpb)
    if n_bars < 2:
        return float("nan")
    onsets, _, _ = record_notes(record)
    slots = np.rint(onsets * positions_per_beat).astype(np.int64)
    patterns = np.zeros((n_bars, per_bar), dtype=np.float64)
    slots = slots[slots < n_bars * per_bar]
    patterns[slots // per_bar, slots % per_bar] = 1.0
    ones = patterns.sum(axis=1)
    hamming = ones[:, None] + ones[None, :] - 2 * patterns @ patterns.T
    upper = np.triu_indices(n_bars, k=1)
    return float(1 - np.mean(hamming[upper]) / per_bar)


def empty_beat_rate(record: Record) -> float:
    """Fraction of the piece's beats during which no note sounds (rests and gaps)."""
    n_beats = math.ceil(_span_beats(record))
    if n_beats == 0:
        return float("nan")
    onsets, durations, _ = record_notes(record)
    starts = np.floor(onsets).astype(np.int64)
    stops = np.ceil(onsets + durations).astype(np.int64)
    cover = np.zeros(n_beats + 1, dtype=np.int64)
    np.add.at(cover, np.clip(starts, 0, n_beats), 1)
    np.add.at(cover, np.clip(stops, 0, n_beats), -1)
    return float(np.mean(np.cumsum(cover)[:n_beats] == 0))


# ---------------------------------------------------------------- token statistics


def repetition_counts(tokens: Sequence | np.ndarray) -> tuple[int, int]:
    """(consecutive pairs that repeat a token, consecutive pairs)."""
    tokens = list(tokens)
    repeats = sum(a == b for a, b in zip(tokens[:-1], tokens[1:], strict=True))
    return int(repeats), max(len(tokens) - 1, 0)


def repetition_rate(tokens: Sequence | np.ndarray) -> float:
    """Share of consecutive token pairs that are the same token: greedy decoding's stuck loops."""
    repeats, pairs = repetition_counts(tokens)
    return repeats / pairs if pairs else float("nan")


def note_tokens(record: Record) -> list[int]:
    """One (pitch, duration) code per sounding note in time order, rests dropped.

    Dropping rests lets a stuck "C, rest, C, rest" loop count as repetition too.
    """
    codes = record_codes(record, "pitch_duration")
    if isinstance(record, LeadSheet):
        codes = codes[np.asarray(record.pitches) != REST]
    return codes.tolist()


def record_repetition_rate(record: Record) -> float:
    """``repetition_rate`` over the record's notes: same pitch and same duration in a row."""
    return repetition_rate(note_tokens(record))


def plagiarism(record: Record, index: NGramIndex) -> float:
    """Share of the record's n-grams (in the index's reading) that occur in the training data."""
    return index.share(index.encode(record))
