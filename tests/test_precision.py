"""Every precision fits the machine: capability faked for one branch, real for the other.

A CPU without oneDNN's bf16 primitives (AVX2 only, or ``ONEDNN_MAX_CPU_ISA=AVX2``; see
``make test-avx2``) cannot build an LSTM under bf16 autocast, so the recurrent layers leave
autocast there; ``auto`` picks bf16 on a CPU only with native bf16 and for a model measured faster.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from conftest import compose_config, tiny_train_overrides
from helpers import BUILDERS, sequence_batch

import musicgen.precision as precision
from musicgen.models import JazzGPT, LSTMBaseline, Mary
from musicgen.precision import precision_note, recurrent_in_float32, resolve_precision
from musicgen.training import train

NO_ONEDNN_BF16 = "oneDNN has no bf16 primitives on this CPU (needs AVX-512; ONEDNN_MAX_CPU_ISA may cap it)"


@pytest.fixture(autouse=True, scope="module")
def _tiny_models_on_one_thread(one_thread):
    yield


def short_window_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Some windows left-padded, so MAR-Y takes its packed path as well as the fused one."""
    x, y = sequence_batch()
    x[:4, :3] = 0
    return x, y


def lstm_output_dtypes(model) -> list[torch.dtype]:
    """The dtype each LSTM computed in (autocast casts inside the op, so its output tells)."""
    seen: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, torch.nn.LSTM):
            module.register_forward_hook(lambda _, args, out: seen.append(out[0].data.dtype))
    return seen


def cpu_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    found = re.search(r"^flags\s*:(.*)$", text, flags=re.MULTILINE)
    return set(found.group(1).split()) if found else set()


# -- auto and explicit precisions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("native", "faster", "expected"),
    [(True, True, "bf16-mixed"), (True, False, "32-true"), (False, True, "32-true"), (False, False, "32-true")],
)
def test_auto_on_a_cpu_picks_bf16_only_where_native_and_measured_faster(native, faster, expected, monkeypatch):
    monkeypatch.setattr(precision, "native_cpu_bf16", lambda: native)
    assert resolve_precision("auto", "cpu", cpu_bf16_faster=faster) == expected


def test_auto_on_this_cpu_follows_its_real_bf16_instructions():
    flags = cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with (not Linux)")
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    if cap not in ("ALL", "AVX2"):
        pytest.skip(f"ONEDNN_MAX_CPU_ISA={cap}: only ALL and AVX2 have a known answer here")
    native = bool(flags & {"avx512_bf16", "amx_bf16"}) and cap == "ALL"
    assert precision.native_cpu_bf16() is native
    assert resolve_precision("auto", "cpu", cpu_bf16_faster=True) == ("bf16-mixed" if native else "32-true")
    assert resolve_precision("auto", "cpu", cpu_bf16_faster=False) == "32-true"


@pytest.mark.parametrize(("bf16", "expected"), [(True, "bf16-mixed"), (False, "16-mixed")])
def test_auto_on_a_gpu_picks_bf16_where_supported_else_fp16_with_a_scaler(bf16, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert resolve_precision("auto", "gpu", cpu_bf16_faster=False) == expected


def test_explicit_bf16_on_a_gpu_without_it_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    with pytest.raises(ValueError, match=r"^trainer.precision=bf16-mixed: this GPU has no bf16; use") as err:
        resolve_precision("bf16-mixed", "gpu", cpu_bf16_faster=True)
    assert "\n" not in str(err.value)
    assert resolve_precision("16-mixed", "gpu", cpu_bf16_faster=True) == "16-mixed"


def test_explicit_precisions_on_a_cpu_pass_through():
    for chosen in ("32-true", "bf16-mixed", "16-mixed", "bf16-true", 32):
        assert resolve_precision(chosen, "cpu", cpu_bf16_faster=False) == chosen


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_native_bf16_comes_with_a_note(native, monkeypatch):
    monkeypatch.setattr(precision, "native_cpu_bf16", lambda: native)
    note = precision_note("bf16-mixed", "cpu")
    assert (note is None) is native
    if note:
        assert note.startswith("note: trainer.precision=bf16-mixed on a CPU without native bf16")
    assert precision_note("32-true", "cpu") is None


def test_each_model_says_whether_bf16_was_measured_faster_on_a_cpu():
    assert {cls: cls.cpu_bf16_faster for cls in (JazzGPT, Mary, LSTMBaseline)} == {
        JazzGPT: False, Mary: False, LSTMBaseline: False
    }


# -- recurrent layers under autocast --------------------------------------------------------------


@pytest.mark.parametrize("name", ["mary", "lstm"])
def test_without_onednn_bf16_the_recurrent_layers_run_in_float32_inside_bf16_autocast(name, monkeypatch):
    monkeypatch.setattr(precision, "onednn_bf16", lambda: False)
    model = BUILDERS[name]().train()
    seen = lstm_output_dtypes(model)
    x, y = short_window_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
    loss.backward()
    assert seen and set(seen) == {torch.float32}
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["mary", "lstm"])
def test_with_onednn_bf16_the_recurrent_layers_run_in_bf16(name):
    if not precision.onednn_bf16():
        pytest.skip(NO_ONEDNN_BF16)
    model = BUILDERS[name]().eval()
    seen = lstm_output_dtypes(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(sequence_batch()[0])  # full windows: a packed LSTM is never autocast
    assert seen and set(seen) == {torch.bfloat16}


def test_float16_autocast_on_a_cpu_runs_the_recurrent_layers_in_float32():
    x = torch.zeros(2, 3)
    with torch.autocast("cpu", dtype=torch.float16):
        assert recurrent_in_float32(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert recurrent_in_float32(x) is not precision.onednn_bf16()
    assert not recurrent_in_float32(x)


def test_bf16_mixed_training_runs_mary_on_a_cpu_without_onednn_bf16(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "onednn_bf16", lambda: False)
    cfg = compose_config("train", [*tiny_train_overrides("mary"), "trainer.precision=bf16-mixed"], tmp_path)
    last = train(cfg)
    assert last.is_file()
    assert '"precision": "bf16-mixed"' in (tmp_path / "run_info.json").read_text()
