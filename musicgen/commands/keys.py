"""``python -m musicgen.evaluation.keys CONDITIONED.ckpt PLAIN.ckpt``: key conditioning measured
(``musicgen.evaluation.keys``). Its arguments are files, so it reads them with
``cli.ArgumentParser`` (see ``musicgen.commands``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from musicgen.cli import USER_ERRORS, ArgumentParser, one_line
from musicgen.errors import user_error
from musicgen.evaluation.keys import compare, markdown


def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(
        prog="python -m musicgen.evaluation.keys",
        description="in-scale share of requested keys, and validation loss, per checkpoint",
    )
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--samples-per-key", type=int, default=4)
    parser.add_argument("--num-tokens", type=int, default=128)
    parser.add_argument("--primer-length", type=int, default=32)
    parser.add_argument("--sampler", default="softmax")
    parser.add_argument(
        "--val-batches", type=int, default=None, help="default: the whole validation split"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("keys.json"))
    args = parser.parse_args(argv)
    try:
        rows = compare(
            args.checkpoints, args.samples_per_key, args.num_tokens, args.primer_length,
            args.sampler, args.val_batches, args.seed,
        )
    except USER_ERRORS as err:
        user_error(one_line(err))
    args.out.write_text(json.dumps(rows, indent=2))
    print(markdown(rows))


if __name__ == "__main__":
    main()
