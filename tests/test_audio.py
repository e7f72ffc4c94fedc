"""WAV rendering: a General MIDI SoundFont through FluidSynth, and the built-in fallback synth."""

import wave

import numpy as np
import pretty_midi
import pytest

from musicgen.music.records import LeadSheet
from musicgen.render import audio
from musicgen.render.audio import (
    BUNDLED_SOUNDFONT,
    TAIL_S,
    AudioRenderer,
    check_soundfont,
    choose_renderer,
    find_soundfont,
    num_samples,
    render_wav,
)

RATE = 22050
needs_fluidsynth = pytest.mark.skipif(
    audio.fluidsynth_program() is None,
    reason="fluidsynth is not installed (Debian: apt-get install fluidsynth; .ci/run installs it)",
)
# C major scale up, one beat each, over two bars of C7; then a bar's rest.
SCALE = LeadSheet(
    id="scale",
    pitches=np.array([60, 62, 64, 65, 67, 69, 71, 72, 0]),
    durations=np.array([24] * 8 + [96]),
    chords=("C7",) * 12,
)


def _read(path) -> np.ndarray:
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, RATE)
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2") / 32768


def _fundamental_ratio(samples: np.ndarray, pitch: int) -> float:
    """How many times the expected fundamental the strongest partial's spacing is: the spectrum's
    peaks of a note at ``pitch`` sit on multiples of its frequency."""
    segment = samples[2000 : 2000 + 8192] * np.hanning(8192)
    spectrum = np.abs(np.fft.rfft(segment, 65536))
    freqs = np.fft.rfftfreq(65536, 1 / RATE)
    spectrum[freqs < 60] = 0
    peak = freqs[int(np.argmax(spectrum))]
    return peak / pretty_midi.note_number_to_hz(pitch)


def _rms(samples: np.ndarray, start_s: float, end_s: float) -> float:
    part = samples[int(start_s * RATE) : int(end_s * RATE)]
    return float(np.sqrt(np.mean(part**2)))


@needs_fluidsynth
def test_soundfont_wav_of_a_known_melody_has_its_length_and_sounds_every_beat(tmp_path):
    renderer = AudioRenderer("fluidsynth", check_soundfont(BUNDLED_SOUNDFONT))
    path = render_wav(SCALE, tmp_path / "scale.wav", tempo=120, renderer=renderer, comping=False)
    samples = _read(path)
    assert len(samples) == num_samples(SCALE, 120, RATE) == round((6 + TAIL_S) * RATE)
    beats = [_rms(samples, b * 0.5 + 0.05, b * 0.5 + 0.45) for b in range(8)]
    assert min(beats) > 0.02, beats  # every note of the scale sounds
    assert _rms(samples, 5.0, 6.0) < min(beats) / 5  # and the final bar's rest is quiet


@needs_fluidsynth
@pytest.mark.parametrize("instrument", ["piano", "alto_sax", "trumpet"])
def test_soundfont_plays_each_instrument_at_its_pitch(tmp_path, instrument):
    a4 = LeadSheet(id="a4", pitches=np.array([69]), durations=np.array([48]), chords=("NC",) * 2)
    renderer = AudioRenderer("fluidsynth", BUNDLED_SOUNDFONT)
    path = render_wav(a4, tmp_path / "a4.wav", renderer=renderer, instrument=instrument)
    ratio = _fundamental_ratio(_read(path), 69)
    assert abs(ratio - round(ratio)) < 0.03 and round(ratio) >= 1, ratio


def test_builtin_synth_is_the_fallback_without_a_soundfont(tmp_path):
    assert choose_renderer("none") == AudioRenderer("builtin")
    path = render_wav(SCALE, tmp_path / "scale.wav", renderer=choose_renderer("none"))
    samples = _read(path)
    assert len(samples) == num_samples(SCALE, 120, RATE)
    assert min(_rms(samples, b * 0.5 + 0.05, b * 0.5 + 0.45) for b in range(8)) > 0.02


def test_builtin_synth_without_fluidsynth_even_when_a_soundfont_is_found(monkeypatch):
    monkeypatch.setattr(audio, "fluidsynth_program", lambda: None)
    assert choose_renderer(BUNDLED_SOUNDFONT).name == "builtin"


def test_builtin_instruments_differ_in_timbre_and_a_piano_note_decays(tmp_path):
    def note(instrument: str) -> np.ndarray:
        sheet = LeadSheet(id="n", pitches=np.array([57]), durations=np.array([96]), chords=("NC",) * 4)
        path = render_wav(sheet, tmp_path / f"{instrument}.wav", renderer=AudioRenderer("builtin"),
                          instrument=instrument)  # fmt: skip
        return _read(path)

    def centroid(samples: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(samples[: RATE // 2]))
        return float((np.fft.rfftfreq(RATE // 2 * 2, 1 / RATE)[: len(spectrum)] * spectrum).sum() / spectrum.sum())

    piano, sax, trumpet = note("piano"), note("alto_sax"), note("trumpet")
    assert _rms(piano, 1.5, 1.9) < _rms(piano, 0.05, 0.4) / 3  # a struck string dies away
    assert _rms(sax, 1.5, 1.9) > _rms(sax, 0.05, 0.4) / 2  # a blown note is held
    assert len({round(centroid(x), -1) for x in (piano, sax, trumpet)}) == 3
    assert min(centroid(x) for x in (piano, sax, trumpet)) > 1.3 * 220  # a sine's would be 220 Hz


def test_a_missing_or_broken_soundfont_is_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match=r"^soundfont=.*nope\.sf2: file not found$"):
        find_soundfont(tmp_path / "nope.sf2")
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"this is not a soundfont at all")
    with pytest.raises(ValueError, match=r"broken\.sf2: not a SoundFont \(\.sf2\) file$"):
        choose_renderer(broken)


def test_soundfont_search_order_setting_env_system_then_bundled(tmp_path, monkeypatch):
    system = tmp_path / "sf2"
    system.mkdir()
    monkeypatch.setattr(audio, "SOUNDFONT_DIRS", (str(system),))
    monkeypatch.delenv("MUSICGEN_SOUNDFONT", raising=False)
    assert find_soundfont() == BUNDLED_SOUNDFONT
    (system / "FluidR3_GM.sf2").write_bytes(BUNDLED_SOUNDFONT.read_bytes()[:64])
    assert find_soundfont("auto") == system / "FluidR3_GM.sf2"
    monkeypatch.setenv("MUSICGEN_SOUNDFONT", str(BUNDLED_SOUNDFONT))
    assert find_soundfont() == BUNDLED_SOUNDFONT
    assert find_soundfont("none") is None
