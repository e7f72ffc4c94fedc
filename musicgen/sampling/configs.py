"""Sampler configs (``conf/sampler/*.yaml``) by name, for code that is not a Hydra command line:
the evaluation's rows, the demo's form, ``sample.py``'s recommended sampler, the export tool.

A sampler file extends another through its ``defaults`` list, as Hydra composes it (every
transform file extends ``softmax.yaml``, the plain sampler that lists every key); here that list
is followed the same way, so a file read by name is the config a command line would select.
"""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from musicgen.paths import conf_dir

NOT_DECODINGS = ("recommended",)
"""Configs that name no decoding of their own (``sample.py``'s stand-in for a checkpoint's choice)."""


def sampler_names() -> list[str]:
    """Every decoding with a sampler config, by name."""
    return sorted(p.stem for p in (conf_dir() / "sampler").glob("*.yaml") if p.stem not in NOT_DECODINGS)


def sampler_config(name: str) -> DictConfig:
    """``conf/sampler/<name>.yaml`` with the configs its ``defaults`` extends merged under it."""
    path = conf_dir() / "sampler" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"sampler {name}: no such sampler config; choose one of {', '.join(sampler_names())}")
    own = OmegaConf.load(path)
    defaults = list(own.pop("defaults", None) or ["_self_"])
    if "_self_" not in defaults:
        defaults.append("_self_")
    merged = OmegaConf.create()
    for entry in defaults:
        merged = OmegaConf.merge(merged, own if entry == "_self_" else sampler_config(str(entry)))
    return merged


def build_sampler(name: str, options: DictConfig | dict[str, Any] | None = None) -> Any:
    """The sampler of ``conf/sampler/<name>.yaml`` with ``options`` merged over it."""
    return instantiate(OmegaConf.merge(sampler_config(name), options or {}))
