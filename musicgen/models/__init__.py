"""The three models, and reading any of them back from a checkpoint alone (``checkpoint``)."""

from musicgen.models.base import MusicModel, model_family
from musicgen.models.checkpoint import (
    datamodule_from_checkpoint,
    load_model,
    read_checkpoint,
    resolve_checkpoint,
    weights_problem,
)
from musicgen.models.jazzgpt import JazzGPT
from musicgen.models.lstm import LSTMBaseline
from musicgen.models.mary import Mary

__all__ = ["JazzGPT", "LSTMBaseline", "Mary", "MusicModel", "datamodule_from_checkpoint", "load_model",
           "model_family", "read_checkpoint", "resolve_checkpoint", "weights_problem"]
