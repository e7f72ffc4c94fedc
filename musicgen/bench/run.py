"""``python -m musicgen.bench``: every fast path against the plain way, in one run, on one machine.

Sections: ``data`` (MIDI preparation vs music21, cold vs cached JazzGPT data), ``train``
(tokens/s, each model's share of the measured matmul rate, data-loading share), ``generate``
(KV cache, batching, MAR-Y and LSTM), ``memory`` (peak RSS in fresh processes); with
``--peers`` also ``peers`` (the tools a user would pick instead: the Keras LSTM composer, MidiTok),
with ``--compile`` also ``compile``. Prints a table and writes dated JSON + Markdown results
(``musicgen.bench.report``). Everything it prepares goes to a temporary cache folder, removed at
the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from musicgen.bench.compiled import bench_compile
from musicgen.bench.data import bench_midi, bench_prepared
from musicgen.bench.generate import bench_jazz, bench_sequences
from musicgen.bench.memory import bench_memory
from musicgen.bench.peers import bench_peers
from musicgen.bench.report import Row, Skipped, results_dir, table, write_results
from musicgen.bench.threads import bench_wait_policy
from musicgen.bench.timing import watch_load
from musicgen.bench.train import LABELS, bench_training, forever
from musicgen.bench.workloads import FULL, MODELS, QUICK, Sizes, build_model, data_for
from musicgen.cli import ArgumentParser
from musicgen.models import MusicModel

SECTIONS = ("data", "train", "generate", "memory", "threads", "peers", "compile")
# Peers need the optional extra and take minutes; torch.compile compiles for minutes: on request.
DEFAULT_SECTIONS = SECTIONS[:-2]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="python -m musicgen.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument(
        "--out", type=Path, default=results_dir(), help="results folder (default: %(default)s)"
    )
    parser.add_argument(
        "--only", default=",".join(DEFAULT_SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}"
    )
    parser.add_argument("--peers", action="store_true", help="also measure the peers (pip install -e .[peers])")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (JazzGPT)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for extra in ("peers", "compile"):
        if getattr(args, extra):
            args.only += f",{extra}"
    for key, allowed in (("only", SECTIONS), ("models", tuple(MODELS))):
        asked = {s for s in getattr(args, key).split(",") if s}
        if asked - set(allowed):
            unknown = ", ".join(sorted(asked - set(allowed)))
            parser.error(f"--{key}: unknown {unknown}; choose from {', '.join(allowed)}")
        setattr(args, key, tuple(s for s in allowed if s in asked))  # in the canonical order
    return args


@contextmanager
def cache_folder(path: Path) -> Iterator[None]:
    """Point ``musicgen.paths.cache_dir()`` at ``path`` for the duration."""
    previous = os.environ.get("MUSICGEN_CACHE_DIR")
    os.environ["MUSICGEN_CACHE_DIR"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MUSICGEN_CACHE_DIR", None)
        else:
            os.environ["MUSICGEN_CACHE_DIR"] = previous


def _add(rows: list[Row], new: list[Row]) -> None:
    for row in new:
        print(f"[{row.section}] {row.name}: {row.value:,.4g} {row.unit}  {row.detail}", flush=True)
    rows += new


def run_section(
    section: str,
    sizes: Sizes,
    models: tuple[str, ...],
    work: Path,
    trained: dict[str, MusicModel],
    skipped: list[Skipped],
) -> list[Row]:
    """One section's rows; the train section leaves its models in ``trained`` for generation,
    the peers section the peers it could not run in ``skipped``."""
    if section == "data":
        return bench_midi(sizes, work) + bench_prepared(sizes)
    if section == "train":
        rows, built = bench_training(sizes, models)
        trained.update(built)
        return rows
    if section == "generate":
        rows = []
        for name in models:
            model = trained.get(name) or build_model(name, sizes, data_for(name, sizes)[0].model_inputs())
            if name == "jazzgpt":
                rows += bench_jazz(model, sizes)
            else:
                rows += bench_sequences(LABELS[name], model, sizes)
        return rows
    if section == "memory":
        return bench_memory(sizes, work / "cache", models)
    if section == "threads":
        return bench_wait_policy(sizes, models)
    if section == "peers":
        rows, missing = bench_peers(sizes, work)
        skipped += missing
        return rows
    data = data_for("jazzgpt", sizes)[0]
    data.setup("fit")
    model = trained.get("jazzgpt") or build_model("jazzgpt", sizes, data.model_inputs())
    return bench_compile(model, forever(data.train_dataloader()), sizes)


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    torch.manual_seed(args.seed)
    rows: list[Row] = []
    skipped: list[Skipped] = []
    elapsed: dict[str, float] = {}
    trained: dict[str, MusicModel] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="musicgen-bench-") as tmp, watch_load() as whole:
        work = Path(tmp)
        with cache_folder(work / "cache"):
            for section in args.only:
                begin = time.perf_counter()
                with watch_load() as watch:
                    new = run_section(section, sizes, args.models, work, trained, skipped)
                for row in new:  # a row measured without its own load watch gets its section's
                    row.load = row.load or watch.load.as_dict()
                _add(rows, new)
                elapsed[section] = time.perf_counter() - begin
    print()
    if args.quick:
        print("--quick: tiny sizes to check that the benchmark runs; its figures mean nothing\n")
    print(table(rows))
    for peer in skipped:
        print(f"skipped {peer.peer}: {peer.reason}")
    print(f"\nmachine during the run: {whole.load.describe()}")
    settings = {"command": " ".join(["python -m musicgen.bench", *sys.argv[1:]] if argv is None else
                                    ["python -m musicgen.bench", *argv]),
                "quick": args.quick, "sections": args.only, "models": args.models, "seed": args.seed,
                "sizes": asdict(sizes), "elapsed_s": elapsed,
                "elapsed_s_total": time.perf_counter() - start, "load": whole.load.as_dict()}
    paths = write_results(args.out, rows, settings, skipped)
    print("wrote " + " and ".join(str(p.resolve()) for p in paths))
    return rows
