import math

import pytest
import torch
from omegaconf import OmegaConf

from musicgen.paths import conf_dir
from musicgen.sampling.configs import build_sampler, sampler_config, sampler_names
from musicgen.sampling.sampler import Sampler, chord_bias, inverse_cdf
from musicgen.sampling.transforms import NEEDS_K, TRANSFORMS

LOGITS = torch.tensor([[2.0, 1.0, 0.0, -1.0]])


def _draws(sampler: Sampler, logits: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return sampler.sample(logits.expand(n, -1), generator=generator)


def test_argmax_sampler_returns_the_top_logit_of_every_row():
    logits = torch.randn(32, 50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(Sampler("argmax").sample(logits), logits.argmax(dim=-1))


def test_top_k_never_samples_outside_the_top_k():
    logits = torch.randn(1, 40, generator=torch.Generator().manual_seed(2)) + 3
    allowed = set(logits[0].topk(5).indices.tolist())
    for name in NEEDS_K:
        drawn = set(_draws(Sampler(name, k=5), logits, 4000).tolist())
        assert drawn <= allowed, name


def test_unif_topk_draws_each_of_the_top_k_equally_often():
    logits = torch.tensor([[5.0, 4.0, 3.0, -2.0, -3.0]])
    counts = torch.bincount(_draws(Sampler("unif_topk", k=4), logits, 8000), minlength=5)
    assert counts[4] == 0
    assert all(abs(c - 2000) < 150 for c in counts[:4].tolist())  # ~4.5 sigma


def test_empirical_frequencies_follow_the_weights():
    sampler = Sampler("xlnx")
    counts = torch.bincount(_draws(sampler, LOGITS, 20000), minlength=4) / 20000
    torch.testing.assert_close(counts, sampler.weights(LOGITS)[0], atol=0.015, rtol=0)


@pytest.mark.parametrize("name", ["x", "xsqrtx", "xlnx", "topk", "topk_xlnx", "tanh_topk"])
def test_all_zero_weights_fall_back_to_argmax(name):
    logits = torch.tensor([[-3.0, -0.5, -2.0, -1.0]])
    weights = Sampler(name, k=2).weights(logits)
    assert weights.tolist() == [[0.0, 1.0, 0.0, 0.0]]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_non_finite_logits_never_produce_nan_weights(name):
    logits = torch.tensor([[float("nan"), 1.0, 0.0], [1e38, 1.0, 2.0], [float("-inf"), 3.0, 1.0]])
    weights = Sampler(name, k=2).weights(logits)
    assert torch.isfinite(weights).all()
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(3))
    assert weights[2, 0] == 0


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_gives_a_masked_logit_weight_zero(name):
    logits = torch.tensor([[float("-inf"), -2.0, 0.5, float("-inf"), 3.0]])
    weights = TRANSFORMS[name](logits, k=4, alpha=0.1)
    assert weights[0, 0] == 0 and weights[0, 3] == 0
    assert (weights >= 0).all()


def test_softmax_approaches_argmax_as_temperature_goes_to_zero():
    top = [Sampler("softmax", temperature=t).weights(LOGITS)[0, 0].item() for t in (1, 0.5, 0.1)]
    assert top[0] < top[1] < top[2]
    assert Sampler("softmax", temperature=1e-3).weights(LOGITS)[0].tolist() == [1, 0, 0, 0]


def test_temperature_divides_logits_before_the_transform():
    weights = Sampler("softmax", temperature=2.0).weights(LOGITS)
    expected = torch.softmax(LOGITS / 2, dim=-1)
    torch.testing.assert_close(weights, expected)


@pytest.mark.parametrize(
    "top_p, kept", [(0.5, [0]), (0.8, [0, 1]), (0.81, [0, 1, 2]), (1.0, [0, 1, 2, 3])]
)
def test_top_p_keeps_the_smallest_set_that_reaches_p(top_p, kept):
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]])  # "x" turns these into these weights
    weights = Sampler("x", top_p=top_p).weights(logits)[0]
    assert torch.nonzero(weights).flatten().tolist() == kept
    expected = torch.zeros(4)
    expected[kept] = logits[0, kept] / logits[0, kept].sum()
    torch.testing.assert_close(weights, expected)


