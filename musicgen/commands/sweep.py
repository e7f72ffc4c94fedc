"""``python -m musicgen.sweep <multirun dir>``: one summary table for a Hydra multirun
(``musicgen.sweep``). Its argument is a folder, so it reads it with ``cli.ArgumentParser`` (see
``musicgen.commands``)."""

from __future__ import annotations

from musicgen.cli import ArgumentParser
from musicgen.errors import user_error
from musicgen.sweep import write_summary


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m musicgen.sweep", description="one table for a Hydra multirun")
    parser.add_argument("folder", help="the multirun folder (outputs/multirun/<date>/<time>)")
    args = parser.parse_args(argv)
    try:
        _, md_path = write_summary(args.folder)
    except (OSError, ValueError) as err:
        user_error(str(err))
    print(md_path.read_text(), end="")
    print(f"written: {md_path.with_suffix('.csv')} and {md_path}")


if __name__ == "__main__":
    main()
