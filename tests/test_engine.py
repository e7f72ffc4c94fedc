"""The generation engine: cache equivalence, seeds, batching, spans, specials, beams, filters."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from helpers import ROOT

from musicgen.models import JazzGPT, LSTMBaseline, Mary, load_model
from musicgen.music.chords import parse_chord
from musicgen.music.tokens import SPECIALS, parse_melody_token
from musicgen.sampling.engine import (
    EOS_ID,
    ONE_THREAD_ROWS,
    MelodyState,
    beam_search_melodies,
    beam_search_sequences,
    generate_melodies,
    generate_sequences,
    hold_eos_until_filled,
    melody_strings,
)
from musicgen.sampling.sampler import Sampler

CHORDS = [*SPECIALS, "C7", "F7", "G7", "D-7"]
MELODY = [
    *SPECIALS,
    *(f"{p}:{d}" for p in (0, 60, 62, 64, 65, 67, 69, 71) for d in (6, 12, 18, 24)),
]
PIANO = [*SPECIALS, *(str(i) for i in range(20))]
TPB = 24
PROG = ["C7", "F7", "G7", "C7", "D-7", "G7", "C7", "C7"]
SHORT = ["F7", "G7", "C7"]


no_eos = hold_eos_until_filled  # keeps untrained models writing until the span is full


@pytest.fixture(autouse=True, scope="module")
def _tiny_models_on_one_thread(one_thread):
    yield


@pytest.fixture(scope="module")
def jazz() -> JazzGPT:
    torch.manual_seed(0)
    model = JazzGPT(
        CHORDS,
        MELODY,
        {"ticks_per_beat": TPB, "beats_per_bar": 4},
        d_model=32,
        n_heads=4,
        enc_layers=2,
        dec_layers=2,
        d_ff=64,
    )
    return model.eval()


def _mary() -> Mary:
    torch.manual_seed(0)
    return Mary(PIANO, context=8, blocks=1, embed_dim=16, hidden=16, dense=16, attention_units=8)


def _lstm() -> LSTMBaseline:
    torch.manual_seed(0)
    return LSTMBaseline(PIANO, context=8, embed_dim=16, hidden=16, layers=2, dense=16)


SEQUENCE_MODELS = {"mary": _mary, "lstm": _lstm}
PRIMERS = [[], [5, 6, 7], [8], list(range(4, 16))]


def ticks(melody: list[str]) -> int:
    return sum(parse_melody_token(t)[1] for t in melody)


@pytest.mark.parametrize("sampler", [Sampler("argmax"), Sampler("softmax")], ids=["greedy", "softmax"])
def test_cached_and_uncached_generation_write_the_same_melodies(jazz, sampler):
    kwargs = dict(num_samples=2, seed=3, token_filter=no_eos)
    cached = generate_melodies(jazz, [PROG, SHORT], sampler, use_cache=True, **kwargs)
    uncached = generate_melodies(jazz, [PROG, SHORT], sampler, use_cache=False, **kwargs)
    assert cached == uncached
    assert all(len(m) > 3 for m in cached)


def test_sample_i_of_a_batch_is_the_single_sample_with_seed_plus_i(jazz):
    batched = generate_melodies(jazz, [PROG, SHORT], Sampler("softmax"), num_samples=3, seed=10)
    singles = [
        generate_melodies(jazz, chords, Sampler("softmax"), num_samples=1, seed=10 + i)[0]
        for i, chords in enumerate([PROG] * 3 + [SHORT] * 3)
    ]
    assert batched == singles
    assert len({tuple(m) for m in batched[:3]}) > 1  # the three samples differ


def test_the_same_seed_repeats_a_melody_and_another_seed_changes_it(jazz):
    first = generate_melodies(jazz, PROG, Sampler("softmax"), num_samples=2, seed=5, token_filter=no_eos)
    again = generate_melodies(jazz, PROG, Sampler("softmax"), num_samples=2, seed=5, token_filter=no_eos)
    other = generate_melodies(jazz, PROG, Sampler("softmax"), num_samples=2, seed=6, token_filter=no_eos)
    assert first == again and first != other


@pytest.mark.parametrize(
    "kwargs",
    [dict(token_filter=no_eos), dict(), dict(token_filter=no_eos, max_tokens=3)],
    ids=["note-cut-at-the-end", "eos-allowed", "token-limit"],
)
def test_every_melody_fills_its_chord_span_exactly(jazz, kwargs):
    melodies = generate_melodies(jazz, [PROG, SHORT], Sampler("softmax"), num_samples=4, seed=1, **kwargs)
    spans = [len(PROG) * TPB] * 4 + [len(SHORT) * TPB] * 4
    assert [ticks(m) for m in melodies] == spans
    assert all(not t.startswith("<") for m in melodies for t in m)


def test_melody_strings_cut_the_last_note_and_complete_early_endings_with_one_rest():
    ids = {t: i for i, t in enumerate(MELODY)}
    assert melody_strings([ids["60:24"], ids["62:24"]], MELODY, span=36) == ["60:24", "62:12"]
    assert melody_strings([ids["60:6"], EOS_ID, ids["62:6"]], MELODY, span=24) == ["60:6", "0:18"]
    assert melody_strings([ids["60:6"], ids["0:6"]], MELODY, span=24) == ["60:6", "0:18"]
    assert melody_strings([], MELODY, span=24) == ["0:24"]


def test_pad_bos_and_unk_are_never_written_even_when_the_model_prefers_them(jazz):
    biased = JazzGPT(**jazz.hparams).eval()
    biased.load_state_dict(jazz.state_dict())
    with torch.no_grad():
        biased.head.bias[[0, 1, 3]] += 100.0
    melodies = generate_melodies(biased, PROG, Sampler("softmax"), num_samples=3, token_filter=no_eos)
    assert all(parse_melody_token(t) for m in melodies for t in m)


def test_unknown_chord_symbols_are_read_as_unk(jazz):
    unknown = generate_melodies(jazz, ["C7", "Xyz13", "G7"], Sampler("argmax"), token_filter=no_eos)
    as_unk = generate_melodies(jazz, ["C7", "<unk>", "G7"], Sampler("argmax"), token_filter=no_eos)
    assert unknown == as_unk


def test_token_filter_sees_the_onset_and_sounding_chord_of_each_row(jazz):
    roots = {"C7": 60, "F7": 65, "G7": 67, "D-7": 62}
    seen: list[MelodyState] = []

    def only_the_root(logits: torch.Tensor, state: MelodyState) -> torch.Tensor:
        seen.append(state)
        allowed = torch.zeros_like(logits, dtype=torch.bool)
        for j, chord in enumerate(state.current_chords):
            assert chord == state.chords[j][int(state.onset_ticks[j]) // state.ticks_per_beat]
            for v, token in enumerate(state.melody_vocab[len(SPECIALS) :], start=len(SPECIALS)):
                allowed[j, v] = parse_melody_token(token)[0] == roots[chord]
        return logits.masked_fill(~allowed, float("-inf"))

    melodies = generate_melodies(
        jazz, [PROG, SHORT], Sampler("softmax"), num_samples=2, token_filter=only_the_root
    )
    for melody, chords in zip(melodies, [PROG, PROG, SHORT, SHORT], strict=True):
        onset = 0
        for token in melody:
            pitch, length = parse_melody_token(token)
            assert pitch == roots[chords[onset // TPB]]
            onset += length
    assert seen[0].samples == [0, 1, 2, 3] and seen[0].step == 0
    assert seen[0].span_ticks.tolist() == [len(PROG) * TPB] * 2 + [len(SHORT) * TPB] * 2


def test_a_filter_that_masks_every_token_is_reported(jazz):
    def mask_all(logits, state):
        return torch.full_like(logits, float("-inf"))

    with pytest.raises(ValueError, match="every token of row 0 is masked"):
        generate_melodies(jazz, PROG, Sampler("argmax"), token_filter=mask_all)


def test_hard_chord_aware_sampling_plays_only_chord_tones(jazz):
    sampler = Sampler("softmax", chord_aware=float("inf"), chord_mode="tones")
    melodies = generate_melodies(jazz, PROG, sampler, num_samples=3, seed=2, token_filter=no_eos)
    for melody in melodies:
        onset = 0
        for token in melody:
            pitch, length = parse_melody_token(token)
            assert pitch == 0 or pitch % 12 in parse_chord(PROG[onset // TPB]).tones
            onset += length


def test_melody_beam_search_of_width_one_is_greedy_decoding(jazz):
    greedy = generate_melodies(jazz, [PROG, SHORT], Sampler("argmax"), token_filter=no_eos)
    beam = beam_search_melodies(jazz, [PROG, SHORT], width=1, token_filter=no_eos)
    assert beam == greedy


def test_a_sampler_with_a_beam_width_switches_to_beam_search(jazz):
    sampler = Sampler("softmax", beam_width=3)
    via_sampler = generate_melodies(jazz, [PROG, SHORT], sampler, num_samples=2, seed=9)
    direct = beam_search_melodies(jazz, [PROG, SHORT], width=3, sampler=sampler, num_samples=2)
    assert via_sampler == direct
    assert len(direct) == 4 and direct[0] != direct[1]
    assert [ticks(m) for m in direct] == [len(PROG) * TPB] * 2 + [len(SHORT) * TPB] * 2


def test_beam_search_cannot_return_more_melodies_than_beams(jazz):
    with pytest.raises(ValueError, match="beam_width=2"):
        beam_search_melodies(jazz, PROG, width=2, num_samples=3)


def test_the_real_sampler_drives_beam_search_through_its_weights(jazz):
    melodies = generate_melodies(jazz, PROG, Sampler("softmax", beam_width=2), num_samples=2)
    assert [ticks(m) for m in melodies] == [len(PROG) * TPB] * 2


def test_generation_leaves_the_models_train_mode_as_it_was(jazz):
    jazz.train()
    try:
        generate_melodies(jazz, SHORT, Sampler("argmax"))
        assert jazz.training
    finally:
        jazz.eval()


def test_max_tokens_beyond_the_models_positions_is_refused(jazz):
    with pytest.raises(ValueError, match="max_len=2048"):
        generate_melodies(jazz, PROG, Sampler("argmax"), max_tokens=5000)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_sample_i_of_a_batch_is_the_single_sample_with_seed_plus_i(name):
    model = SEQUENCE_MODELS[name]()
    batched = generate_sequences(model, PRIMERS, Sampler("softmax"), num_tokens=12, seed=4)
    singles = [
        generate_sequences(model, [p], Sampler("softmax"), 12, seed=4 + i)[0] for i, p in enumerate(PRIMERS)
    ]
    assert batched == singles
    assert [len(s) for s in batched] == [12] * len(PRIMERS)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_generation_repeats_with_a_seed_and_never_emits_specials(name):
    model = SEQUENCE_MODELS[name]()
    with torch.no_grad():
        model.head[-1].bias[: len(SPECIALS)] += 100.0
    first = generate_sequences(model, PRIMERS, Sampler("softmax"), num_tokens=10, seed=1)
    assert first == generate_sequences(model, PRIMERS, Sampler("softmax"), num_tokens=10, seed=1)
    assert all(t >= len(SPECIALS) for seq in first for t in seq)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_beam_search_of_width_one_is_greedy_decoding(name):
    model = SEQUENCE_MODELS[name]()
    greedy = generate_sequences(model, PRIMERS, Sampler("argmax"), num_tokens=8)
    assert beam_search_sequences(model, PRIMERS, width=1, num_tokens=8) == greedy


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_beam_search_as_wide_as_the_vocabulary_finds_the_most_likely_pair(name):
    model = SEQUENCE_MODELS[name]().eval()
    allowed = len(PIANO) - len(SPECIALS)

    def next_log_probs(sequence: list[int]) -> torch.Tensor:
        logits = model(torch.tensor([sequence[-8:]]))[0]
        logits[: len(SPECIALS)] = float("-inf")
        return torch.log_softmax(logits, dim=-1)

    with torch.no_grad():
        for primer in PRIMERS[:2]:
            first = next_log_probs([1, *primer])
            pairs = {
                (a, b): (first[a] + next_log_probs([1, *primer, a])[b]).item()
                for a in range(len(SPECIALS), len(PIANO))
                for b in range(len(SPECIALS), len(PIANO))
            }
            best = max(pairs, key=pairs.get)
            found = beam_search_sequences(model, [primer], width=allowed, num_tokens=2)[0]
            assert pairs[tuple(found)] == pytest.approx(pairs[best], abs=1e-5)


@pytest.mark.parametrize("primer, token", [([5, 0, 6], 0), ([5, 99], 99)])
def test_a_primer_token_outside_the_vocabulary_is_named(primer, token):
    with pytest.raises(ValueError, match=f"primer 1: token id {token} "):
        generate_sequences(_lstm(), [[5], primer], Sampler("argmax"), num_tokens=2)


def test_holding_eos_until_filled_keeps_a_model_that_wants_to_stop_playing(jazz):
    def eager_to_stop(logits, state):
        return logits.index_fill(1, torch.tensor([EOS_ID]), 1e4)

    def held(logits, state):
        return hold_eos_until_filled(eager_to_stop(logits, state), state)

    stopped = generate_melodies(jazz, PROG, Sampler("softmax"), num_samples=1, token_filter=eager_to_stop)[0]
    played = generate_melodies(jazz, PROG, Sampler("softmax"), num_samples=1, token_filter=held)[0]
    notes = [t for t in played if not t.startswith("0:")]
    assert all(t.startswith("0:") for t in stopped)  # only the rest that completes the span
    assert notes and sum(int(t.split(":")[1]) for t in played) == len(PROG) * TPB


LONG = PROG * 3  # 24 beats: six bars of 4/4, longer than a 2-bar training window


class Recorder:
    """A token filter that keeps what the model was shown at each step (and changes nothing)."""

    def __init__(self):
        self.states: list[MelodyState] = []

    def __call__(self, logits, state):
        self.states.append(state)
        return no_eos(logits, state)


@pytest.mark.parametrize("sampler", [Sampler("softmax"), Sampler("softmax", beam_width=3)], ids=["softmax", "beam"])
def test_chords_within_one_window_are_played_exactly_as_without_windows(jazz, sampler):
    kwargs = dict(num_samples=2, seed=4, token_filter=no_eos)
    windowed = generate_melodies(jazz, [PROG, SHORT], sampler, window_bars=2, **kwargs)
    assert windowed == generate_melodies(jazz, [PROG, SHORT], sampler, **kwargs)


@pytest.mark.parametrize("sampler", [Sampler("softmax"), Sampler("softmax", beam_width=3)], ids=["softmax", "beam"])
def test_windowed_melodies_fill_long_chords_and_each_window_reads_only_its_own_bars(jazz, sampler):
    recorder = Recorder()
    melodies = generate_melodies(
        jazz, [LONG, SHORT], sampler, num_samples=2, seed=2, token_filter=recorder, window_bars=2
    )
    assert [ticks(m) for m in melodies] == [len(LONG) * TPB] * 2 + [len(SHORT) * TPB] * 2
    window_chords = {tuple(chords) for state in recorder.states for chords in state.chords}
    # windows of 8 beats every 4 beats: [0, 8), [4, 12), ... [16, 24) of LONG, and SHORT whole
    assert window_chords == {tuple(LONG[b : b + 8]) for b in (0, 4, 8, 12, 16)} | {tuple(SHORT)}
    later = [state for state in recorder.states if tuple(state.chords[0]) != tuple(LONG[:8])]
    assert all(int(onset) >= 4 * TPB for state in later for onset in state.onset_ticks)


def test_windowed_sample_i_of_a_batch_is_the_single_sample_with_seed_plus_i(jazz):
    kwargs = dict(token_filter=no_eos, window_bars=2)
    batched = generate_melodies(jazz, [LONG, SHORT], Sampler("softmax"), num_samples=2, seed=7, **kwargs)
    singles = [
        generate_melodies(jazz, chords, Sampler("softmax"), num_samples=1, seed=7 + i, **kwargs)[0]
        for i, chords in enumerate([LONG] * 2 + [SHORT] * 2)
    ]
    assert batched == singles


def test_a_window_reads_the_note_sounding_into_it_as_a_rest_joined_to_the_rests_after():
    from musicgen.sampling.engine import _tail

    class Steps:
        vocab = MELODY
        durations = [0] * 4 + [d for _ in range(8) for d in (6, 12, 18, 24)]

    ids = [MELODY.index(t) for t in ("60:24", "62:24", "0:12", "0:6", "64:12")]
    assert _tail(ids, Steps, 12) == ["0:12", "62:24", "0:12", "0:6", "64:12"]
    assert _tail(ids, Steps, 24) == ["62:24", "0:12", "0:6", "64:12"]
    assert _tail(ids, Steps, 54) == ["0:12", "64:12"]
    assert _tail(ids, Steps, 90) == []


@pytest.mark.parametrize("sampler", [Sampler(), Sampler(beam_width=3)], ids=["softmax", "beam"])
def test_a_repeat_penalty_strikes_the_same_note_again_less_often(jazz, sampler):
    def repeats(penalty: float) -> int:
        sampler.repeat_penalty = penalty
        melodies = generate_melodies(jazz, [LONG] * 4, sampler, num_samples=sampler.beam_width,
                                     seed=0, token_filter=no_eos, window_bars=2)
        notes = [[parse_melody_token(t)[0] for t in m if not t.startswith("0:")] for m in melodies]
        return sum(a == b for n in notes for a, b in zip(n[:-1], n[1:], strict=True))

    assert repeats(0.0) > 0
    assert repeats(1e4) == 0


def test_the_token_filter_sees_each_rows_last_pitch_through_rests_and_windows(jazz):
    recorder = Recorder()
    (melody,) = generate_melodies(jazz, LONG, Sampler("softmax"), seed=3, token_filter=recorder, window_bars=2)
    pitches = [parse_melody_token(t)[0] for t in melody]
    seen = [int(state.last_pitches[0]) for state in recorder.states if len(state.samples) == 1]
    assert seen[0] == 0 and set(seen) <= {0, *pitches}
    assert seen[-1] == next(p for p in reversed(pitches[:-1]) if p)


def test_a_primer_longer_than_the_context_is_cut_to_the_context(checkpoints):
    model = load_model(checkpoints["mary"])
    context = model.hparams.context
    widths = []
    hook = model.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    primer = [len(model.hparams.vocab) - 1] * (5 * context)
    out = generate_sequences(model, [primer], Sampler("argmax"), num_tokens=6, seed=0)
    hook.remove()
    assert len(out[0]) == 6 and max(widths) == context


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, torch
    from musicgen.models import Mary
    from musicgen.music.tokens import SPECIALS
    from musicgen.sampling.engine import generate_sequences
    from musicgen.sampling.sampler import Sampler

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Mary([*SPECIALS, *map(str, range(20))], context=16, blocks=1, embed_dim=16, hidden=16,
                 dense=16, attention_units=8)
    widths = []
    model.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    short = len(generate_sequences(model, [[]], Sampler("argmax"), num_tokens=500)[0])
    after_short = peak()
    long = len(generate_sequences(model, [[]], Sampler("argmax"), num_tokens=10_000)[0])
    print(json.dumps({"short": short, "long": long, "growth_mb": peak() - after_short,
                      "widest": max(widths)}))
    """
)


