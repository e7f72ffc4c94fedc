"""Shared fixtures: an isolated cache per test session, Hydra config builders, tiny checkpoints.

Helpers that are not fixtures live in ``helpers.py``; test modules never import each other."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from musicgen.paths import conf_dir, shared_data_dir

CONF_DIR = str(conf_dir())

# Tiny settings that keep every model's end-to-end run to seconds on 2 cores.
TINY_MODEL = {
    "jazzgpt": ["model.d_model=32", "model.n_heads=4", "model.d_ff=64", "model.enc_layers=1", "model.dec_layers=1"],
    "mary": ["model.blocks=1", "model.hidden=16", "model.embed_dim=16", "model.dense=16", "model.context=16"],
    "lstm": ["model.hidden=16", "model.layers=2", "model.embed_dim=16", "model.dense=16", "model.context=16"],
}
# No progress bar: tests that check a command's stderr line by line may parse chorales afresh.
CHORALES = ["data.source.limit=6", "data.source.progress=false", "data.transpositions=[0,2]"]
TINY_DATA = {
    "jazzgpt": [*CHORALES, "data.batch_size=8"],
    "mary": [*CHORALES, "data.batch_size=16", "data.stride=4"],
    "lstm": [*CHORALES, "data.batch_size=16", "data.stride=4"],
}


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests never read or write the user's cache."""
    path = tmp_path_factory.mktemp("musicgen-cache")
    os.environ["MUSICGEN_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(autouse=True)
def forget_hydra_run():
    """run_cli reads the current Hydra run's overrides; never leave one for the next test."""
    yield
    HydraConfig.instance().cfg = None


def compose_config(name: str, overrides: list[str], run_dir: Path) -> DictConfig:
    """A config exactly as the entry point would see it, with its run folder at ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.run_dir = str(run_dir)
        cfg.paths.outputs = str(run_dir.parent)
    HydraConfig.instance().set_config(cfg)  # its hydra node reads this whole config, as in a run
    job = copy.deepcopy(cfg)
    with open_dict(job):
        del job.hydra
    return job


def tiny_train_overrides(model: str) -> list[str]:
    return [
        f"model={model}",
        *TINY_MODEL[model],
        *TINY_DATA[model],
        "trainer.max_steps=3",
        "trainer.limit_val_batches=2",
        "trainer.enable_progress_bar=false",
        "trainer.log_every_n_steps=1",
    ]


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (it sits beside the checkout in CI)")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread than fighting other processes for two."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TrainedOnce(dict):
    """Model family -> a tiny checkpoint trained on a few chorales, trained on first use."""

    def __init__(self, root: Path):
        super().__init__()
        self.root = root

    def __missing__(self, model: str) -> Path:
        from musicgen.training import train

        self[model] = train(compose_config("train", tiny_train_overrides(model), self.root / model))
        HydraConfig.instance().cfg = None
        return self[model]


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> TrainedOnce:
    """Tiny JazzGPT, MAR-Y and LSTM checkpoints, shared by every test that only reads them."""
    return TrainedOnce(tmp_path_factory.mktemp("tiny-checkpoints"))
