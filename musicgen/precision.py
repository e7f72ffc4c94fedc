"""What the machine can do in reduced precision, and the precision a run should use.

On a CPU, bf16 autocast runs matrix products and LSTMs through oneDNN. oneDNN has bf16
primitives only from AVX-512 up (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``; also false
under ``ONEDNN_MAX_CPU_ISA=AVX2``), and without them its LSTM cannot be built at all, so the
models run their recurrent layers in float32 there (``recurrent_in_float32``). bf16 is *native*
only with AVX-512 BF16 or AMX instructions; elsewhere it is emulated and slower than float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

GPU_ACCELERATORS = ("gpu", "cuda", "auto")


def onednn_bf16() -> bool:
    """oneDNN can build bf16 primitives here (its LSTM under bf16 autocast needs them)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def native_cpu_bf16() -> bool:
    """The CPU computes bf16 in hardware (AVX-512 BF16 or AMX) and oneDNN may use it."""
    hardware = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return bool(hardware) and onednn_bf16()


def recurrent_in_float32(x: Tensor) -> bool:
    """Whether a recurrent layer must leave autocast for float32 on ``x``'s device: CPU
    autocast in float16 (no LSTM kernel), or in bf16 without oneDNN's bf16 primitives."""
    if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return False
    return torch.get_autocast_dtype("cpu") != torch.bfloat16 or not onednn_bf16()


def run_recurrent(layer: Callable[..., Tensor], x: Tensor, *args: Any) -> Tensor:
    """``layer(x, *args)``, in float32 outside autocast where the CPU has no reduced-precision
    LSTM kernel, so every precision runs every model."""
    if not recurrent_in_float32(x):
        return layer(x, *args)
    with torch.autocast("cpu", enabled=False):
        return layer(x.float(), *args)


def is_gpu(accelerator: str) -> bool:
    return accelerator in GPU_ACCELERATORS and torch.cuda.is_available()


def resolve_precision(precision: str | int, accelerator: str, cpu_bf16_faster: bool) -> str | int:
    """The Trainer's precision; ``auto`` picks what is fastest on this machine.

    GPU: bf16-mixed where supported, else fp16-mixed (Lightning adds the gradient scaler).
    CPU: bf16-mixed only with native bf16 and for a model measured faster in it
    (``MusicModel.cpu_bf16_faster``), else full precision. An explicit bf16 on a GPU without it
    is refused in one line.
    """
    gpu = is_gpu(accelerator)
    if str(precision) == "auto":
        if gpu:
            return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        return "bf16-mixed" if cpu_bf16_faster and native_cpu_bf16() else "32-true"
    if str(precision).startswith("bf16") and gpu and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"trainer.precision={precision}: this GPU has no bf16; use trainer.precision=16-mixed or auto"
        )
    return precision


def precision_note(precision: str | int, accelerator: str) -> str | None:
    """A line for the user when the chosen precision runs, but slower than they may think."""
    if str(precision).startswith("bf16") and not is_gpu(accelerator) and not native_cpu_bf16():
        return (
            f"note: trainer.precision={precision} on a CPU without native bf16 (AVX-512 BF16 or AMX) "
            "is emulated and usually slower than 32-true"
        )
    return None
