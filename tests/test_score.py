"""Keys, MIDI for a DAW, and sheet music: MusicXML a musician reads and the engraved SVG."""

import xml.etree.ElementTree as ET
from fractions import Fraction

import mido
import music21
import numpy as np
import pretty_midi
import pytest

from musicgen.music.key import Key, chord_weights, estimate_key, spell
from musicgen.music.records import LeadSheet, PianoScore
from musicgen.render import RenderSettings, render_all
from musicgen.render.midi import lead_sheet_to_midi, record_key, score_to_midi
from musicgen.render.musicxml import engraving_pieces, lead_sheet_to_musicxml
from musicgen.render.svg import musicxml_to_svg
from musicgen.sampling.progressions import resolve_chords

SVG_NS = "{http://www.w3.org/2000/svg}"


def _blues_sheet() -> LeadSheet:
    """An F blues whose melody has blue notes (Ab = MIDI 68, Eb = 63) and a long note across
    the middle of bar 1 (beat 1 to 3)."""
    chords = tuple(resolve_chords("blues"))
    pitches = [65, 68, 63, 0] + [65] * 40
    durations = [24, 48, 24, 96] + [24] * 40
    return LeadSheet(id="blues", pitches=np.array(pitches), durations=np.array(durations), chords=chords)


@pytest.mark.parametrize(
    ("progression", "key", "sharps"),
    [("blues", None, -1), ("rhythm_changes", None, -2), ("minor_blues", None, -3),
     ("autumn_leaves", None, 1), ("ii_v_i", None, 0), ("blues", "A", 3), ("rhythm_changes", "E", 4),
     ("minor_blues", "Eb", -6)],
)  # fmt: skip
def test_a_progressions_key_signature_is_its_key(progression, key, sharps):
    assert estimate_key(chord_weights(resolve_chords(progression, key=key))).sharps == sharps


def test_pitches_are_spelled_for_the_key_signature():
    assert [spell(pc, -1) for pc in (3, 8, 10, 6)] == ["Eb", "Ab", "Bb", "Gb"]
    assert [spell(pc, 2) for pc in (6, 1, 3)] == ["F#", "C#", "D#"]
    assert [spell(pc, 0) for pc in (10, 6)] == ["Bb", "F#"]
    assert Key(3, minor=True).name == "Eb minor" and Key(7).sharps == 1


def test_a_piano_piece_gets_its_analysed_key():
    d_major = [62, 64, 66, 67, 69, 71, 73, 74, 62, 66, 69]
    score = PianoScore(id="d", onsets=np.arange(11.0), durations=np.ones(11), pitches=np.array(d_major))
    assert record_key(score) == Key(2)


