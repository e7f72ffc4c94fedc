"""Chord symbols: parse Weimar Jazz Database (WJD) and lead-sheet spellings into one canonical form.

Canonical symbols use WJD syntax, so the database's own chords are (up to root spelling) their
own canonical form: minor ``-``, major seventh ``j``, half-diminished ``m7b5``, diminished ``o``,
augmented ``+``, tensions after the seventh with the accidental AFTER the number (``79b`` is
7(b9), ``7911#`` is 7(9, #11)), ``7alt``, ``NC``, slash chords ``Bb-7/Eb``. Roots and basses are
spelled with one name per pitch class (flats: C Db D Eb E F Gb G Ab A Bb B), so ``A#-7`` and
``Bb-7`` are one chord and one token; a bass equal to the root is dropped.

Lead-sheet spellings (``Cm7``, ``Cmaj7``, ``CΔ7``, ``C7(b9)``, ``C7#9``, ``Cø``, ``Cdim7``,
``C13``, ``C7sus4``, ``Cm(maj7)``, ``N.C.`` …) map to the same chords. Where one string reads
differently in the two syntaxes, the WJD reading wins: ``C79b13`` is 7(b9, 13), not
7(9, b13). A power chord (music21's ``Cpower``, lead-sheet ``C5``) reads as the major triad it
usually implies, a ``pedal`` as ``NC``; ``sus2``, ``add`` chords and dominant ``7b5`` have no WJD quality and raise.

Chord tones follow the shared database README's method: root, third, fifth and the written
seventh or sixth, root first; ``sus`` has the fourth instead of the third, ``m7b5`` is half-diminished,
``o7`` diminished seventh, ``7alt`` has both b5 and #5 (and tensions b9, #9).

Chord scales (``Chord.scale``, for chord-aware decoding), chosen in this order:

| chord | scale (intervals above the root) |
| --- | --- |
| triad, ``6``, ``j7`` | ionian 0 2 4 5 7 9 11; lydian (4 → #4) with #11; lydian #2 with #9 |
| ``-``, ``-7`` | dorian 0 2 3 5 7 9 10; phrygian 0 1 3 5 7 8 10 with b9 |
| ``-6``, ``-j7`` | melodic minor 0 2 3 5 7 9 11; lydian diminished 0 2 3 6 7 9 11 with #11 |
| ``7``, ``sus``, ``sus7`` | mixolydian 0 2 4 5 7 9 10; lydian dominant with #11; mixolydian b13 with b13 |
| ``7`` with b9 | phrygian dominant 0 1 4 5 7 8 10; half-whole 0 1 3 4 6 7 9 10 if 13 is natural |
| ``7`` with #9 | half-whole (keeps the written fifth); altered with b13 |
| ``7alt`` | altered 0 1 3 4 6 8 10 |
| ``+``, ``+j7`` | lydian augmented 0 2 4 6 8 9 11 |
| ``+7`` | whole tone 0 2 4 6 8 10; altered with b9 or #9 |
| ``m7b5`` | locrian 0 1 3 5 6 8 10 |
| ``o``, ``o7`` | whole-half diminished 0 2 3 5 6 8 9 11 |
| ``NC`` | none (empty: nothing to prefer) |

Scales have 7 notes except the symmetric ones (whole tone 6, the two diminished scales 8),
whose standard forms are kept rather than trimmed arbitrarily.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from musicgen.errors import UserError, shorten
from musicgen.music.pitch import FLAT_NAMES

NC = "NC"

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ROOT_RE = re.compile(r"([A-G])([b#]?)")
_DEGREE_INTERVAL = {9: 2, 11: 5, 13: 9}
_ACCIDENTAL = {"b": -1, "-": -1, "#": 1, "+": 1, "": 0}
_TENSIONS_OK = {(9, -1), (9, 0), (9, 1), (11, 0), (11, 1), (13, -1), (13, 0)}

# (family, seventh) -> canonical quality prefix; the combinations a chord may have
_QUALITY = {
    ("maj", None): "", ("maj", "7"): "7", ("maj", "j7"): "j7", ("maj", "6"): "6",
    ("min", None): "-", ("min", "7"): "-7", ("min", "j7"): "-j7", ("min", "6"): "-6",
    ("aug", None): "+", ("aug", "7"): "+7", ("aug", "j7"): "+j7",
    ("dim", None): "o", ("dim", "7"): "o7",
    ("hdim", "7"): "m7b5",
    ("sus", None): "sus", ("sus", "7"): "sus7",
    ("alt", "7"): "7alt",
}  # fmt: skip
_TRIAD = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "aug": (0, 4, 8), "dim": (0, 3, 6),
    "hdim": (0, 3, 6), "sus": (0, 5, 7), "alt": (0, 4, 6, 8),
}  # fmt: skip
_SEVENTH = {"7": 10, "j7": 11, "6": 9}

IONIAN = (0, 2, 4, 5, 7, 9, 11)
LYDIAN = (0, 2, 4, 6, 7, 9, 11)
LYDIAN_SHARP2 = (0, 3, 4, 6, 7, 9, 11)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)
MELODIC_MINOR = (0, 2, 3, 5, 7, 9, 11)
LYDIAN_DIMINISHED = (0, 2, 3, 6, 7, 9, 11)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)
LYDIAN_DOMINANT = (0, 2, 4, 6, 7, 9, 10)
MIXOLYDIAN_B13 = (0, 2, 4, 5, 7, 8, 10)
PHRYGIAN_DOMINANT = (0, 1, 4, 5, 7, 8, 10)
ALTERED = (0, 1, 3, 4, 6, 8, 10)
HALF_WHOLE = (0, 1, 3, 4, 6, 7, 9, 10)
LYDIAN_AUGMENTED = (0, 2, 4, 6, 8, 9, 11)
WHOLE_TONE = (0, 2, 4, 6, 8, 10)
LOCRIAN = (0, 1, 3, 5, 6, 8, 10)
WHOLE_HALF = (0, 2, 3, 5, 6, 8, 9, 11)

_WJD_RE = re.compile(
    r"(?:(?P<hdim>m7b5)|(?P<alt>7alt)|(?P<family>-|\+|o|sus)?(?P<seventh>j7|7|6)?)"
    r"(?P<tensions>(?:(?:9|11|13)[b#]?)*)"
)
_WJD_TENSION_RE = re.compile(r"(9|11|13)([b#]?)")

# lead-sheet words, longest first within each group so prefixes never shadow them
_MAJOR_MARKS = ("Maj", "maj", "MAJ", "ma", "M", "Δ", "j")
_FAMILY_WORDS = (
    ("minor", "min"), ("min", "min"), ("mi", "min"), ("m", "min"), ("-", "min"),
    ("dim", "dim"), ("°", "dim"), ("o", "dim"), ("aug", "aug"), ("+", "aug"),
    ("ø", "hdim"), ("Ø", "hdim"), ("sus4", "sus"), ("sus", "sus"), ("dom", "maj"),
)  # fmt: skip
_NUMBERS = ("13", "11", "69", "9", "7", "6")
_TAIL_RE = re.compile(r"alt|sus4|sus|add|[b#+-]?(?:13|11|9|5)|\+|[^\W\d_]+|.", re.DOTALL)
_ALTERATION_RE = re.compile(r"([b#+-]?)(13|11|9|5)")
_Tension = tuple[int, int]  # (degree 9/11/13, accidental -1/0/+1)
_Quality = tuple[str, str | None, tuple[_Tension, ...]]  # (family, seventh, tensions)

_WHOLE_QUALITIES: dict[str, _Quality] = {"power": ("maj", None, ()), "5": ("maj", None, ())}


class ChordParseError(UserError, ValueError):
    """A chord symbol that neither WJD nor lead-sheet syntax reads; ``.symbol`` holds it."""

    def __init__(self, symbol: object, reason: str = ""):
        self.symbol, self.reason = symbol, reason
        detail = f": {shorten(reason, 160)}" if reason else ""
        super().__init__(f"unknown chord symbol {shorten(repr(symbol))}{detail}")


@dataclass(frozen=True)
class Chord:
    """A parsed chord; all fields are pitch classes (0 = C) except ``quality``."""

    root: int | None
    quality: str
    bass: int | None
    tones: tuple[int, ...]
    tensions: tuple[int, ...]
    scale: tuple[int, ...]

    @property
    def is_nc(self) -> bool:
        return self.root is None

    @property
    def symbol(self) -> str:
        if self.root is None:
            return NC
        bass = "" if self.bass is None else f"/{FLAT_NAMES[self.bass]}"
        return f"{FLAT_NAMES[self.root]}{self.quality}{bass}"


NO_CHORD = Chord(root=None, quality=NC, bass=None, tones=(), tensions=(), scale=())


def parse_chord(symbol: str) -> Chord:
    """Read a WJD or lead-sheet chord symbol; raises ChordParseError for anything else."""
    if not isinstance(symbol, str):
        raise ChordParseError(symbol, "not a string")
    return _parse(symbol)


def canonical(symbol: str) -> str:
    """The canonical WJD-style spelling: ``canonical('Cm7') == canonical('C-7') == 'C-7'``."""
    return parse_chord(symbol).symbol


@lru_cache(maxsize=8192)
def transpose_chord(symbol: str, semitones: int) -> str:
    """Canonical symbol moved by ``semitones`` (root and bass move, the quality stays)."""
    chord = parse_chord(symbol)
    if chord.is_nc:
        return NC
    root = FLAT_NAMES[(chord.root + semitones) % 12]
    bass = "" if chord.bass is None else "/" + FLAT_NAMES[(chord.bass + semitones) % 12]
    return canonical(f"{root}{chord.quality}{bass}")


@lru_cache(maxsize=8192)
def _parse(symbol: str) -> Chord:
    text = symbol.strip()
    if text.upper() in ("NC", "N.C.", "N.C"):
        return NO_CHORD
    text = text.replace("♭", "b").replace("♯", "#").replace("6/9", "69")
    head, slash, bass_name = text.partition("/")
    root, quality = _split_root(head, symbol)
    bass = _split_root(bass_name, symbol, whole=True)[0] if slash else None
    if quality == "pedal":
        return NO_CHORD
    family, seventh, tensions = _read_quality(quality, symbol)
    return _build(symbol, root, family, seventh, tensions, bass)


def _split_root(text: str, symbol: str, whole: bool = False) -> tuple[int, str]:
    match = _ROOT_RE.match(text)
    if not match or (whole and match.end() != len(text)):
        raise ChordParseError(symbol, f"{text!r} is not a note name (A-G with optional b or #)")
    letter, accidental = match.groups()
    return (_LETTER_PC[letter] + _ACCIDENTAL[accidental]) % 12, text[match.end() :]


def _read_quality(quality: str, symbol: str) -> _Quality:
    if quality in _WHOLE_QUALITIES:
        return _WHOLE_QUALITIES[quality]
    wjd = _read_wjd(quality)
    if wjd is not None:
        return wjd
    return _read_lead_sheet(quality, symbol)


def _read_wjd(quality: str) -> _Quality | None:
    match = _WJD_RE.fullmatch(quality)
    if match is None:
        return None
    tensions = tuple(
        (int(number), _ACCIDENTAL[accidental])
        for number, accidental in _WJD_TENSION_RE.findall(match["tensions"])
    )
    if match["hdim"]:
        return "hdim", "7", tensions
    if match["alt"]:
        return "alt", "7", tensions
    if tensions and not match["seventh"]:
        return None  # "C9", "C13": lead-sheet dominant chords
    family = {"-": "min", "+": "aug", "o": "dim", "sus": "sus"}.get(match["family"], "maj")
    return family, match["seventh"], tensions


def _read_lead_sheet(quality: str, symbol: str) -> _Quality:
    text = re.sub(r"[\s(),]", "", quality)
    family, major, position = "maj", None, 0
    mark = _take(text, position, _MAJOR_MARKS)
    if mark:
        major, position = mark, position + len(mark)
    else:
        for word, name in _FAMILY_WORDS:
            if text.startswith(word, position):
                family, position = name, position + len(word)
                break
        mark = _take(text, position, _MAJOR_MARKS)
        if mark:
            major, position = mark, position + len(mark)
    number = _take(text, position, _NUMBERS)
    position += len(number or "")
    seventh, implied = _seventh_of(number, major, family, symbol)
    explicit: list[_Tension] = []
    for token in _TAIL_RE.findall(text, position):
        family, seventh = _apply_tail(token, family, seventh, explicit, symbol)
    altered = {degree for degree, _ in explicit}
    tensions = tuple(t for t in implied if t[0] not in altered) + tuple(explicit)
    return family, seventh, tensions


def _take(text: str, position: int, words: tuple[str, ...]) -> str | None:
    return next((w for w in words if text.startswith(w, position)), None)


def _seventh_of(
    number: str | None, major: str | None, family: str, symbol: str
) -> tuple[str | None, tuple[_Tension, ...]]:
    """Seventh and implied tensions of a lead-sheet number: 'maj9' is j7 + 9, '13' is 7 + 9 + 13."""
    if number in ("6", "69"):
        if major:
            raise ChordParseError(symbol, "a sixth chord cannot also have a major seventh")
        return "6", ((9, 0),) if number == "69" else ()
    implied = {None: (), "7": (), "9": ((9, 0),), "11": ((9, 0), (11, 0)), "13": ((9, 0), (13, 0))}
    if number is None:
        seventh = "j7" if major in ("Δ", "j") else ("7" if family == "hdim" else None)
    else:
        seventh = "j7" if major else "7"
    return seventh, implied[number]


def _apply_tail(
    token: str, family: str, seventh: str | None, explicit: list[_Tension], symbol: str
) -> tuple[str, str | None]:
    """One alteration after the number: b9, #11, b13, #5, b5, sus4, alt or a lone '+'."""
    if token in ("sus", "sus4") and family == "maj":
        return "sus", seventh
    if token == "alt" and family == "maj" and seventh == "7":
        return "alt", seventh
    if token == "+" and family in ("maj", "aug"):
        return "aug", seventh
    match = _ALTERATION_RE.fullmatch(token)
    if match is None:
        raise ChordParseError(symbol, f"unexpected {token!r}")
    accidental, degree = _ACCIDENTAL[match[1]], int(match[2])
    if degree == 5:
        if accidental > 0 and family in ("maj", "aug"):
            return "aug", seventh
        if accidental < 0 and family in ("min", "hdim") and seventh == "7":
            return "hdim", seventh
        raise ChordParseError(symbol, f"no WJD quality has {token!r} on this chord")
    if (degree, accidental) not in _TENSIONS_OK:
        raise ChordParseError(symbol, f"{token!r} is not a tension (b9 9 #9 11 #11 b13 13)")
    explicit.append((degree, accidental))
    return family, seventh


