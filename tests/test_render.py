import struct
import wave
from fractions import Fraction

import music21
import numpy as np
import pretty_midi
import pytest

from musicgen.music.records import LeadSheet, PianoScore
from musicgen.paths import shared_data_dir
from musicgen.render import render_all
from musicgen.render.audio import PEAK, TAIL_S, AudioRenderer, num_samples, render_wav
from musicgen.render.midi import comping_pitches, lead_sheet_to_midi, score_to_midi
from musicgen.render.musicxml import chord_symbol, lead_sheet_to_musicxml, score_to_musicxml, snap
from musicgen.render.pianoroll import plot_piano_roll

# beats 0-6: C, eighth rest, G, eighth triplets C D E, a beat's rest, a half-note Bb; 8 chord beats
SHEET = LeadSheet(
    id="tiny",
    pitches=np.array([60, 0, 67, 60, 62, 64, 0, 70]),
    durations=np.array([24, 12, 12, 8, 8, 8, 24, 48]),
    chords=("C7", "C7", "F-7", "F-7", "NC", "Bb79b/D", "Bb79b/D", "Bb79b/D"),
)
SCORE = PianoScore(
    id="piano",
    onsets=np.array([0.0, 0.0, 0.0, 1.0, 1.5, 2.0, 2.0]),
    durations=np.array([1.0, 2.0, 1.0, 0.5, 0.5, 2.0, 2.0]),
    pitches=np.array([48, 64, 67, 65, 64, 43, 72]),
    velocities=np.array([70, 80, 80, 90, 90, 60, 100]),
)


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_lead_sheet_midi_opens_in_pretty_midi_and_music21(tmp_path):
    path = lead_sheet_to_midi(SHEET, tmp_path / "sheet.mid", tempo=120)
    melody, comping = pretty_midi.PrettyMIDI(str(path)).instruments
    assert [n.pitch for n in melody.notes] == [60, 67, 60, 62, 64, 70]
    starts = [round(n.start, 4) for n in melody.notes]
    assert starts == [0.0, 0.75, 1.0, round(1 + 1 / 6, 4), round(1 + 2 / 6, 4), 2.0]
    assert melody.notes[-1].end == pytest.approx(3.0)
    assert len(music21.converter.parse(path).parts) == 2


def test_comping_sounds_each_chord_change_in_the_c3_octave(tmp_path):
    path = lead_sheet_to_midi(SHEET, tmp_path / "sheet.mid", tempo=60)
    comping = pretty_midi.PrettyMIDI(str(path)).instruments[1]
    by_start: dict[float, list[int]] = {}
    for n in comping.notes:
        by_start.setdefault(round(n.start, 3), []).append(n.pitch)
        assert 48 <= n.pitch < 60
    assert sorted(by_start) == [0.0, 2.0, 5.0]  # NC on beat 4 sounds nothing
    assert sorted(by_start[0.0]) == comping_pitches("C7") == [48, 52, 55, 58]
    assert max(n.end for n in comping.notes) == pytest.approx(8.0)


def test_lead_sheet_midi_without_comping_has_only_the_melody(tmp_path):
    path = lead_sheet_to_midi(SHEET, tmp_path / "solo.mid", comping=False)
    assert len(pretty_midi.PrettyMIDI(str(path)).instruments) == 1


def test_score_midi_keeps_times_pitches_and_velocities(tmp_path):
    path = score_to_midi(SCORE, tmp_path / "score.mid", tempo=120)
    notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    written = sorted((round(n.start, 4), n.pitch, n.velocity) for n in notes)
    expected = zip(SCORE.onsets * 0.5, SCORE.pitches, SCORE.velocities, strict=True)
    assert written == sorted((round(float(s), 4), int(p), int(v)) for s, p, v in expected)
    assert music21.converter.parse(path).highestTime == pytest.approx(4.0)


def test_midi_rejects_an_out_of_range_pitch_naming_the_record(tmp_path):
    bad = SCORE.with_(id="broken", pitches=np.array([48, 64, 67, 65, 64, 43, 130]))
    with pytest.raises(ValueError, match="broken: pitch 130"):
        score_to_midi(bad, tmp_path / "bad.mid")


@pytest.mark.parametrize(
    "ticks, beats",
    [(6, Fraction(1, 4)), (8, Fraction(1, 3)), (4, Fraction(1, 6)), (1, 0), (7, Fraction(1, 3))],
)
def test_snap_moves_onsets_to_sixteenths_or_sextuplets(ticks, beats):
    assert snap(Fraction(ticks, 24)) == beats