def test_midi_has_key_signature_chord_markers_and_the_instruments_programs(tmp_path):
    sheet = _blues_sheet()
    path = lead_sheet_to_midi(sheet, tmp_path / "blues.mid", instrument="trumpet", accents=True)
    midi = pretty_midi.PrettyMIDI(str(path))
    assert [k.key_number for k in midi.key_signature_changes] == [5]  # F major
    assert [(i.name, i.program) for i in midi.instruments] == [("Trumpet", 56), ("Piano (chords)", 0)]
    markers = [(m.text, t) for m, t in _timed(mido.MidiFile(str(path)).tracks[0]) if m.type == "marker"]
    per_beat = mido.MidiFile(str(path)).ticks_per_beat
    assert [text for text, _ in markers][:5] == ["F7", "Bb7", "F7", "C-7", "F7"]
    assert [t // per_beat for _, t in markers][:5] == [0, 4, 8, 12, 14]
    velocities = [n.velocity for n in midi.instruments[0].notes[:3]]
    assert velocities[0] > velocities[1] == velocities[2]  # beat 1 accented, beats 2 and 4 not


def _timed(track):
    now = 0
    for message in track:
        now += message.time
        yield message, now


def test_velocity_accents_are_off_by_default_and_an_unknown_instrument_is_named(tmp_path):
    sheet = _blues_sheet()
    midi = pretty_midi.PrettyMIDI(str(lead_sheet_to_midi(sheet, tmp_path / "b.mid")))
    assert len({n.velocity for n in midi.instruments[0].notes}) == 1
    with pytest.raises(ValueError, match="instrument=kazoo: unknown; choose one of alto_sax"):
        lead_sheet_to_midi(sheet, tmp_path / "x.mid", instrument="kazoo")
    score = PianoScore(id="p", onsets=np.array([0.0, 0.5]), durations=np.ones(2), pitches=np.array([60, 64]))
    notes = pretty_midi.PrettyMIDI(str(score_to_midi(score, tmp_path / "p.mid", accents=True))).instruments[0].notes
    assert notes[0].velocity > notes[1].velocity


@pytest.mark.parametrize(
    ("start", "length", "pieces"),
    [(0, 3, [3]), (1, 2, [1, 1]), (Fraction(1, 2), 1, [Fraction(1, 2), Fraction(1, 2)]),
     (3, 2, [1, 1]), (2, 4, [2, 2]), (0, 8, [4, 4]), (Fraction(5, 2), Fraction(1, 2), [Fraction(1, 2)]),
     (0, Fraction(5, 6), [Fraction(2, 3), Fraction(1, 6)]), (0, Fraction(7, 6), [1, Fraction(1, 6)]),
     (Fraction(1, 6), Fraction(11, 6), [Fraction(2, 3), Fraction(1, 6), 1]), (0, Fraction(9, 4), [2, Fraction(1, 4)])],
)  # fmt: skip
def test_notes_are_split_where_engravers_tie_them(start, length, pieces):
    assert engraving_pieces(Fraction(start), Fraction(length), 4) == pieces


def test_musicxml_round_trips_with_key_part_name_title_spelling_and_ties(tmp_path):
    path = lead_sheet_to_musicxml(
        _blues_sheet(), tmp_path / "blues.musicxml", instrument="tenor_sax", title="blues in F"
    )
    score = music21.converter.parse(path)
    part = score.parts[0]
    assert [k.sharps for k in part.recurse().getElementsByClass(music21.key.KeySignature)] == [-1]
    assert part.partName == "Tenor Sax" and score.metadata.bestTitle == "blues in F"
    notes = list(part.recurse().getElementsByClass(music21.note.Note))
    assert [n.pitch.name for n in notes[:4]] == ["F", "A-", "A-", "E-"]  # not G#, D#
    assert (notes[1].tie.type, notes[2].tie.type) == ("start", "stop")  # beat 2-3 split at the middle
    assert [n.offset for n in notes[1:3]] == [1.0, 2.0]
    symbols = part.flatten().getElementsByClass(music21.harmony.ChordSymbol)
    assert [s.root().name for s in symbols[:2]] == ["F", "B-"]


def _svg_counts(path) -> tuple[int, int]:
    root = ET.parse(path).getroot()  # parses as XML, so a browser shows it
    assert root.tag == f"{SVG_NS}svg"
    classes = [el.get("class", "") for el in root.iter(f"{SVG_NS}g")]
    return sum(c.split()[:1] == ["measure"] for c in classes), sum(c.split()[:1] == ["staff"] for c in classes)


def test_svg_engraves_every_bar_of_a_lead_sheet_with_its_chord_symbols(tmp_path):
    paths = render_all(_blues_sheet(), tmp_path, "blues", formats=("svg",), settings=RenderSettings(title="F blues"))
    assert list(paths) == ["svg"] and not (tmp_path / "blues.musicxml").exists()
    measures, staves = _svg_counts(paths["svg"])
    assert (measures, staves) == (12, 12)
    text = paths["svg"].read_text()
    assert text.count('class="harm"') >= 15 and "F blues" in text


def test_svg_puts_a_piano_piece_on_a_grand_staff(tmp_path):
    score = PianoScore(
        id="p", onsets=np.array([0.0, 0.0, 4.0, 4.0]), durations=np.full(4, 4.0), pitches=np.array([48, 64, 43, 67])
    )
    paths = render_all(score, tmp_path, "p", formats=("musicxml", "svg"))
    assert _svg_counts(paths["svg"]) == (2, 4)  # two bars, two staves each


def test_a_long_piece_stacks_its_pages_into_one_svg(tmp_path, monkeypatch):
    from musicgen.render import svg

    monkeypatch.setitem(svg.SVG_OPTIONS, "pageHeight", 300)
    monkeypatch.setitem(svg.SVG_OPTIONS, "adjustPageHeight", False)
    xml = lead_sheet_to_musicxml(_blues_sheet(), tmp_path / "b.musicxml")
    out = musicxml_to_svg(xml, tmp_path / "b.svg")
    assert _svg_counts(out)[0] == 12
    pages = ET.parse(out).getroot().findall(f"{SVG_NS}svg")
    tops = [float(page.get("y")) for page in pages]
    assert len(pages) >= 2 and tops == sorted(tops) and len(set(tops)) == len(tops)


def test_generated_rhythms_are_written_without_odd_tuplets(tmp_path):
    rng = np.random.default_rng(0)
    durations = rng.integers(1, 40, 80)
    sheet = LeadSheet(id="r", pitches=rng.integers(55, 80, 80), durations=durations,
                      chords=("C7",) * int(np.ceil(durations.sum() / 24)))  # fmt: skip
    part = music21.converter.parse(lead_sheet_to_musicxml(sheet, tmp_path / "r.musicxml")).parts[0]
    ratios = {(t.numberNotesActual, t.numberNotesNormal) for n in part.recurse().notesAndRests for t in n.duration.tuplets}
    assert ratios <= {(3, 2)}
