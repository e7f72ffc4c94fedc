"""Records -> mono 16-bit WAV.

With a General MIDI SoundFont the MIDI is played by FluidSynth (the ``fluidsynth`` program), so
the melody sounds like its instrument and the comping like a piano. Without one (or without
FluidSynth) a built-in synth (numpy only) plays every note with its instrument's envelope and
partials, so every run still has something to listen to.

symusic's synthesizer is not used: 0.6.0 cannot hand its audio back to Python (a TypeError on
every render) and 0.5.9 plays the TimGM6mb piano at wrong pitches (A3 sounds near B4).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from musicgen.music.records import LeadSheet, PianoScore
from musicgen.render.midi import lead_sheet_to_pretty_midi, score_to_pretty_midi

TAIL_S = 0.5
"""Seconds of audio after the record's end, so the last notes ring out."""
PEAK = 0.9
"""Loudest sample after normalisation, as a fraction of full scale (leaves headroom)."""

SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/share/sounds/sf3")
PREFERRED_SOUNDFONTS = ("FluidR3_GM.sf2", "TimGM6mb.sf2", "default-GM.sf2")
BUNDLED_SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
"""pretty_midi ships a small GM SoundFont, so one always exists where the package is installed."""


@dataclass(frozen=True)
class Timbre:
    """How the built-in synth plays one instrument family."""

    partials: tuple[float, ...]
    """Relative amplitudes of harmonics 1, 2, 3, ..."""
    attack_s: float
    decay_per_s: float
    """Exponential decay of a held note (0: it sustains)."""
    partial_decay: float
    """Extra decay per partial number: upper partials fade first, as on a struck string."""
    release_s: float
    vibrato_hz: float = 0.0
    vibrato_cents: float = 0.0


TIMBRES = {
    "piano": Timbre((1.0, 0.6, 0.35, 0.25, 0.18, 0.1, 0.07, 0.05, 0.03), 0.004, 1.6, 0.45, 0.12),
    "reed": Timbre(
        (1.0, 0.8, 0.55, 0.5, 0.35, 0.3, 0.22, 0.18, 0.12, 0.1, 0.07, 0.05),
        0.035, 0.15, 0.02, 0.08, vibrato_hz=5.0, vibrato_cents=12,
    ),
    "brass": Timbre(
        (1.0, 0.9, 0.8, 0.65, 0.5, 0.4, 0.3, 0.22, 0.16, 0.12, 0.08, 0.05),
        0.05, 0.1, 0.0, 0.06, vibrato_hz=5.5, vibrato_cents=8,
    ),
}


def timbre_of(program: int) -> Timbre:
    """General MIDI families: 56-63 brass, 64-79 reeds and pipes, everything else a piano."""
    if 56 <= program <= 63:
        return TIMBRES["brass"]
    if 64 <= program <= 79:
        return TIMBRES["reed"]
    return TIMBRES["piano"]


def to_pretty_midi(
    record: LeadSheet | PianoScore,
    tempo: float = 120.0,
    comping: bool = True,
    instrument: str = "alto_sax",
) -> pretty_midi.PrettyMIDI:
    """Lead sheets get their chord comping (unless turned off) so the harmony is heard."""
    if isinstance(record, LeadSheet):
        return lead_sheet_to_pretty_midi(record, tempo, comping=comping, instrument=instrument)
    return score_to_pretty_midi(record, tempo)


def num_samples(
    record: LeadSheet | PianoScore, tempo: float = 120.0, sample_rate: int = 22050
) -> int:
    """Length of every WAV of a record: its end (a lead sheet's end is its last chord beat or
    note, whichever is later) plus ``TAIL_S``."""
    midi = to_pretty_midi(record, tempo, comping=False)
    beats = record.num_beats if isinstance(record, LeadSheet) else 0
    end = max(midi.get_end_time(), beats * 60.0 / tempo)
    return int(round((end + TAIL_S) * sample_rate))


