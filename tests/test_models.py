"""JazzGPT, MAR-Y and the LSTM baseline: shapes, masking, the KV cache, learning, checkpoints."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from helpers import (
    BUILDERS,
    MELODY,
    PIANO,
    jazz_batch,
    sequence_batch,
    tiny_jazzgpt,
    tiny_lstm,
    tiny_mary,
)
from torch.utils.data import DataLoader

from musicgen.models import load_model
from musicgen.models.base import cosine_with_warmup, right_align
from musicgen.models.jazzgpt import Attention


@pytest.fixture(autouse=True, scope="module")
def _tiny_models_on_one_thread(one_thread):
    yield


SEQUENCE_MODELS = {
    "mary-additive": tiny_mary,
    "mary-dot": lambda **kw: tiny_mary(attention="dot", **kw),
    "mary-width": lambda **kw: tiny_mary(attention_width=4, **kw),
    "lstm": tiny_lstm,
    "lstm-scalar": lambda **kw: tiny_lstm(input="scalar", **kw),
}


def test_jazzgpt_gives_one_logit_row_per_melody_input_position():
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    logits = model(batch["chords"], batch["melody"][:, :-1])
    assert logits.shape == (4, 9, len(MELODY))


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_models_give_one_logit_row_per_window(name):
    model = SEQUENCE_MODELS[name]().eval()
    x, _ = sequence_batch()
    assert model(x).shape == (12, len(PIANO))


@pytest.mark.parametrize("pos_encoding", ["sinusoidal", "learned"])
def test_jazzgpt_output_at_step_t_ignores_later_melody_tokens(pos_encoding):
    model = tiny_jazzgpt(pos_encoding=pos_encoding).eval()
    batch = jazz_batch()
    changed = batch["melody"].clone()
    changed[:, 5:] = torch.randint(4, len(MELODY), changed[:, 5:].shape)
    before = model(batch["chords"], batch["melody"])
    after = model(batch["chords"], changed)
    torch.testing.assert_close(before[:, :5], after[:, :5], atol=1e-5, rtol=0)
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_jazzgpt_chord_padding_leaves_real_positions_unchanged():
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    padded = F.pad(batch["chords"], (0, 7))
    memory, mask = model.encode(batch["chords"])
    memory_padded, _ = model.encode(padded)
    real = mask[:, 0, 0]
    torch.testing.assert_close(memory_padded[:, :6][real], memory[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        model(padded, batch["melody"]), model(batch["chords"], batch["melody"]), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("pos_encoding", ["sinusoidal", "learned"])
@pytest.mark.parametrize("chunks", [(1,) * 10, (3, 1, 4, 2)])
def test_jazzgpt_incremental_decoding_with_the_cache_equals_a_full_forward(pos_encoding, chunks):
    model = tiny_jazzgpt(pos_encoding=pos_encoding).eval()
    batch = jazz_batch()
    full = model(batch["chords"], batch["melody"])
    memory, mask = model.encode(batch["chords"])
    cache, pieces, start = None, [], 0
    for size in chunks:
        logits, cache = model.decode(batch["melody"][:, start : start + size], memory, mask, cache)
        pieces.append(logits)
        start += size
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_jazzgpt_cache_writes_in_place_and_grows_by_doubling():
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    memory, mask = model.encode(batch["chords"])
    cache, buffers = None, set()
    for t in range(10):
        _, cache = model.decode(batch["melody"][:, t : t + 1], memory, mask, cache)
        buffers.add(cache.self_k[0].data_ptr())
    assert cache.length == 10 and cache.self_k[0].shape[2] == 16
    assert len(buffers) == 5  # capacities 1, 2, 4, 8, 16


def test_jazzgpt_cache_select_keeps_the_chosen_rows_decoding_as_a_full_forward():
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    rows = torch.tensor([2, 0, 2])
    full = model(batch["chords"][rows], batch["melody"][rows])
    memory, mask = model.encode(batch["chords"])
    first, cache = model.decode(batch["melody"][:, :3], memory, mask)
    _, cache = model.decode(batch["melody"][:, 3:4], memory, mask, cache)
    cache = cache.select(rows)
    rest, cache = model.decode(batch["melody"][rows, 4:], memory[rows], mask[rows], cache)
    assert cache.length == 10
    torch.testing.assert_close(rest, full[:, 4:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("cached", [True, False])
def test_jazzgpt_rows_sharing_an_encoded_progression_decode_as_with_their_own_copy(cached):
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    memory_rows = torch.tensor([2, 0, 2, 2, 1, 0])  # unequal groups, out of order
    melody = torch.randint(4, len(MELODY), (6, 10), generator=torch.Generator().manual_seed(2))
    full = model(batch["chords"][memory_rows], melody)
    memory, mask = model.encode(batch["chords"][:3])
    if not cached:
        shared, _ = model.decode(melody, memory, mask, memory_rows=memory_rows)
        torch.testing.assert_close(shared, full, atol=1e-5, rtol=0)
        return
    pieces, cache = [], None
    for t in range(10):
        logits, cache = model.decode(melody[:, t : t + 1], memory, mask, cache, memory_rows)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_jazzgpt_memory_rows_outside_the_encoded_progressions_are_named():
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    memory, mask = model.encode(batch["chords"][:2])
    with pytest.raises(ValueError, match=r"memory_rows name memory 2, outside 0..1"):
        model.decode(batch["melody"][:2, :1], memory, mask, memory_rows=torch.tensor([0, 2]))


@pytest.mark.parametrize(
    "keep, shared", [([0, 2, 3, 5], True), ([3, 4, 5], True), ([3, 4], False), ([5, 1], False)]
)
def test_jazzgpt_cache_select_of_shared_rows_keeps_each_row_on_its_progression(keep, shared):
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    memory_rows = torch.tensor([0, 0, 0, 1, 2, 1])
    melody = torch.randint(4, len(MELODY), (6, 10), generator=torch.Generator().manual_seed(3))
    rows = torch.tensor(keep)
    full = model(batch["chords"][memory_rows[rows]], melody[rows])
    memory, mask = model.encode(batch["chords"][:3])
    _, cache = model.decode(melody[:, :4], memory, mask, memory_rows=memory_rows)
    cache = cache.select(rows)
    # Rows still sharing a progression keep one memory; rows on distinct ones get their own.
    assert (cache.memory.slots is not None) == shared
    assert len(cache.memory_mask) == (3 if shared else len(keep))
    rest, _ = model.decode(melody[rows, 4:], memory, mask, cache)
    torch.testing.assert_close(rest, full[:, 4:], atol=1e-5, rtol=0)


def test_jazzgpt_attention_dropout_is_its_own_setting_and_off_by_default():
    batch = jazz_batch()
    residual_only = tiny_jazzgpt(dropout=0.3)
    assert {m.dropout for m in residual_only.modules() if isinstance(m, Attention)} == {0.0}
    inputs = batch["chords"], batch["melody"]
    plain = tiny_jazzgpt(dropout=0.0).train()
    torch.testing.assert_close(plain(*inputs), plain(*inputs), atol=0, rtol=0)
    attention_only = tiny_jazzgpt(dropout=0.0, attn_dropout=0.5).train()
    assert not torch.equal(attention_only(*inputs), attention_only(*inputs))


def test_a_jazzgpt_checkpoint_from_before_attn_dropout_still_loads(tmp_path):
    model = tiny_jazzgpt()
    trainer = quiet_trainer(1, tmp_path)
    trainer.fit(model, DataLoader([jazz_batch()], batch_size=None))
    path = tmp_path / "old.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=False)
    del checkpoint["hyper_parameters"]["attn_dropout"]
    torch.save(checkpoint, path)
    assert load_model(path).hparams.attn_dropout == 0.0


def test_jazzgpt_decoding_past_max_len_names_the_limit():
    model = tiny_jazzgpt(max_len=8).eval()
    batch = jazz_batch()
    with pytest.raises(ValueError, match="max_len=8"):
        model(batch["chords"], batch["melody"])


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_models_read_a_left_padded_window_as_the_short_window_itself(name):
    model = SEQUENCE_MODELS[name]().eval()
    x, _ = sequence_batch()
    short = x[:3, 3:]  # 5 real tokens
    padded = F.pad(short, (3, 0))
    torch.testing.assert_close(model(padded), model(short), atol=1e-5, rtol=0)
    mixed = torch.cat([padded, x[3:6]])  # short and full windows in one batch
    torch.testing.assert_close(model(mixed)[:3], model(short), atol=1e-5, rtol=0)
    torch.testing.assert_close(model(mixed)[3:], model(x[3:6]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_models_read_only_the_last_context_tokens(name):
    model = SEQUENCE_MODELS[name]().eval()
    x, _ = sequence_batch()
    longer = torch.cat([torch.randint(4, len(PIANO), (12, 5)), x], dim=1)
    torch.testing.assert_close(model(longer), model(x))


@pytest.mark.parametrize("name", ["mary-additive", "lstm"])
def test_a_window_of_only_padding_is_refused_with_a_hint(name):
    model = SEQUENCE_MODELS[name]().eval()
    with pytest.raises(ValueError, match="bos"):
        model(torch.zeros(1, 8, dtype=torch.long))


def test_right_align_moves_left_padding_after_the_tokens():
    x = torch.tensor([[0, 0, 5, 6], [7, 8, 9, 10]])
    aligned, lengths = right_align(x)
    assert aligned.tolist() == [[5, 6, 0, 0], [7, 8, 9, 10]]
    assert lengths.tolist() == [2, 4]


def test_lstm_recurrent_dropout_changes_training_outputs_but_not_evaluation():
    model = tiny_lstm(recurrent_dropout=0.5, dropout=0.0)
    x, _ = sequence_batch()
    torch.manual_seed(1)
    train_a = model.train()(x)
    train_b = model(x)
    assert not torch.allclose(train_a, train_b)
    model.eval()
    torch.testing.assert_close(model(x), model(x))


def _overfit(model, batch, steps: int, lr: float) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss, _ = model.loss_and_tokens(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model.loss_and_tokens(batch)[0].item()


def test_jazzgpt_overfits_one_batch():
    assert _overfit(tiny_jazzgpt(dropout=0.0), jazz_batch(), steps=100, lr=5e-3) < 0.05


@pytest.mark.parametrize("name", ["mary-additive", "mary-dot", "lstm"])
def test_sequence_models_overfit_one_batch(name):
    model = SEQUENCE_MODELS[name](dropout=0.0)
    assert _overfit(model, sequence_batch(), steps=100, lr=2e-2) < 0.05


def test_jazzgpt_loss_ignores_padding_and_counts_only_real_tokens():
    model = tiny_jazzgpt().eval()
    batch = jazz_batch()
    loss, tokens = model.loss_and_tokens(batch)
    longer = {"chords": F.pad(batch["chords"], (0, 3)), "melody": F.pad(batch["melody"], (0, 4))}
    loss_longer, tokens_longer = model.loss_and_tokens(longer)
    torch.testing.assert_close(loss, loss_longer, atol=1e-5, rtol=0)
    real = (batch["chords"] != 0).sum() + (batch["melody"][:, 1:] != 0).sum()
    assert tokens == tokens_longer == real


def test_jazzgpt_blocked_float32_loss_equals_the_plain_head_and_cross_entropy():
    # float32 takes linear_cross_entropy; any other precision the plain head, then the loss.
    model = tiny_jazzgpt(label_smoothing=0.1, dropout=0.0).train()
    batch = jazz_batch()
    blocked, _ = model.loss_and_tokens(batch)
    blocked.backward()
    blocked_grad = model.head.weight.grad.double()
    plain_model = model.double()
    plain_model.zero_grad()
    plain, _ = plain_model.loss_and_tokens(batch)
    plain.backward()
    torch.testing.assert_close(blocked, plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(blocked_grad, plain_model.head.weight.grad, atol=1e-5, rtol=1e-4)




def _forward(model, batch):
    return model(batch["chords"], batch["melody"]) if isinstance(batch, dict) else model(batch[0])


def _batch_for(name):
    return jazz_batch() if name == "jazzgpt" else sequence_batch()


def quiet_trainer(max_steps: int, root) -> L.Trainer:
    return L.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )


@pytest.mark.parametrize("name", BUILDERS)
def test_a_trainer_checkpoint_alone_restores_identical_logits(name, tmp_path):
    model = BUILDERS[name]()
    batch = _batch_for(name)
    trainer = quiet_trainer(2, tmp_path)
    trainer.fit(model, DataLoader([batch] * 2, batch_size=None))
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = load_model(path)
    assert type(restored) is type(model) and not restored.training
    assert restored.hparams == model.hparams
    torch.testing.assert_close(
        _forward(restored, batch), _forward(model.eval(), batch), atol=0, rtol=0
    )


def test_load_model_on_a_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*missing.ckpt"):
        load_model(tmp_path / "missing.ckpt")


@pytest.mark.parametrize("content", [b"", b"garbage, not a checkpoint"])
def test_load_model_on_a_corrupt_file_says_so_in_one_line(tmp_path, content):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="truncated or corrupt") as err:
        load_model(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_load_model_on_a_truncated_checkpoint_says_so(tmp_path):
    path = tmp_path / "full.ckpt"
    torch.save({"state_dict": tiny_lstm().state_dict(), "musicgen_model": "x"}, path)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(cut)


def test_load_model_on_a_foreign_checkpoint_says_it_is_not_musicgen(tmp_path):
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="not a musicgen checkpoint"):
        load_model(path)


# On this CPU's real capability; tests/test_precision.py fakes the other branch. CPU autocast has
# no float16 LSTM kernel, so MAR-Y and the LSTM run theirs in float32 under 16-mixed.
@pytest.mark.parametrize("name, dtype", [(n, d) for n in BUILDERS for d in (torch.bfloat16, torch.float16)])
def test_each_model_runs_an_autocast_forward_and_loss_on_cpu(name, dtype):
    model = BUILDERS[name]()
    batch = _batch_for(name)
    with torch.autocast("cpu", dtype=dtype):
        logits = _forward(model.eval(), batch)
        loss, _ = model.train().loss_and_tokens(batch)
    assert logits.dtype == dtype and torch.isfinite(logits.float()).all()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()


def test_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    factors = [cosine_with_warmup(step, warmup_steps=4, total_steps=12) for step in range(14)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(factors[i] >= factors[i + 1] for i in range(3, 13))
    assert factors[12] == pytest.approx(0.0) and factors[13] == pytest.approx(0.0)
    assert factors[8] == pytest.approx(0.5)


def test_optimizer_decays_matrices_only_and_follows_the_schedule(tmp_path):
    model = tiny_jazzgpt(warmup_steps=2, lr=1e-2)
    trainer = quiet_trainer(4, tmp_path)
    trainer.fit(model, DataLoader([jazz_batch()] * 4, batch_size=None))
    optimizer = trainer.optimizers[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(
        p.dim() < 2 for p in plain["params"]
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine end


def test_unknown_optimizer_is_named_in_the_error():
    model = tiny_lstm(optimizer="sgd")
    with pytest.raises(ValueError, match="'sgd'"):
        model.configure_optimizers()


def test_checkpoints_name_their_model_class():
    checkpoint: dict = {}
    tiny_mary().on_save_checkpoint(checkpoint)
    assert checkpoint["musicgen_model"] == "musicgen.models.mary.Mary"
