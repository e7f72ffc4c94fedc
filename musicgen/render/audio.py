"""Records -> mono 16-bit WAV: FluidSynth with a user soundfont when available, else a small
built-in additive synth (numpy only), so every run can produce something to listen to."""

from __future__ import annotations

import warnings
import wave
from pathlib import Path

import numpy as np
import pretty_midi

from musicgen.data.records import LeadSheet, PianoScore
from musicgen.render.midi import lead_sheet_to_pretty_midi, score_to_pretty_midi

HARMONICS = (1.0, 0.5, 0.25, 0.12)
"""Relative amplitudes of partials 1-4: a soft, piano-like timbre."""

DECAY_PER_SECOND = 3.0
ATTACK_S = 0.005
RELEASE_S = 0.05
PEAK = 0.9
"""Loudest sample after normalisation, as a fraction of full scale (leaves headroom)."""


def to_pretty_midi(
    record: LeadSheet | PianoScore, tempo: float = 120.0, comping: bool = True
) -> pretty_midi.PrettyMIDI:
    """Lead sheets get their chord comping (unless turned off) so the harmony is heard."""
    if isinstance(record, LeadSheet):
        return lead_sheet_to_pretty_midi(record, tempo, comping=comping)
    return score_to_pretty_midi(record, tempo)


def _num_samples(
    record: LeadSheet | PianoScore, midi: pretty_midi.PrettyMIDI, tempo: float, sample_rate: int
) -> int:
    beats = record.num_beats if isinstance(record, LeadSheet) else 0
    end = max(midi.get_end_time(), beats * 60.0 / tempo)
    return int(round(end * sample_rate)) + int(round(RELEASE_S * sample_rate))


def num_samples(
    record: LeadSheet | PianoScore, tempo: float = 120.0, sample_rate: int = 22050
) -> int:
    """Length of the built-in synth's output: the record's end (a lead sheet's end is its last
    chord beat or note, whichever is later) plus the release tail."""
    return _num_samples(record, to_pretty_midi(record, tempo), tempo, sample_rate)


def synthesize(midi: pretty_midi.PrettyMIDI, length: int, sample_rate: int) -> np.ndarray:
    """Additive synthesis of every note: decaying harmonics, short attack and release ramps."""
    out = np.zeros(length, dtype=np.float64)
    attack, release = int(ATTACK_S * sample_rate), int(RELEASE_S * sample_rate)
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        for note in instrument.notes:
            start = int(round(note.start * sample_rate))
            held = max(int(round((note.end - note.start) * sample_rate)), 1)
            n = min(held + release, length - start)
            if n <= 0:
                continue
            t = np.arange(n) / sample_rate
            freq = pretty_midi.note_number_to_hz(note.pitch)
            tone = sum(
                a * np.sin(2 * np.pi * freq * (h + 1) * t)
                for h, a in enumerate(HARMONICS)
                if freq * (h + 1) < sample_rate / 2
            )
            envelope = np.exp(-DECAY_PER_SECOND * t)
            envelope[:attack] *= np.linspace(0, 1, attack, endpoint=False)[: len(envelope)]
            tail = np.clip((held + release - np.arange(n)) / max(release, 1), 0, 1)
            out[start : start + n] += (note.velocity / 127) * tone * envelope * tail
    return out


def _fluidsynth(
    midi: pretty_midi.PrettyMIDI, sample_rate: int, soundfont: str | Path
) -> np.ndarray | None:
    try:
        return midi.fluidsynth(fs=sample_rate, sf2_path=str(soundfont))
    except (ImportError, OSError, RuntimeError, ValueError) as err:
        warnings.warn(f"FluidSynth unavailable ({err}); using the built-in synth", stacklevel=3)
        return None


def write_wav(samples: np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """Peak-normalise to ``PEAK`` of full scale and write mono 16-bit PCM."""
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    scaled = samples * (PEAK / peak) if peak > 0 else samples
    pcm = np.round(scaled * 32767).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(pcm.tobytes())
    return path


def render_wav(
    record: LeadSheet | PianoScore,
    path: str | Path,
    tempo: float = 120.0,
    sample_rate: int = 22050,
    soundfont: str | Path | None = None,
    comping: bool = True,
) -> Path:
    """Render a record to WAV: FluidSynth if ``soundfont`` works, else the built-in synth."""
    midi = to_pretty_midi(record, tempo, comping)
    samples = _fluidsynth(midi, sample_rate, soundfont) if soundfont is not None else None
    if samples is None:
        samples = synthesize(midi, _num_samples(record, midi, tempo, sample_rate), sample_rate)
    return write_wav(samples, path, sample_rate)
