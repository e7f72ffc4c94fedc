"""Piano-roll PNGs with matplotlib (Agg, no display needed): notes over a beat/bar grid."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from musicgen.music.records import LeadSheet, PianoScore, record_notes

Note = tuple[float, float, int]
"""(onset in beats, duration in beats, MIDI pitch)."""


def _chord_labels(chords: tuple[str, ...]) -> list[tuple[int, str]]:
    return [(beat, s) for beat, s in enumerate(chords) if beat == 0 or s != chords[beat - 1]]


def plot_piano_roll(
    record: LeadSheet | PianoScore | Iterable[Note],
    path: str | Path,
    title: str | None = None,
    beats_per_bar: int = 4,
) -> Path:
    """Save a piano roll; lead sheets also get their chord changes written along the top."""
    is_sheet = isinstance(record, LeadSheet)
    if isinstance(record, LeadSheet | PianoScore):
        notes = list(zip(*(a.tolist() for a in record_notes(record)), strict=True))
    else:
        notes = list(record)
    if is_sheet:
        beats_per_bar = record.beats_per_bar
    end = max([o + d for o, d, _ in notes] + [record.num_beats if is_sheet else 0, 1.0])
    pitches = [p for _, _, p in notes] or [60]
    low, high = min(pitches) - 2, max(pitches) + 2

    fig = Figure(figsize=(min(4 + end / 4, 40), 4 + (high - low) / 12), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for onset, duration, pitch in notes:
        ax.add_patch(
            Rectangle(
                (onset, pitch - 0.4),
                duration,
                0.8,
                facecolor="tab:blue",
                edgecolor="navy",
                zorder=2,
            )
        )
    for beat in range(int(end) + 1):
        is_bar = beat % beats_per_bar == 0
        ax.axvline(
            beat, color="0.3" if is_bar else "0.85", linewidth=1.0 if is_bar else 0.5, zorder=1
        )
    if is_sheet:
        for beat, symbol in _chord_labels(record.chords):
            ax.text(beat + 0.05, high + 0.5, symbol, fontsize=8, va="bottom", clip_on=False)
    ax.set_xlim(0, end)
    ax.set_ylim(low, high)
    ax.set_xlabel("beat")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title, pad=20 if is_sheet else 6)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path
