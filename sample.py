"""Write music with a trained model: ``python sample.py ckpt_path=latest sampler=topk sampler.k=15``."""

import hydra
from omegaconf import DictConfig

from musicgen.cli import launch, run_cli
from musicgen.generation import sample


@hydra.main(config_path="conf", config_name="sample", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_cli(sample, cfg)


if __name__ == "__main__":
    launch(main)
