"""Resume only onto the same model and data: a checkpoint's weights mean nothing elsewhere.

Token ids are positions in a vocabulary, so weights resumed onto data whose vocabulary has the
same size but another order load without error and learn the wrong tokens. Every checkpoint
therefore records its model family and its data's fingerprint (source files, tokenizer,
transpositions, grid — everything the cache key hashes), its vocabularies travel in the
hyperparameters, and a run about to resume compares them with what it has built, refusing in
one line that names each difference. ``finetune=true`` starts from the weights on new data
instead: rows of vocabulary-indexed parameters are carried over by token, new tokens keep
their fresh rows, and optimizer and step start afresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from musicgen.models import MusicModel, model_family, read_checkpoint, weights_problem

VOCAB_NAMES = {"vocab": "vocabulary", "chord_vocab": "chord vocabulary", "melody_vocab": "melody vocabulary"}
FINETUNE_HINT = "train afresh, or add finetune=true to start from its weights on this data"


def plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists), as a checkpoint stores and compares it."""
    return json.loads(json.dumps(value, default=str))


def data_record(fingerprint: dict, cache_key: str) -> dict:
    """What a checkpoint keeps of its data (under ``musicgen_run["data"]``)."""
    return {"cache_key": cache_key, "fingerprint": plain(fingerprint)}


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _file_changes(then: list, now: list) -> str:
    old, new = dict(map(tuple, then)), dict(map(tuple, now))
    counts = {
        "added": sum(name not in old for name in new),
        "removed": sum(name not in new for name in old),
        "changed": sum(name in new and new[name] != digest for name, digest in old.items()),
    }
    return "source files " + ", ".join(f"{n} {what}" for what, n in counts.items() if n)


def config_differences(then: Any, now: Any, key: str = "") -> list[str]:
    """``key: X then, Y now`` for each leaf that differs between two JSON-like values."""
    if isinstance(then, dict) and isinstance(now, dict):
        found = []
        for name in dict.fromkeys([*then, *now]):
            found += config_differences(then.get(name), now.get(name), f"{key}.{name}" if key else name)
        return found
    if then == now:
        return []
    if key.endswith("files") and isinstance(then, list) and isinstance(now, list):
        return [_file_changes(then, now)]
    return [f"{key}: {_shown(then)} then, {_shown(now)} now"]


def vocabulary_differences(then: dict, now: dict) -> list[str]:
    found = []
    for name, label in VOCAB_NAMES.items():
        old, new = then.get(name), now.get(name)
        if old is None or new is None or list(old) == list(new):
            continue
        same = sum(a == b for a, b in zip(old, new, strict=False))
        found.append(f"{label}: {len(old)} tokens then, {len(new)} now, {same} at the same position")
    return found


def _as_override(difference: str) -> str:
    """A fingerprint key as the user would override it (``config.transpositions`` ->
    ``data.transpositions``, ``source.config.tracks`` -> ``data.source.tracks``)."""
    for inner, outer in (("source.config.", "data.source."), ("source.", "data.source."), ("config.", "data.")):
        if difference.startswith(inner):
            return outer + difference.removeprefix(inner)
    return difference if difference.startswith("source files") else f"data.{difference}"


def data_differences(checkpoint: dict, model: MusicModel, data: dict) -> list[str]:
    """How the data a checkpoint was trained on differs from ``data`` (``data_record``)."""
    hparams = checkpoint.get("hyper_parameters") or {}
    run = checkpoint.get("musicgen_run") or {}
    recorded = run.get("data")
    if recorded:
        found = [_as_override(d) for d in config_differences(recorded["fingerprint"], data["fingerprint"])]
    else:
        found = config_differences(
            plain(hparams.get("data_info")), plain(model.hparams.get("data_info")), "data_info"
        )
    found += vocabulary_differences(hparams, dict(model.hparams))
    if not found and run.get("data_cache_key", data["cache_key"]) != data["cache_key"]:
        found.append(  # a checkpoint from before the data record: only its cache key is known
            f"data cache key {run['data_cache_key']} then, {data['cache_key']} now"
        )
    return found