def test_seeded_sampling_is_reproducible():
    logits = torch.randn(16, 30, generator=torch.Generator().manual_seed(3))
    sampler = Sampler("softmax", top_p=0.95)
    first = sampler.sample(logits, torch.Generator().manual_seed(7))
    again = sampler.sample(logits, torch.Generator().manual_seed(7))
    other = sampler.sample(logits, torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_inverse_cdf_never_draws_a_zero_weight_token_even_at_the_boundaries():
    weights = torch.tensor([[0.0, 0.25, 0.0, 0.0, 0.75, 0.0]]).expand(7, -1)
    u = torch.tensor([0.0, 0.25, 0.2500001, 0.5, 0.9999999, 1.0 - 2**-24, 1.0])
    assert inverse_cdf(weights, u).tolist() == [1, 4, 4, 4, 4, 4, 4]
    dense = torch.rand(500, 6, generator=torch.Generator().manual_seed(4)) * (weights[0] > 0)
    drawn = inverse_cdf(dense, torch.rand(500, generator=torch.Generator().manual_seed(5)))
    assert set(drawn.tolist()) <= {1, 4}


def test_inverse_cdf_at_a_cumulative_boundary_draws_the_next_token_with_weight():
    weights = torch.tensor([[0.5, 0.0, 0.5]])
    assert inverse_cdf(weights, torch.tensor([0.5])).tolist() == [2]


def test_sample_rows_draws_what_sample_draws_row_by_row_with_the_same_generator():
    logits = torch.randn(16, 30, generator=torch.Generator().manual_seed(6))
    sampler = Sampler("softmax", top_p=0.9)
    rows = sampler.sample_rows(logits, [torch.Generator().manual_seed(s) for s in range(16)])
    singles = [
        sampler.sample(logits[j : j + 1], torch.Generator().manual_seed(j)) for j in range(16)
    ]
    assert torch.equal(rows, torch.cat(singles))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"transform": "nope"}, "valid: argmax, x, leaky_relu"),
        ({"transform": "topk"}, "needs k"),
        ({"transform": "topk", "k": 0}, "k must be >= 1"),
        ({"top_p": 0.0}, "top_p must be in"),
        ({"top_p": 1.5}, "top_p must be in"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"beam_width": 0}, "beam_width"),
        ({"chord_aware": -1.0}, "chord_aware"),
        ({"chord_mode": "modes"}, "chord_mode"),
        ({"alpha": 1.5}, "alpha"),
    ],
)
def test_bad_settings_are_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampler(**kwargs)


def test_unused_k_changes_neither_weights_nor_name():
    with_k, without = Sampler("xlnx", k=5), Sampler("xlnx")
    assert torch.equal(with_k.weights(LOGITS), without.weights(LOGITS))
    assert with_k.name == without.name == "xlnx"


def test_name_lists_only_settings_that_change_the_output():
    assert Sampler("topk", k=15).name == "topk_k15"
    assert Sampler("softmax", temperature=0.7, top_p=0.9).name == "softmax_t0.7_p0.9"
    assert Sampler("x", temperature=0.7).name == "x"
    assert Sampler("softmax", beam_width=4).name == "beam4_softmax"
    assert Sampler("softmax", chord_aware=2.0).name == "softmax_chord-tones2"


VOCAB = ["<pad>", "<bos>", "<eos>", "<unk>"] + "0:24 60:12 61:12 64:6 67:24 70:8 74:24".split()


def test_chord_bias_penalises_exactly_the_out_of_chord_pitches():
    bias = chord_bias(VOCAB, "C7", strength=3.0)  # tones C E G Bb
    penalised = [tok for tok, b in zip(VOCAB, bias.tolist(), strict=True) if b != 0]
    assert penalised == ["61:12", "74:24"]
    assert set(bias.tolist()) == {0.0, -3.0}


def test_chord_bias_scale_mode_allows_the_chord_scale():
    bias = chord_bias(VOCAB, "C7", strength=3.0, mode="scale")  # C mixolydian has D, not C#
    assert [tok for tok, b in zip(VOCAB, bias.tolist(), strict=True) if b != 0] == ["61:12"]


