"""Train a model: ``python train.py model=mary model.blocks=2 trainer.max_epochs=150``."""

import hydra
from omegaconf import DictConfig

from musicgen.cli import launch, run_cli
from musicgen.training import train


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_cli(train, cfg)


if __name__ == "__main__":
    launch(main)
