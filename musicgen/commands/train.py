"""``python train.py``: fit a model (``musicgen.training``; config ``conf/train.yaml``), or, with
``experiment=reward_finetune``, fine-tune one on a music-theory reward (``musicgen.reward``).

``python train.py model=mary model.blocks=2 trainer.max_epochs=150``
"""

from pathlib import Path

from omegaconf import DictConfig

from musicgen.cli import hydra_command
from musicgen.reward import finetune
from musicgen.training import train


def job(cfg: DictConfig) -> Path:
    """Reward fine-tuning when the config has a ``reward`` section, else plain training."""
    return finetune(cfg) if cfg.get("reward") else train(cfg)


main = hydra_command("train", job)

if __name__ == "__main__":
    main()