def model_differences(checkpoint: dict, model: MusicModel) -> list[str]:
    """Why a checkpoint's weights cannot go into ``model`` whatever the data (empty: they can)."""
    family = model_family(model)
    if checkpoint["musicgen_model"] != family:
        return [f"model {checkpoint['musicgen_model'].rpartition('.')[2]} then, {type(model).__name__} now"]
    problem = weights_problem(model.state_dict(), checkpoint["state_dict"], frozenset(model.vocab_rows))
    if problem is None:
        return []
    hparams = checkpoint.get("hyper_parameters") or {}
    ignored = {*VOCAB_NAMES, "data_info"}
    settings = config_differences(
        plain({k: v for k, v in hparams.items() if k not in ignored}),
        plain({k: v for k, v in model.hparams.items() if k not in ignored}),
        "model",
    )
    return settings or [f"weights: {problem}"]


@dataclass
class Candidate:
    """A checkpoint a run might start from, read (memory-mapped) before any data is prepared."""

    path: Path
    checkpoint: dict


def read_candidates(paths: list[Path], skip_unreadable: bool) -> tuple[list[Candidate], list[str]]:
    """The readable checkpoints among ``paths`` (newest first), and why the others were skipped.

    A path the user named must be readable (its error is raised); ``ckpt_path=last`` skips
    unreadable files and says so.
    """
    found, skipped = [], []
    for path in paths:
        try:
            found.append(Candidate(path, read_checkpoint(path, mmap=True)))
        except (OSError, ValueError) as err:
            if not skip_unreadable:
                raise
            skipped.append(str(err))
    return found, skipped


def refusal(candidate: Candidate, model: MusicModel, data: dict, finetune: bool) -> list[str]:
    """What stops ``candidate`` from being resumed (or, with ``finetune``, fine-tuned) here."""
    differences = model_differences(candidate.checkpoint, model)
    if differences or finetune:
        return differences
    return data_differences(candidate.checkpoint, model, data)


def choose(
    candidates: list[Candidate], model: MusicModel, data: dict, finetune: bool, searched: str | None
) -> Candidate:
    """The checkpoint to start from: the only one named, or (``searched``, for ckpt_path=last)
    the newest that fits this model and data. Refuses in one line naming what differs."""
    verb = "fine-tune from" if finetune else "resume"
    if searched is None:
        (candidate,) = candidates
        differences = refusal(candidate, model, data, finetune)
        if differences:
            hint = "" if finetune else f" ({FINETUNE_HINT})"
            raise ValueError(f"cannot {verb} {candidate.path}: {'; '.join(differences)}{hint}")
        return candidate
    newest = None
    for candidate in candidates:
        differences = refusal(candidate, model, data, finetune)
        if not differences:
            return candidate
        newest = newest or (candidate, differences)
    if newest is None:
        raise FileNotFoundError(f"ckpt_path=last: no readable last.ckpt under {searched}")
    path, differences = newest
    raise ValueError(
        f"ckpt_path=last: none of the {len(candidates)} last.ckpt under {searched} was trained with "
        f"this model and data (the newest, {path.path}: {'; '.join(differences)}); name one with "
        "ckpt_path=..."
    )


def transfer_weights(checkpoint: dict, model: MusicModel) -> dict[str, int]:
    """Load a checkpoint's weights into ``model`` built for new data, carrying each
    vocabulary-indexed row over by its token; returns tokens kept and new per vocabulary."""
    old_hparams = checkpoint["hyper_parameters"]
    state = model.state_dict()
    counts: dict[str, int] = {}
    for name, tensor in checkpoint["state_dict"].items():
        vocab_name = model.vocab_rows.get(name)
        if vocab_name is None:
            state[name] = tensor
            continue
        old = {token: row for row, token in enumerate(old_hparams[vocab_name])}
        pairs = [(new, old[token]) for new, token in enumerate(model.hparams[vocab_name]) if token in old]
        new_rows, old_rows = (torch.tensor(ids, dtype=torch.long) for ids in zip(*pairs, strict=True))
        state[name] = state[name].clone()
        state[name][new_rows] = tensor[old_rows].to(state[name].dtype)
        counts[f"{VOCAB_NAMES[vocab_name]} tokens kept"] = len(pairs)
        counts[f"{VOCAB_NAMES[vocab_name]} tokens new"] = len(model.hparams[vocab_name]) - len(pairs)
    model.load_state_dict(state)
    return counts
