"""``python -m musicgen.models.export TRAINED.ckpt SHIPPED.ckpt [--float32] [--sampler topk k=15]``:
a training checkpoint made small enough to ship (see ``musicgen.models.pretrained``).

Its arguments are files, so it reads them with ``cli.ArgumentParser`` (see ``musicgen.commands``)."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from omegaconf import OmegaConf

from musicgen.cli import USER_ERRORS, ArgumentParser, one_line
from musicgen.errors import user_error
from musicgen.models.checkpoint import read_checkpoint
from musicgen.models.pretrained import slim_checkpoint
from musicgen.paths import conf_dir
from musicgen.sampling.configs import sampler_config as named_sampler_config
from musicgen.sampling.configs import sampler_names


def sampler_config(name: str, overrides: list[str]) -> dict:
    """``conf/sampler/<name>.yaml`` (with the config it extends) and ``key=value`` overrides, as a
    plain mapping."""
    if name not in sampler_names():
        raise FileNotFoundError(f"--sampler {name}: no {conf_dir() / 'sampler' / f'{name}.yaml'}")
    config = OmegaConf.to_container(named_sampler_config(name))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in config:
            raise ValueError(f"--sampler override {item!r}: expected key=value with a key of {name}.yaml")
        config[key] = yaml.safe_load(value)
    return config


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m musicgen.models.export", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--float32", action="store_true", help="keep float32 weights")
    parser.add_argument("--sampler", nargs="+", metavar=("NAME", "KEY=VALUE"),
                        help="the recommended sampler stored in the file")
    args = parser.parse_args(argv)
    try:
        checkpoint = read_checkpoint(args.source)
        sampler = sampler_config(args.sampler[0], args.sampler[1:]) if args.sampler else None
        dtype = torch.float32 if args.float32 else torch.float16
        args.target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(slim_checkpoint(checkpoint, dtype, sampler), args.target)
    except USER_ERRORS as err:
        user_error(one_line(err))
    print(f"{args.target}: {args.target.stat().st_size / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
