import math
from pathlib import Path

import pytest
import torch

from musicgen.sampling.sampler import Sampler
from musicgen.sampling.transforms import NEEDS_K, SCALE_FREE, TRANSFORMS, transform_table

LOGITS = [2.0, 1.0, 0.0, -1.0]
POSITIVE = [3.0, 2.0, 1.0, 0.5]


def _normalised(values: list[float]) -> list[float]:
    return [v / sum(values) for v in values]


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


# (transform, k, logits, distribution worked out by hand from the formula)
HAND_COMPUTED = [
    ("argmax", None, LOGITS, [1, 0, 0, 0]),
    ("x", None, LOGITS, [2 / 3, 1 / 3, 0, 0]),
    ("leaky_relu", None, LOGITS, _normalised([2.01, 1.01, 0.01, 0.0])),
    ("softmax", None, LOGITS, _normalised([math.exp(v) for v in LOGITS])),
    ("xsqrtx", None, LOGITS, _normalised([2 * math.sqrt(2), 1, 0, 0])),
    ("xlnx", None, LOGITS, _normalised([2 * math.log(3), math.log(2), 0, 0])),
    ("sigmoid", None, LOGITS, _normalised([_sigmoid(v) for v in LOGITS])),
    (
        "piecewise",
        None,
        LOGITS,
        _normalised([2 * math.sqrt(2) + math.tanh(1), 1 + math.tanh(1), math.tanh(1), 0]),
    ),
    ("topk", 2, POSITIVE, [3 / 5, 2 / 5, 0, 0]),
    ("unif_topk", 3, LOGITS, [1 / 3, 1 / 3, 1 / 3, 0]),
    ("topk_xlnx", 2, POSITIVE, _normalised([3 * math.log(4), 2 * math.log(3), 0, 0])),
    ("tanh_topk", 3, LOGITS, _normalised([math.tanh(2), math.tanh(1), 0, 0])),
]


def test_every_registered_transform_has_a_hand_computed_case():
    assert sorted(name for name, *_ in HAND_COMPUTED) == sorted(TRANSFORMS)


@pytest.mark.parametrize("name, k, logits, expected", HAND_COMPUTED)
def test_transform_distribution_matches_hand_computed(name, k, logits, expected):
    weights = Sampler(name, k=k).weights(torch.tensor([logits]))
    torch.testing.assert_close(weights[0], torch.tensor(expected, dtype=torch.float32))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_weights_are_never_negative(name):
    logits = torch.randn(64, 50, generator=torch.Generator().manual_seed(0)) * 5
    weights = TRANSFORMS[name](logits, k=10, alpha=0.01)
    assert torch.isfinite(weights).all()
    assert (weights >= 0).all()


def test_top_k_transforms_need_k():
    for name in NEEDS_K:
        with pytest.raises(ValueError, match="needs k"):
            TRANSFORMS[name](torch.tensor([LOGITS]))


def test_top_k_larger_than_vocabulary_keeps_every_token():
    weights = TRANSFORMS["unif_topk"](torch.tensor([LOGITS]), k=100)
    assert weights.tolist() == [[1.0, 1.0, 1.0, 1.0]]


def test_top_k_keeps_exactly_k_tokens_when_logits_tie():
    weights = TRANSFORMS["unif_topk"](torch.tensor([[1.0, 1.0, 1.0, 0.0]]), k=2)
    assert weights.sum().item() == 2


def test_leaky_relu_alpha_sets_the_weight_of_negative_logits():
    weights = TRANSFORMS["leaky_relu"](torch.tensor([[1.0, -1.0, -2.0]]), alpha=0.1)
    torch.testing.assert_close(weights, torch.tensor([[1.2, 0.1, 0.0]]))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_temperature_matters_exactly_for_transforms_not_marked_scale_free(name):
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0]])
    plain = Sampler(name, k=3).weights(logits)
    cooled = Sampler(name, k=3, temperature=0.5).weights(logits)
    assert torch.allclose(plain, cooled, atol=1e-6) == (name in SCALE_FREE)


def test_transform_table_lists_every_transform_with_formula_and_negatives_rule():
    table = transform_table().splitlines()
    assert len(table) == 2 + len(TRANSFORMS)
    for name, row in zip(TRANSFORMS, table[2:], strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == f"`{name}`"
        assert cells[1] and cells[2].split(":")[0] in {"none", "clip", "shift"}


def test_the_readme_transform_table_is_transform_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text().splitlines()
    start = readme.index("| name | weight | negatives | temperature |")
    end = next(i for i in range(start, len(readme)) if not readme[i].startswith("|"))
    assert "\n".join(readme[start:end]) == transform_table()
