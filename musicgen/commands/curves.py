"""``python -m musicgen.render.curves loss.png RUN_DIR [RUN_DIR ...] [--title T]``: the loss curves
of training runs in one picture (``musicgen.render.curves``). Its arguments are files, so it
reads them with ``cli.ArgumentParser`` (see ``musicgen.commands``)."""

from __future__ import annotations

from pathlib import Path

from musicgen.cli import ArgumentParser
from musicgen.errors import user_error
from musicgen.render.curves import plot_loss_curves, run_metrics


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m musicgen.render.curves", description="loss curves of training runs in one picture")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (outputs/train/<date>/<time>)")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    try:
        runs = {str(run): run_metrics(run) for run in args.runs}
    except FileNotFoundError as err:
        user_error(str(err))
    print(plot_loss_curves(runs, args.out, args.title))


if __name__ == "__main__":
    main()
