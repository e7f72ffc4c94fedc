"""Decoding: logit transforms, the Sampler that applies them, and chord-aware biasing."""

from musicgen.sampling.sampler import Sampler, chord_bias
from musicgen.sampling.transforms import TRANSFORMS, transform_table

__all__ = ["TRANSFORMS", "Sampler", "chord_bias", "transform_table"]