def test_lead_sheet_musicxml_has_notes_rests_and_chord_symbols(tmp_path):
    path = lead_sheet_to_musicxml(SHEET, tmp_path / "sheet.musicxml")
    part = music21.converter.parse(path).parts[0]
    assert [n.pitch.midi for n in part.recurse().getElementsByClass(music21.note.Note)] == [
        60,
        67,
        60,
        62,
        64,
        70,
    ]
    rests = part.recurse().getElementsByClass(music21.note.Rest)
    assert sum(r.quarterLength for r in rests) == 0.5 + 1 + 2  # the last 2: padding to beat 8
    symbols = part.flatten().getElementsByClass(music21.harmony.ChordSymbol)
    assert [s.offset for s in symbols] == [0.0, 2.0, 4.0, 5.0]
    assert isinstance(symbols[2], music21.harmony.NoChord)
    assert symbols[3].root().name == "B-" and symbols[3].bass().name == "D"
    assert symbols[3].chordKindStr == "7(b9)"
    assert part.recurse().getElementsByClass(music21.note.Note)[2].duration.tuplets


def test_chord_symbol_falls_back_to_text_for_unparseable_chords():
    assert isinstance(chord_symbol("H#7blah"), music21.expressions.TextExpression)
    assert chord_symbol("C-j7").chordKind == "minor-major-seventh"
    assert chord_symbol("Ebsus7").chordKindStr == "7sus"


def test_musicxml_survives_random_melodies_on_the_fine_grid(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    sheet = LeadSheet(
        id="random",
        pitches=np.where(rng.random(n) < 0.2, 0, rng.integers(50, 85, n)),
        durations=rng.integers(1, 40, n),
        chords=("C7", "Xyz", "G7alt", "D-69", "Ab+j7", "Fo7") * 10,
    )
    path = lead_sheet_to_musicxml(sheet, tmp_path / "random.musicxml")
    part = music21.converter.parse(path).parts[0]
    assert part.highestTime >= sheet.num_beats
    assert any(
        e.content == "Xyz"
        for e in part.recurse().getElementsByClass(music21.expressions.TextExpression)
    )


def test_score_musicxml_puts_hands_on_two_staves_as_chords(tmp_path):
    path = score_to_musicxml(SCORE, tmp_path / "score.musicxml")
    parsed = music21.converter.parse(path)
    assert len(parsed.parts) == 2
    treble = {p.midi for p in parsed.parts[0].flatten().pitches}
    bass = {p.midi for p in parsed.parts[1].flatten().pitches}
    assert treble == {64, 65, 67, 72} and bass == {43, 48}
    first = parsed.parts[0].recurse().getElementsByClass(music21.chord.Chord)[0]
    assert {p.midi for p in first.pitches} == {64, 67}


def test_piano_roll_png_is_a_real_image_for_records_and_note_lists(tmp_path):
    for name, notes in (
        ("sheet", SHEET),
        ("score", SCORE),
        ("list", [(0.0, 1.0, 60), (1.0, 0.5, 64)]),
    ):
        path = plot_piano_roll(notes, tmp_path / f"{name}.png", title=name)
        width, height = _png_size(path)
        assert width > 200 and height > 200, name


def test_wav_has_the_expected_length_and_is_normalised(tmp_path):
    builtin = AudioRenderer("builtin")
    path = render_wav(SHEET, tmp_path / "sheet.wav", tempo=120, sample_rate=8000, renderer=builtin)
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 8000)
        frames = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    expected = 8 * 0.5 * 8000 + round(TAIL_S * 8000)  # 8 beats at 120 BPM, plus the tail
    assert len(frames) == expected == num_samples(SHEET, 120, 8000)
    assert np.abs(frames).max() == round(PEAK * 32767)
    assert np.count_nonzero(frames) > len(frames) // 2


def test_render_all_writes_every_format_for_both_record_types(tmp_path):
    for record in (SHEET, SCORE):
        paths = render_all(record, tmp_path, record.id)
        assert sorted(paths) == ["mid", "musicxml", "png", "svg", "wav"]
        assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
        assert all(p.name == f"{record.id}.{fmt}" for fmt, p in paths.items())
    with pytest.raises(ValueError, match="valid: mid, musicxml, svg, png, wav"):
        render_all(SHEET, tmp_path, "x", formats=("mp3",))


def test_real_piano_midi_renders_to_musicxml(tmp_path):
    source = shared_data_dir() / "ff_midi" / "ff4-town.mid"
    if not source.exists():
        pytest.skip(f"shared data not found: {source}")
    midi = pretty_midi.PrettyMIDI(str(source))
    notes = sorted((n for i in midi.instruments for n in i.notes), key=lambda n: n.start)[:150]
    to_beats = lambda s: float(midi.time_to_tick(s)) / midi.resolution  # noqa: E731
    score = PianoScore(
        id="ff4-town",
        onsets=np.array([to_beats(n.start) for n in notes]),
        durations=np.array([max(to_beats(n.end) - to_beats(n.start), 0.01) for n in notes]),
        pitches=np.array([n.pitch for n in notes]),
    )
    parsed = music21.converter.parse(score_to_musicxml(score, tmp_path / "real.musicxml"))
    assert {p.midi for p in parsed.flatten().pitches} == set(score.pitches.tolist())
