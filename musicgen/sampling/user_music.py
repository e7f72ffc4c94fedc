"""The user's own music as input: chords from a lead-sheet file, a phrase to continue from MIDI.

``chords=tune.musicxml`` (``.xml``, ``.mxl``) reads the chord symbols (``<harmony>``) and the
time signature of a MusicXML lead sheet, as notation programs export it; ``chords=tune.mid``
reads chord symbols from marker, text, cue or lyric events (musicgen's own MIDI files carry a
marker at every chord change). Either gives one chord per beat, the chord sounding at the beat
(a change within a beat counts from the nearest beat), ``NC`` before the first symbol.

``primer=phrase.mid`` is a MIDI phrase: MAR-Y and the LSTM continue it, tokenized with the
checkpoint's own tokenizer; JazzGPT takes its top line as the start of the melody over the chords.

Every problem with a file is one line naming the file (and the bar or symbol).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree

import mido
import numpy as np

from musicgen.data.midi import parse_midi_file
from musicgen.data.vocab import Vocabulary
from musicgen.errors import UserError, shorten
from musicgen.music.chords import NC, ChordParseError, canonical
from musicgen.music.pitch import FLAT_NAMES
from musicgen.music.quantize import quantize_melody
from musicgen.music.records import PianoScore
from musicgen.music.tokens import melody_token, parse_melody_token

MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
MIDI_SUFFIXES = (".mid", ".midi")

# MusicXML <kind> values -> canonical (WJD) qualities; degrees then add tensions
_KIND_QUALITY = {
    "major": "", "minor": "-", "augmented": "+", "diminished": "o", "dominant": "7",
    "major-seventh": "j7", "minor-seventh": "-7", "diminished-seventh": "o7",
    "augmented-seventh": "+7", "half-diminished": "m7b5", "major-minor": "-j7",
    "major-sixth": "6", "minor-sixth": "-6", "dominant-ninth": "79", "major-ninth": "j79",
    "minor-ninth": "-79", "dominant-11th": "7911", "major-11th": "j7911", "minor-11th": "-7911",
    "dominant-13th": "7913", "major-13th": "j7913", "minor-13th": "-7913",
    "suspended-fourth": "sus", "power": "",
    "suspended-fourth-seventh": "sus7", "augmented-major-seventh": "+j7",  # music21 writes these
}  # fmt: skip
_NO_CHORD_KINDS = ("none", "pedal")
_STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class LeadSheetFileError(UserError, ValueError):
    """A lead sheet or phrase file that cannot be read, named with what is wrong."""


def _pitch_name(step: str | None, alter: str | None, where: str) -> str:
    if step not in _STEP_PC:
        raise LeadSheetFileError(f"{where}: a chord root or bass step {step!r} is not A-G")
    return FLAT_NAMES[(_STEP_PC[step] + round(float(alter or 0))) % 12]


def _text(element: ElementTree.Element, path: str) -> str | None:
    found = element.find(path)
    return None if found is None or found.text is None else found.text.strip()


def _harmony_symbol(harmony: ElementTree.Element, where: str) -> str:
    """A ``<harmony>`` element as a canonical chord symbol.

    The symbol is built from ``<kind>`` and its ``<degree>`` alterations. Programs that write
    the tensions only in the kind's ``text`` (music21 does: ``<kind text="7(b9, 13)">``) are read
    from that text when it parses as the same kind of chord with more in it."""
    kind_element = harmony.find("kind")
    kind = (kind_element.text or "").strip() if kind_element is not None else "none"
    if kind in _NO_CHORD_KINDS:
        return NC
    if kind not in _KIND_QUALITY:
        raise LeadSheetFileError(f"{where}: chord kind {kind!r} has no symbol musicgen knows")
    root = _pitch_name(_text(harmony, "root/root-step"), _text(harmony, "root/root-alter"), where)
    bass_step = _text(harmony, "bass/bass-step")
    bass = "" if bass_step is None else "/" + _pitch_name(bass_step, _text(harmony, "bass/bass-alter"), where)
    quality = _KIND_QUALITY[kind]
    tensions = ""
    for degree in harmony.findall("degree"):
        value, alter = _text(degree, "degree-value"), round(float(_text(degree, "degree-alter") or 0))
        kind_of_change = _text(degree, "degree-type")
        if value == "7" and kind_of_change == "add" and quality == "sus":
            quality = "sus7"
        elif value == "5" and alter == 1 and quality == "7":
            quality = "+7"
        elif value in ("9", "11", "13") and kind_of_change in ("add", "alter"):
            tensions += value + {-1: "b", 0: "", 1: "#"}.get(alter, "")
        else:
            raise LeadSheetFileError(
                f"{where}: {root} {kind} with degree {kind_of_change} {value} (alter {alter}) "
                "has no symbol musicgen knows"
            )
    if tensions and quality in ("", "-", "6", "-6"):
        quality = {"": "7", "-": "-7"}.get(quality, quality)
    symbol = root + quality + tensions + bass
    try:
        chosen = canonical(symbol)
    except ChordParseError as error:
        raise LeadSheetFileError(f"{where}: chord {symbol!r} does not read ({error.reason or 'unknown'})") from None
    text = kind_element.get("text") if kind_element is not None else None
    if text and not tensions:
        try:
            written = canonical(root + text + bass)
        except ChordParseError:
            return chosen
        base = chosen.split("/")[0]
        if written.startswith(base) and len(written.split("/")[0]) > len(base):
            return written
    return chosen


def _musicxml_root(path: Path) -> ElementTree.Element:
    """The score element of a ``.musicxml``/``.xml`` file or of a compressed ``.mxl``."""
    try:
        if path.suffix.lower() == ".mxl":
            with zipfile.ZipFile(path) as archive:
                container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
                rootfile = container.find(".//rootfile")
                if rootfile is None or not rootfile.get("full-path"):
                    raise LeadSheetFileError(f"{path}: the .mxl archive names no score file")
                return ElementTree.fromstring(archive.read(rootfile.get("full-path")))
        return ElementTree.parse(path).getroot()
    except (zipfile.BadZipFile, KeyError) as error:
        raise LeadSheetFileError(f"{path}: not a compressed MusicXML (.mxl) file ({error})") from None
    except ElementTree.ParseError as error:
        raise LeadSheetFileError(f"{path}: not MusicXML ({error})") from None


def _check_bar(path: Path, beats: float, beats_per_bar: int, where: str) -> None:
    if not math.isclose(beats, beats_per_bar):
        raise LeadSheetFileError(
            f"{where}: the time signature has {beats:g} quarter-note beats a bar, but this model "
            f"plays {beats_per_bar}"
        )


def _per_beat(changes: list[tuple[float, str]], total_beats: float, source: Path) -> list[str]:
    """Chord changes (beat, symbol) -> the chord sounding at each beat; NC before the first."""
    if not changes:
        raise LeadSheetFileError(f"{source}: no chord symbols found")
    beats = max(1, math.ceil(total_beats - 1e-9))
    out = [NC] * beats
    for beat, symbol in sorted(changes, key=lambda c: c[0]):
        first = min(beats - 1, math.floor(beat + 0.5))
        out[first:] = [symbol] * (beats - first)
    return out


def musicxml_chords(path: Path, beats_per_bar: int) -> list[str]:
    """One chord per beat from the first part of a MusicXML file that has chord symbols."""
    root = _musicxml_root(path)
    parts = [p for p in root.iter("part") if p.find(".//harmony") is not None]
    if root.tag == "score-timewise":
        raise LeadSheetFileError(f"{path}: timewise MusicXML is not read; export it partwise")
    if not parts:
        raise LeadSheetFileError(f"{path}: no chord symbols (<harmony> elements) found")
    divisions, bar_beats = 1.0, float(beats_per_bar)
    start, changes = 0.0, []
    for number, measure in enumerate(parts[0].iter("measure"), start=1):
        where = f"{path}, bar {measure.get('number', number)}"
        position = furthest = 0.0  # in divisions from the start of the bar
        for element in measure:
            if element.tag == "attributes":
                divisions = float(_text(element, "divisions") or divisions)
                time = element.find("time")
                if time is not None and _text(time, "beats") is not None:
                    beats = sum(float(b) for b in (_text(time, "beats") or "0").split("+"))
                    bar_beats = beats * 4 / float(_text(time, "beat-type") or 4)
                    _check_bar(path, bar_beats, beats_per_bar, where)
            elif element.tag == "harmony":
                offset = float(_text(element, "offset") or 0)
                changes.append((start + (position + offset) / divisions, _harmony_symbol(element, where)))
            elif element.tag == "note" and element.find("chord") is None and element.find("grace") is None:
                position += float(_text(element, "duration") or 0)
            elif element.tag == "backup":
                position -= float(_text(element, "duration") or 0)
            elif element.tag == "forward":
                position += float(_text(element, "duration") or 0)
            furthest = max(furthest, position)
        start += furthest / divisions if furthest > 0 else bar_beats
    return _per_beat(changes, start, path)


def midi_chords(path: Path, beats_per_bar: int) -> list[str]:
    """One chord per beat from a MIDI file's marker, text, cue or lyric events that are chord
    symbols (other texts, such as section names, are passed over). The tune lasts to the bar
    in which its last note ends (the end-of-track event often comes later)."""
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError, KeyError, IndexError) as error:
        raise LeadSheetFileError(f"{path}: not a readable MIDI file ({shorten(str(error))})") from None
    if midi.type == 2 or midi.ticks_per_beat <= 0:
        raise LeadSheetFileError(f"{path}: MIDI type {midi.type} with {midi.ticks_per_beat} ticks a beat is not read")
    changes, end, notes_end = [], 0, 0
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type in ("note_on", "note_off"):
                notes_end = max(notes_end, now)
            beat = now / midi.ticks_per_beat
            if message.type == "time_signature":
                _check_bar(path, message.numerator * 4 / message.denominator, beats_per_bar,
                           f"{path}, beat {beat:g}")
            elif message.type in ("marker", "text", "cue_marker", "lyrics"):
                try:
                    changes.append((beat, canonical(message.text.strip())))
                except ChordParseError:
                    continue
        end = max(end, now)
    if not changes:
        raise LeadSheetFileError(f"{path}: no chord symbols in its marker, text, cue or lyric events")
    bars = math.ceil((notes_end or end) / midi.ticks_per_beat / beats_per_bar - 1e-9)
    return _per_beat(changes, bars * beats_per_bar, path)


def lead_sheet_file_chords(path: str | Path, beats_per_bar: int) -> list[str]:
    """Chords per beat from a MusicXML or MIDI lead sheet (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LeadSheetFileError(f"chords={path}: no such file")
    suffix = path.suffix.lower()
    if suffix in MUSICXML_SUFFIXES:
        return musicxml_chords(path, beats_per_bar)
    if suffix in MIDI_SUFFIXES:
        return midi_chords(path, beats_per_bar)
    raise LeadSheetFileError(f"chords={path}: expected a .txt, MusicXML or MIDI file")


def read_phrase(path: str | Path) -> PianoScore:
    """A MIDI phrase (``primer=``) as a piano score, or one line saying why it is not one."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in MIDI_SUFFIXES:
        raise LeadSheetFileError(f"primer={path}: expected a MIDI file (.mid, .midi)")
    if not path.is_file():
        raise LeadSheetFileError(f"primer={path}: no such file")
    parsed = parse_midi_file(path, str(path))
    if parsed.score is None:
        raise LeadSheetFileError(f"primer={path}: {parsed.reason}")
    return parsed.score


def phrase_tokens(score: PianoScore, tokens: Sequence[str], vocab: Sequence[str], source: str) -> list[int]:
    """A MAR-Y/LSTM primer's token ids; tokens the model never saw are named in one line and
    read as ``<unk>``."""
    known = Vocabulary(vocab)
    unknown = sorted({t for t in tokens if t not in known})
    if unknown:
        print(f"warning: primer={source}: {len(unknown)} tokens the model never saw (read as <unk>): "
              + shorten(" ".join(unknown)))
    return known.encode(tokens)


def _known_pieces(pitch: int, ticks: int, lengths: dict[int, list[int]]) -> list[str] | None:
    """``ticks`` of ``pitch`` as tokens the model knows: the longest known length first, then the
    rest (a long note is re-articulated, as training data splits it); None when none fits."""
    pieces, left = [], ticks
    while left:
        fits = [n for n in lengths.get(pitch, ()) if n <= left]
        if not fits:
            return None
        pieces.append(melody_token(pitch, fits[0]))
        left -= fits[0]
    return pieces


def phrase_melody(score: PianoScore, ticks_per_beat: int, melody_vocab: Sequence[str], source: str) -> list[str]:
    """A JazzGPT melody primer: the phrase's top line (the highest note at each onset) on the
    model's grid, as melody tokens from the phrase's first bar line. A note or rest longer than
    any token the model has for it is split into known lengths; a pitch outside the model's range,
    or a length it cannot make, is refused in one line."""
    lengths: dict[int, list[int]] = {}
    for token in melody_vocab:
        if ":" in token:
            pitch, ticks = parse_melody_token(token)
            lengths.setdefault(pitch, []).append(ticks)
    for known in lengths.values():
        known.sort(reverse=True)
    onsets = np.asarray(score.onsets, dtype=np.float64)
    order = np.lexsort((-np.asarray(score.pitches), onsets))
    top = order[np.r_[True, np.diff(onsets[order]) > 1e-9]]
    melody = quantize_melody(
        onsets[top], onsets[top] + np.asarray(score.durations)[top], np.asarray(score.pitches)[top],
        ticks_per_beat=ticks_per_beat,
    )
    tokens, refused = [], []
    for pitch, ticks in zip(melody.pitches.tolist(), melody.durations.tolist(), strict=True):
        pieces = _known_pieces(pitch, ticks, lengths)
        if pieces is None:
            refused.append(f"pitch {pitch} for {ticks}/{ticks_per_beat} beat")
        else:
            tokens += pieces
    if refused:
        raise LeadSheetFileError(
            f"primer={source}: notes this model has no token for: {shorten(', '.join(refused))}"
        )
    return tokens