def test_chord_bias_is_off_for_zero_strength_and_no_chord():
    assert not chord_bias(VOCAB, "C7", strength=0.0).any()
    assert not chord_bias(VOCAB, "NC", strength=5.0).any()


def test_infinite_chord_strength_restricts_every_transform_to_chord_tones():
    logits = torch.zeros(1, len(VOCAB))
    logits[0, VOCAB.index("61:12")] = 10.0
    for name in TRANSFORMS:
        sampler = Sampler(name, k=3, chord_aware=math.inf)
        bias = sampler.chord_bias(VOCAB, ["C7"] * 500)
        ids = sampler.sample(logits.expand(500, -1), torch.Generator().manual_seed(0), bias)
        drawn = {VOCAB[i] for i in ids.tolist()}
        assert not drawn & {"61:12", "74:24"}, name


def test_sampler_chord_bias_is_computed_once_per_symbol_and_off_by_default(monkeypatch):
    computed = []

    def counting_bias(vocab, symbol, strength, mode):
        computed.append(symbol)
        return chord_bias(vocab, symbol, strength, mode)

    monkeypatch.setattr("musicgen.sampling.sampler.chord_bias", counting_bias)
    assert Sampler().chord_bias(VOCAB, ["C7"]) is None
    sampler = Sampler(chord_aware=2.0)
    rows = sampler.chord_bias(VOCAB, ["C7", "F7", "C7"])
    sampler.chord_bias(VOCAB, ["F7", "C7"])
    assert sorted(computed) == ["C7", "F7"]
    assert rows.shape == (3, len(VOCAB))
    assert torch.equal(rows[0], rows[2]) and not torch.equal(rows[0], rows[1])


def test_every_transform_has_a_sampler_config():
    transforms = {sampler_config(name).transform for name in sampler_names()}
    assert transforms == set(TRANSFORMS)


@pytest.mark.parametrize("name", sampler_names())
def test_sampler_config_builds_and_accepts_sweep_keys(name):
    sampler = build_sampler(name, {"k": 5, "temperature": 0.9, "top_p": 0.95, "chord_aware": 1.0})
    assert sampler.sample(LOGITS, torch.Generator().manual_seed(0)).shape == (1,)


def test_every_sampler_config_but_the_base_extends_the_base_in_a_few_lines():
    for name in sampler_names():
        own = OmegaConf.load(conf_dir() / "sampler" / f"{name}.yaml")
        if name != "softmax":
            assert list(own.defaults) == ["softmax", "_self_"] and len(own) <= 3, name


def test_chord_bias_names_a_token_that_is_not_a_melody_token():
    with pytest.raises(ValueError, match="'C7:24'"):
        chord_bias(["<pad>", "C7:24"], "C7", strength=1.0)


def test_chord_bias_leaves_an_unknown_chord_unbiased():
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", "60:24", "61:24"]
    assert chord_bias(vocab, "<unk>", strength=float("inf")).eq(0).all()
    assert chord_bias(vocab, "C", strength=1.0).tolist() == [0, 0, 0, 0, 0, -1.0]


def test_repeat_bias_penalises_the_last_pitch_at_every_duration_and_nothing_before_a_note():
    vocab = ["<pad>", "<bos>", "<eos>", "<unk>", "60:12", "60:24", "62:12", "0:12"]
    pitches = torch.tensor([0 if t.startswith("<") else int(t.split(":")[0]) for t in vocab])
    bias = Sampler(repeat_penalty=1.5).repeat_bias(pitches, torch.tensor([60, 62, 0]))
    assert bias.tolist() == [
        [0, 0, 0, 0, -1.5, -1.5, 0, 0],
        [0, 0, 0, 0, 0, 0, -1.5, 0],
        [0] * 8,  # no note yet: rests and specials are never "the last pitch"
    ]
    assert Sampler().repeat_bias(pitches, torch.tensor([60])) is None
    assert Sampler(repeat_penalty=1.5).name == "softmax_repeat1.5"
    with pytest.raises(ValueError, match="repeat_penalty"):
        Sampler(repeat_penalty=-1)