def test_ten_thousand_mary_tokens_slide_the_window_in_flat_memory():
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["short"] == 500 and measured["long"] == 10_000
    assert measured["widest"] == 16
    assert measured["growth_mb"] < 20, measured


@pytest.mark.parametrize(
    "sampler, window_bars",
    [(Sampler("softmax"), None), (Sampler("softmax", beam_width=3), None), (Sampler("softmax"), 2),
     (Sampler("softmax", beam_width=3), 2)],
    ids=["softmax", "beam", "softmax-windowed", "beam-windowed"],
)
def test_a_melody_primer_starts_every_melody_and_the_model_goes_on_from_its_end(jazz, sampler, window_bars):
    primer = ["0:12", "60:12", "64:24", "67:6"]
    recorder = Recorder()
    melodies = generate_melodies(
        jazz, [LONG], sampler, num_samples=2, seed=3, token_filter=recorder, window_bars=window_bars,
        primer=primer,
    )
    assert all(m[: len(primer)] == primer for m in melodies)
    assert [ticks(m) for m in melodies] == [len(LONG) * TPB] * 2
    assert min(int(onset) for state in recorder.states for onset in state.onset_ticks) == ticks(primer)
    assert int(recorder.states[0].last_pitches[0]) == 67


def test_a_melody_primer_the_model_cannot_read_or_longer_than_the_chords_is_refused(jazz):
    with pytest.raises(ValueError, match="melody primer: tokens the model has no entry for: 61:12"):
        generate_melodies(jazz, SHORT, Sampler("softmax"), primer=["60:12", "61:12"])
    with pytest.raises(ValueError, match="it lasts 3 beats, but the chords end after 3"):
        generate_melodies(jazz, SHORT, Sampler("softmax"), primer=["60:24", "62:24", "64:24"])


@pytest.mark.parametrize(
    ("samples", "use_cache", "threads_inside"),
    [(1, True, 1), (ONE_THREAD_ROWS, True, 1), (ONE_THREAD_ROWS + 1, True, 2), (1, False, 2)],
)
def test_cached_decoding_of_a_few_rows_runs_on_one_thread_and_gives_the_threads_back(
    jazz, monkeypatch, samples, use_cache, threads_inside
):
    seen = []
    decode = jazz.decode

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return decode(*args, **kwargs)

    monkeypatch.setattr(jazz, "decode", spy)
    torch.set_num_threads(2)
    try:
        generate_melodies(jazz, SHORT, Sampler("softmax"), num_samples=samples, max_tokens=4, use_cache=use_cache)
        assert set(seen) == {threads_inside}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)  # the module's fixture runs these tiny models on one thread