def _build(
    symbol: str,
    root: int,
    family: str,
    seventh: str | None,
    tensions: tuple[_Tension, ...],
    bass: int | None,
) -> Chord:
    if (family, seventh) not in _QUALITY:
        raise ChordParseError(symbol, f"no {family} chord with seventh {seventh!r}")
    tensions = tuple(sorted(set(tensions)))
    if tensions and (seventh is None or family == "alt"):
        raise ChordParseError(symbol, "tensions need a seventh or sixth (and none on 7alt)")
    quality = _QUALITY[family, seventh] + "".join(
        f"{degree}{'b' if acc < 0 else '#' if acc > 0 else ''}" for degree, acc in tensions
    )
    intervals = _TRIAD[family] + ((_SEVENTH[seventh] - (family == "dim"),) if seventh else ())
    tension_intervals = tuple((_DEGREE_INTERVAL[d] + a) % 12 for d, a in tensions)
    if family == "alt":
        tension_intervals = (1, 3)
    scale = _scale(family, seventh, set(tensions))
    return Chord(
        root=root,
        quality=quality,
        bass=None if bass == root else bass,
        tones=tuple((root + i) % 12 for i in intervals),
        tensions=tuple((root + i) % 12 for i in tension_intervals),
        scale=tuple((root + i) % 12 for i in scale),
    )