def _note_tone(note: pretty_midi.Note, timbre: Timbre, n: int, held: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    freq = pretty_midi.note_number_to_hz(note.pitch)
    phase = 2 * np.pi * freq * t
    if timbre.vibrato_cents:
        # vibrato fades in after the attack, as a player's does
        depth = timbre.vibrato_cents / 1200 * np.log(2) * np.clip(t / 0.3, 0, 1)
        phase += depth * freq / timbre.vibrato_hz * np.sin(2 * np.pi * timbre.vibrato_hz * t)
    tone = np.zeros(n)
    for h, amp in enumerate(timbre.partials, start=1):
        if freq * h >= sr / 2:
            break
        tone += amp * np.exp(-timbre.partial_decay * (h - 1) * t) * np.sin(h * phase)
    attack = max(int(timbre.attack_s * sr), 1)
    release = max(int(timbre.release_s * sr), 1)
    envelope = np.exp(-timbre.decay_per_s * t) * np.clip(np.arange(n) / attack, 0, 1)
    envelope *= np.clip((held + release - np.arange(n)) / release, 0, 1)
    return (note.velocity / 127) ** 1.5 * tone * envelope


def synthesize(midi: pretty_midi.PrettyMIDI, length: int, sample_rate: int) -> np.ndarray:
    """The built-in synth: each note's partials under its instrument's envelope."""
    out = np.zeros(length, dtype=np.float64)
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        timbre = timbre_of(instrument.program)
        for note in instrument.notes:
            start = int(round(note.start * sample_rate))
            held = max(int(round((note.end - note.start) * sample_rate)), 1)
            n = min(held + int(timbre.release_s * sample_rate), length - start)
            if n > 0:
                out[start : start + n] += _note_tone(note, timbre, n, held, sample_rate)
    return out


def check_soundfont(path: str | Path) -> Path:
    """The path of a readable SoundFont (a RIFF file of form ``sfbk``), else a one-line error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"soundfont={path}: file not found")
    with path.open("rb") as f:
        header = f.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ValueError(f"soundfont={path}: not a SoundFont (.sf2) file")
    return path


def find_soundfont(setting: str | Path | None = None) -> Path | None:
    """Which SoundFont to play with: ``setting`` (``none`` = the built-in synth), else
    ``$MUSICGEN_SOUNDFONT``, else a General MIDI SoundFont in the system folders, else the one
    bundled with pretty_midi. A path that is given but missing or broken is an error."""
    if setting is not None and str(setting).lower() in ("none", "builtin", "false", ""):
        return None
    if setting is None or str(setting) == "auto":
        setting = os.environ.get("MUSICGEN_SOUNDFONT") or None
    if setting is not None:
        return check_soundfont(setting)
    for folder in map(Path, SOUNDFONT_DIRS):
        found = sorted(folder.glob("*.sf2")) if folder.is_dir() else []
        for name in PREFERRED_SOUNDFONTS:
            if folder / name in found:
                return folder / name
        if found:
            return found[0]
    return BUNDLED_SOUNDFONT if BUNDLED_SOUNDFONT.is_file() else None


def fluidsynth_program() -> str | None:
    return shutil.which("fluidsynth")


@dataclass(frozen=True)
class AudioRenderer:
    """What makes the WAV files: ``fluidsynth`` with ``soundfont``, or the ``builtin`` synth."""

    name: str
    soundfont: Path | None = None

    def describe(self) -> dict[str, str | None]:
        return {"renderer": self.name, "soundfont": None if self.soundfont is None else str(self.soundfont)}


def choose_renderer(soundfont: str | Path | None = None) -> AudioRenderer:
    """FluidSynth when a SoundFont is found and the program is installed, else the built-in synth."""
    found = find_soundfont(soundfont)
    if found is None or fluidsynth_program() is None:
        return AudioRenderer("builtin")
    return AudioRenderer("fluidsynth", found)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as f:
        channels, rate, width = f.getnchannels(), f.getframerate(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if width != 2:
        raise RuntimeError(f"fluidsynth wrote {8 * width}-bit audio; expected 16-bit")
    frames = np.frombuffer(data, dtype="<i2").reshape(-1, channels).astype(np.float64)
    return frames.mean(axis=1) / 32768, rate


def play_with_fluidsynth(
    midi: pretty_midi.PrettyMIDI, soundfont: Path, sample_rate: int
) -> np.ndarray:
    """Run the ``fluidsynth`` program on the MIDI; mono samples at ``sample_rate``."""
    program = fluidsynth_program()
    if program is None:
        raise RuntimeError("fluidsynth is not installed (Debian: apt-get install fluidsynth)")
    with tempfile.TemporaryDirectory(prefix="musicgen-fs-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi.write(str(mid))
        command = [program, "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-T", "wav",
                   "-O", "s16", "-F", str(wav), str(soundfont), str(mid)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not wav.is_file():
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise RuntimeError(f"fluidsynth failed on {soundfont}: {reason[-1] if reason else result.returncode}")
        samples, rate = _read_wav(wav)
    if rate != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz audio; asked for {sample_rate} Hz")
    return samples


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad to ``length`` samples, fading the last ``TAIL_S`` out when cutting."""
    if len(samples) < length:
        return np.pad(samples, (0, length - len(samples)))
    out = samples[:length].copy()
    if len(samples) > length:
        fade = min(length, 2205)
        out[length - fade :] *= np.linspace(1, 0, fade)
    return out


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
    renderer: AudioRenderer | None = None,
    comping: bool = True,
    instrument: str = "alto_sax",
) -> Path:
    """Render a record to WAV with ``renderer`` (default: ``choose_renderer()``); every renderer
    gives the same length, ``num_samples``."""
    renderer = renderer or choose_renderer()
    midi = to_pretty_midi(record, tempo, comping, instrument)
    length = num_samples(record, tempo, sample_rate)
    if renderer.name == "fluidsynth" and renderer.soundfont is not None:
        samples = play_with_fluidsynth(midi, renderer.soundfont, sample_rate)
    else:
        samples = synthesize(midi, length, sample_rate)
    return write_wav(fit_length(samples, length), path, sample_rate)

