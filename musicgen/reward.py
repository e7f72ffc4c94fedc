"""Reward fine-tuning: policy gradients on a music-theory reward, with a KL penalty to the start.

``python train.py experiment=reward_finetune ckpt_path=pretrained:jazzgpt-wjd`` fine-tunes a
trained JazzGPT (the policy) on a reward computed from the music it writes
(``metrics.reward.MusicReward``), while a frozen copy of the starting model (the reference)
keeps it near its own style.

Each step draws ``samples_per_chords`` melodies over each of ``chords_per_step`` progressions
through the generation engine (``sampling.engine.sample_melody_ids``: plain softmax, so the
samples come from the policy itself), decodes them, scores them, and re-reads the drawn tokens
with teacher forcing to get their log-probabilities under the policy (with gradients) and the
reference. The loss is REINFORCE with a leave-one-out baseline (each melody's reward minus the
mean reward of the other melodies over the same chords: RLOO, Kool et al. 2019) plus the KL
penalty:

    loss = -mean[(R_i - b_i) * log pi(y_i)] + kl_weight * mean[KL_i]

where ``KL_i = sum_t KL(pi(. | y_<t) || ref(. | y_<t))`` is the exact KL over the vocabulary at
every position of melody i, summed over the melody (its expectation is the KL between the two
models' melody distributions, in nats per melody). Dropout stays off in both models, so the
probabilities scored are the ones sampled from and the KL is exactly 0 at the first step.

Before and after fitting, the policy writes one melody over each of ``eval_samples`` validation
chord windows (fixed seeds); the metrics of those, of the human melodies of the same windows, and
the KL reached go into ``run_info.json``. The fine-tuned model is saved as an ordinary
checkpoint (``checkpoints/last.ckpt``) that ``sample.py`` loads.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils.data import DataLoader

import musicgen
from musicgen.callbacks.checkpointing import AtomicCheckpointIO
from musicgen.callbacks.guards import FiniteLossGuard
from musicgen.data.vocab import Vocabulary
from musicgen.metrics.ngrams import NGramIndex, training_indexes
from musicgen.metrics.registry import summarize
from musicgen.models import load_model, model_family, resolve_checkpoint
from musicgen.models.checkpoint import datamodule_from_checkpoint, read_checkpoint
from musicgen.music.records import LeadSheet
from musicgen.music.tokens import BOS_ID, PAD_ID
from musicgen.paths import run_dir
from musicgen.sampling.engine import MELODY_BANNED, melody_strings, sample_melody_ids
from musicgen.sampling.progressions import resolve_chords
from musicgen.sampling.records import model_kind, spread
from musicgen.sampling.sampler import Sampler
from musicgen.training import build_trainer, git_commit, write_run_info

MASKED_LOGIT = -1e4
"""Logit of the special tokens the engine never draws: probability exp(-1e4) = 0 in float32,
yet finite, so the KL over the vocabulary has no 0 * inf terms (and no NaN gradients)."""

Reward = Callable[[LeadSheet], float]
REPORTED = ("inside_ratio", "repetition_rate", "plagiarism_interval_6", "plagiarism_pitch_duration_4",
            "downbeat_std", "pitch_class_entropy")
"""The metrics printed before/after (all are logged and kept in run_info.json)."""


def _pad(rows: Sequence[Sequence[int]], device: torch.device) -> Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD_ID, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out.to(device)


def melody_log_probs(model: Any, chords: Tensor, melody_in: Tensor) -> Tensor:
    """Log-probabilities [B, T, V] of every next melody token (teacher forcing), the specials the
    engine masks given ``MASKED_LOGIT``: the distribution the engine samples from."""
    memory, mask = model.encode(chords)
    logits, _ = model.decode(melody_in, memory, mask)
    banned = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    banned[MELODY_BANNED] = True
    return torch.log_softmax(logits.float().masked_fill(banned, MASKED_LOGIT), dim=-1)


def score_melodies(
    policy: Any, reference: Any, chords: Sequence[Sequence[str]], ids: Sequence[Sequence[int]]
) -> tuple[Tensor, Tensor, Tensor]:
    """(log pi of each drawn melody [B], its KL(pi || ref) summed over positions [B], its tokens
    [B]): melody i is ``ids[i]`` over ``chords[i]``, read after ``<bos>``."""
    device = next(policy.parameters()).device
    chord_ids = _pad([Vocabulary(policy.hparams.chord_vocab).encode(c) for c in chords], device)
    melody = _pad([[BOS_ID, *row] for row in ids], device)
    melody_in, target = melody[:, :-1], melody[:, 1:]
    real = target != PAD_ID
    log_p = melody_log_probs(policy, chord_ids, melody_in)
    with torch.no_grad():
        log_q = melody_log_probs(reference, chord_ids, melody_in)
    drawn = log_p.gather(-1, target[..., None])[..., 0] * real
    kl = (log_p.exp() * (log_p - log_q)).sum(-1) * real
    return drawn.sum(1), kl.sum(1), real.sum(1)


def check_melody_model(model: Any) -> None:
    """Reward fine-tuning plays melodies over chords: a one-line error for any other model."""
    if model_kind(model) != "lead_sheet":
        raise ValueError(f"reward fine-tuning writes melodies over chords (JazzGPT), not "
                         f"{type(model).__name__} pieces")


def leave_one_out(rewards: Tensor, group: int) -> Tensor:
    """Each reward minus the mean of the others of its group (consecutive ``group`` rewards)."""
    grouped = rewards.view(-1, group)
    baseline = (grouped.sum(1, keepdim=True) - grouped) / (group - 1)
    return (grouped - baseline).view(-1)


class RewardFinetune(L.LightningModule):
    """The policy, its frozen reference, the reward and the chords to play over (see the module
    docstring). ``indexes`` are the training n-gram indexes the logged plagiarism reads."""

    def __init__(
        self,
        policy: Any,
        reward: Reward,
        progressions: Sequence[Sequence[str]],
        kl_weight: float = 0.1,
        samples_per_chords: int = 4,
        chords_per_step: int = 4,
        lr: float = 1e-4,
        max_tokens: int | None = None,
        seed: int = 0,
        indexes: Sequence[NGramIndex] = (),
    ):
        super().__init__()
        check_melody_model(policy)
        if samples_per_chords < 2:
            raise ValueError(f"samples_per_chords must be >= 2 for the leave-one-out baseline, "
                             f"got {samples_per_chords}")
        if kl_weight < 0 or chords_per_step < 1 or lr <= 0:
            raise ValueError(f"reward fine-tuning needs kl_weight >= 0, chords_per_step >= 1 and "
                             f"lr > 0 (got {kl_weight}, {chords_per_step}, {lr})")
        if not progressions:
            raise ValueError("reward fine-tuning has no chord progressions to play over")
        self.policy = policy
        self.reference = copy.deepcopy(policy).requires_grad_(False)
        self.reward = reward
        self.progressions = [list(p) for p in progressions]
        self.kl_weight = float(kl_weight)
        self.samples = int(samples_per_chords)
        self.chords_per_step = int(chords_per_step)
        self.lr = float(lr)
        self.max_tokens = int(max_tokens or policy.hparams.max_len - 1)
        self.seed = int(seed)
        self.indexes = list(indexes)
        self.sampler = Sampler()  # plain softmax: the samples must come from the policy itself
        self.train(self.training)  # dropout off from the start (Lightning keeps the modes it finds)

    def train(self, mode: bool = True) -> RewardFinetune:
        """Lightning's train mode, with dropout off in both models (see the module docstring)."""
        super().train(mode)
        self.policy.eval()
        self.reference.eval()
        return self

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.progressions, batch_size=self.chords_per_step, shuffle=True,
                          generator=generator, collate_fn=list)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.policy.parameters(), lr=self.lr, weight_decay=0.0)

    def rollout(self, progressions: Sequence[Sequence[str]], samples: int, seed: int
                ) -> tuple[list[list[int]], list[LeadSheet]]:
        """``samples`` melodies over each progression: the drawn ids and the decoded records."""
        info = self.policy.hparams.data_info
        vocab = list(self.policy.hparams.melody_vocab)
        ids = sample_melody_ids(self.policy, progressions, self.sampler, samples, self.max_tokens, seed)
        records = []
        for i, row in enumerate(ids):
            chords = tuple(progressions[i // samples])
            tokens = melody_strings(row, vocab, len(chords) * info["ticks_per_beat"])
            records.append(LeadSheet.from_tokens(
                f"seed{seed + i}", tokens, chords, ticks_per_beat=info["ticks_per_beat"],
                beats_per_bar=info["beats_per_bar"],
            ))
        return ids, records

    def metric_means(self, records: Sequence[LeadSheet]) -> dict[str, float]:
        return {name: s["mean"] for name, s in summarize(records, True, self.indexes).items()}

    def training_step(self, batch: list[list[str]], batch_idx: int) -> Tensor:
        rows = [chords for chords in batch for _ in range(self.samples)]
        ids, records = self.rollout(batch, self.samples, self.seed + self.global_step * len(rows))
        rewards = torch.tensor([self.reward(r) for r in records], device=self.device)
        log_p, kl, tokens = score_melodies(self.policy, self.reference, rows, ids)
        advantage = leave_one_out(rewards, self.samples)
        loss = -(advantage * log_p).mean() + self.kl_weight * kl.mean()
        self.log_dict({
            "train/loss": loss.detach(),
            "train/reward": rewards.mean(),
            "train/kl": kl.detach().mean(),
            "train/kl_per_token": kl.detach().sum() / tokens.sum(),
            "train/tokens": tokens.float().mean(),
        }, prog_bar=True, batch_size=len(rows))
        means = {f"gen/{k}": v for k, v in self.metric_means(records).items() if not math.isnan(v)}
        self.log_dict(means, batch_size=len(rows))
        return loss

    @torch.no_grad()
    def evaluate(self, progressions: Sequence[Sequence[str]], seed: int) -> dict[str, float]:
        """One melody over each progression (seeds ``seed + i``): mean reward, KL to the
        reference per melody and per token, and the metric means."""
        ids, records = self.rollout(progressions, 1, seed)
        _, kl, tokens = score_melodies(self.policy, self.reference, progressions, ids)
        return {
            "reward": sum(map(self.reward, records)) / len(records),
            "kl": float(kl.mean()),
            "kl_per_token": float(kl.sum() / tokens.sum()),
            **self.metric_means(records),
        }


def chord_windows(spec: Any, records: Sequence[LeadSheet], beats: int, beats_per_bar: int
                  ) -> list[list[str]]:
    """The progressions to fine-tune over: ``data`` (the chords of the training windows) or a
    list of ``chords=`` values (named progressions, bars), cut into windows of ``beats``."""
    if spec == "data":
        return [list(r.chords) for r in records]
    if isinstance(spec, str):
        spec = [spec]
    windows = []
    for value in spec:
        chords = resolve_chords(str(value), beats_per_bar=beats_per_bar)
        windows += [chords[i : i + beats] for i in range(0, len(chords), beats)]
    return windows


def save_policy(policy: Any, start: dict, path: Path, record: dict) -> None:
    """The fine-tuned model as an ordinary checkpoint: the starting checkpoint's run record (so
    its data module is rebuilt from it) and recommended sampler, plus what this stage did."""
    checkpoint = {
        "state_dict": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        "hyper_parameters": dict(policy.hparams),
        "musicgen_model": model_family(policy),
        "musicgen_reward": record,
        **{k: start[k] for k in ("musicgen_run", "musicgen_sampler") if k in start},
    }
    AtomicCheckpointIO().save_checkpoint(checkpoint, path)


def _table(rows: dict[str, dict[str, float]]) -> str:
    names = [n for n in REPORTED if any(n in r for r in rows.values())] + ["reward", "kl"]
    lines = ["metric".ljust(28) + "".join(label.rjust(10) for label in rows)]
    for name in names:
        cells = "".join(f"{r[name]:10.3f}" if name in r else " " * 10 for r in rows.values())
        lines.append(name.ljust(28) + cells)
    return "\n".join(lines)


def finetune(cfg: DictConfig) -> Path:
    """Fine-tune ``ckpt_path`` with the ``reward`` settings; returns the fine-tuned checkpoint."""
    spec = cfg.get("ckpt_path")
    if not spec:
        raise ValueError("experiment=reward_finetune needs the model to start from: add ckpt_path=...")
    settings = cfg.reward
    L.seed_everything(cfg.seed, workers=True)
    out = run_dir(cfg)
    path = resolve_checkpoint(spec, cfg.paths.outputs)
    policy = load_model(path)
    check_melody_model(policy)  # before any data is prepared
    datamodule = datamodule_from_checkpoint(path, settings.get("data_path"))
    if datamodule is None:
        raise ValueError(f"{path} records no training data, which the reward's n-gram index and "
                         "inside-ratio target are measured on")
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_records, val_records = datamodule.records("train"), datamodule.records("val")
    info = policy.hparams.data_info
    window = info["window_bars"] * info["beats_per_bar"]
    indexes = training_indexes(train_records)
    reward = instantiate(settings.function)(train_records)
    module = RewardFinetune(
        policy, reward, chord_windows(settings.chords, train_records, window, info["beats_per_bar"]),
        settings.kl_weight, settings.samples_per_chords, settings.chords_per_step, settings.lr,
        settings.max_tokens, cfg.seed, indexes,
    )
    held_out = [val_records[i] for i in spread(len(val_records), settings.eval_samples)]
    eval_chords = [list(r.chords) for r in held_out]
    eval_seed = cfg.seed + 1_000_000  # apart from the training draws
    git = git_commit()
    record = {
        "version": musicgen.__version__, "git_commit": git["commit"], "git_dirty": git["dirty"],
        "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "finetuned_from": str(path), "stage": "reward_finetune",
        "reward_target": {"inside_ratio": getattr(reward, "inside_target", None)},
        "status": "running",
    }
    config = OmegaConf.to_container(cfg, resolve=True)
    trainer = build_trainer(cfg, out, record, policy, callbacks=[FiniteLossGuard()])
    if trainer.is_global_zero:
        OmegaConf.save(cfg, out / "config.yaml", resolve=True)
        write_run_info(out, record)
        print(f"run directory: {out.resolve()}")
    for logger in trainer.loggers:
        logger.log_hyperparams({"config": config, "run": record})
    human = {k: s["mean"] for k, s in summarize(held_out, True, indexes).items()}
    human["reward"] = sum(map(reward, held_out)) / len(held_out)
    before = module.evaluate(eval_chords, eval_seed)
    clock = time.perf_counter()
    try:
        trainer.fit(module)
    except BaseException as err:
        if trainer.is_global_zero:
            write_run_info(out, {**record, "status": f"failed: {type(err).__name__}: {err}"})
        raise
    after = module.evaluate(eval_chords, eval_seed)
    last = out / "checkpoints" / "last.ckpt"
    results = {
        "steps": trainer.global_step, "fit_seconds": round(time.perf_counter() - clock, 1),
        "kl_weight": module.kl_weight, "eval_melodies": len(eval_chords),
        "human": human, "before": before, "after": after, "checkpoint": str(last.resolve()),
    }
    if trainer.is_global_zero:
        save_policy(module.policy, read_checkpoint(path), last, {**record, "config": config})
        write_run_info(out, {**record, "status": "finished", "results": results})
        print(_table({"human": human, "before": before, "after": after}))
        print(f"checkpoint: {last.resolve()}")
    return last