def _scale(family: str, seventh: str | None, tensions: set[tuple[int, int]]) -> tuple[int, ...]:
    """The chord-scale table of the module docstring."""
    flat9, sharp9, sharp11 = (9, -1) in tensions, (9, 1) in tensions, (11, 1) in tensions
    flat13, natural13 = (13, -1) in tensions, (13, 0) in tensions
    if family == "alt":
        return ALTERED
    if family in ("maj", "sus") and seventh == "7" or family == "sus":
        if sharp9:
            return ALTERED if flat13 else HALF_WHOLE
        if flat9:
            return HALF_WHOLE if natural13 else PHRYGIAN_DOMINANT
        if sharp11:
            return LYDIAN_DOMINANT
        return MIXOLYDIAN_B13 if flat13 else MIXOLYDIAN
    if family == "maj":
        return LYDIAN_SHARP2 if sharp9 else LYDIAN if sharp11 else IONIAN
    if family == "min":
        if seventh in ("6", "j7"):
            return LYDIAN_DIMINISHED if sharp11 else MELODIC_MINOR
        return PHRYGIAN if flat9 else DORIAN
    if family == "aug":
        if seventh == "7":
            return ALTERED if flat9 or sharp9 else WHOLE_TONE
        return LYDIAN_AUGMENTED
    if family == "hdim":
        return LOCRIAN
    return WHOLE_HALF
