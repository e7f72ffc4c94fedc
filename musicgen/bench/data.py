"""Data preparation benchmarks: our MIDI pipeline against music21, and cold against cached data.

The music21 side is the classic recipe (the LSTM composer's): ``converter.parse`` the file,
``chordify`` its parts, and write single notes by name and chords as pitch-class strings, the
same skuli tokens our ``SkuliTokenizer`` writes. It parses the file itself (``forceSource``),
not the pickle music21 keeps of files it parsed before. music21 takes seconds per file, so it reads an
evenly spread subset, file by file in turn with ours; the ratio is of the totals, its spread the
lowest and highest file.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from musicgen.bench.report import Row
from musicgen.bench.timing import race_over, seconds
from musicgen.bench.workloads import Sizes, jazz_data, midi_folder
from musicgen.data.embedded import ChoralePianoSource
from musicgen.data.midi import MidiFolderSource, parse_midi_file
from musicgen.data.tokenizers import PaperTokenizer, SkuliTokenizer, Tokenizer
from musicgen.render.midi import score_to_midi

SECTION = "data"


def midi_files(sizes: Sizes, workdir: Path) -> tuple[list[Path], str]:
    """The ff_midi files, or (without them) chorales written as MIDI files into ``workdir``."""
    folder = midi_folder()
    if folder is not None:
        files, what = MidiFolderSource(folder).files(), f"ff_midi ({folder})"
    else:
        scores, _ = ChoralePianoSource(limit=sizes.chorale_limit).load()
        files = [score_to_midi(s, workdir / f"{s.id.replace(':', '_')}.mid") for s in scores]
        what = f"{len(files)} Bach chorales written as MIDI (ff_midi is absent)"
    return (files[: sizes.midi_files] if sizes.midi_files else files), what


def our_tokens(path: Path, tokenizer: Tokenizer) -> list[str]:
    """Our pipeline for one file: symusic parse, grid quantization and tokens."""
    score = parse_midi_file(path, path.name).score
    return tokenizer.encode(score) if score is not None else []


def music21_tokens(path: Path) -> list[str]:
    """The classic music21 recipe for one file (see the module docstring)."""
    from music21 import converter

    tokens = []
    for element in converter.parse(path, forceSource=True).chordify().flatten().notes:
        if len(element.pitches) == 1:
            tokens.append(element.pitches[0].nameWithOctave)
        else:
            tokens.append(".".join(str(pc) for pc in element.normalOrder))
    return tokens


def spread(files: list[Path], count: int) -> list[Path]:
    """``count`` files at evenly spaced ranks of size (one: the median), in name order."""
    by_size = sorted(files, key=lambda p: p.stat().st_size)
    picks = {by_size[int((i + 0.5) * len(by_size) / count)] for i in range(min(count, len(files)))}
    return sorted(picks)


def bench_midi(sizes: Sizes, workdir: Path) -> list[Row]:
    files, what = midi_files(sizes, workdir)
    skuli, paper = SkuliTokenizer(), PaperTokenizer()
    subset = spread(files, sizes.music21_files)
    music21_tokens(min(subset, key=lambda p: p.stat().st_size))  # imports and first-call set-up
    our_tokens(subset[0], skuli)
    timed = race_over(subset, lambda p: our_tokens(p, skuli), music21_tokens)  # file by file
    ours, theirs = ([r[i] for r in timed.rounds] for i in (0, 1))
    ratio = sum(theirs) / sum(ours)
    whole_skuli = seconds(lambda: [our_tokens(p, skuli) for p in files])
    whole_paper = seconds(lambda: [our_tokens(p, paper) for p in files])
    return [
        Row(
            SECTION,
            "MIDI prepare (parse+quantize+tokenize): ours vs music21",
            ratio,
            "x",
            ">= 50",
            f"ours {len(subset) / sum(ours):,.0f} files/s vs music21 "
            f"{len(subset) / sum(theirs):.2f} files/s on the same {len(subset)} files",
            {"files": [p.name for p in subset], "ours_s": ours, "music21_s": theirs, "data": what},
        ).timed(timed),
        Row(
            SECTION,
            "MIDI prepare, whole folder, one process (skuli tokens)",
            len(files) / whole_skuli,
            "files/s",
            detail=f"{len(files)} files; paper tokens: {len(files) / whole_paper:,.0f} files/s",
            extra={"data": what, "paper_files_per_s": len(files) / whole_paper},
        ),
    ]


def bench_prepared(sizes: Sizes) -> list[Row]:
    """Cold preparation of the JazzGPT data against loading it from the cache (a fresh module)."""
    module, what = jazz_data(sizes)
    cold = seconds(module.load_prepared)
    cached = statistics.median(
        seconds(lambda: jazz_data(sizes)[0].load_prepared()) for _ in range(sizes.repeats)
    )
    report = module.report
    return [
        Row(
            SECTION,
            f"JazzGPT data in {sizes.keys}: cached load",
            cached,
            "s",
            "< 1",
            f"cold prepare {cold:.1f} s ({cold / cached:,.0f}x slower); {sum(report['windows'].values()):,} windows",
            {"cold_s": cold, "data": what, "windows": report["windows"]},
        )
    ]
