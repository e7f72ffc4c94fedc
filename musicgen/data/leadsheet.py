"""LeadSheetDataModule: lead sheets (WJD solos, chorale melodies) → 12 keys → windows of whole bars →
chord and melody token tensors, for JazzGPT."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from musicgen.data.base import SPLITS, PreparedDataModule
from musicgen.data.licks import LickTokenizer
from musicgen.data.vocab import Vocabulary
from musicgen.music.chords import canonical
from musicgen.music.records import REST, LeadSheet
from musicgen.music.tokens import UNK
from musicgen.music.transpose import transpose_lead_sheet

ALL_KEYS = tuple(range(-5, 7))


def window_lead_sheet(sheet: LeadSheet, window_bars: int, hop_bars: int) -> Iterator[LeadSheet]:
    """Aligned windows of whole bars: the chords of the window's beats and the melody inside it.

    A note sounding into the window from before becomes a rest (it has no onset here); a note
    sounding past the window's end is cut there, so every window's melody fills it exactly.
    A sheet shorter than one window is one (shorter) window; the tail is covered by a last
    window aligned to the end.
    """
    bpb, tpb = sheet.beats_per_bar, sheet.ticks_per_beat
    num_bars = sheet.num_beats // bpb
    if num_bars <= window_bars:
        starts = [0]
    else:
        starts = list(range(0, num_bars - window_bars + 1, hop_bars))
        if starts[-1] != num_bars - window_bars:
            starts.append(num_bars - window_bars)
    onsets = sheet.onsets
    ends = onsets + sheet.durations
    for start_bar in starts:
        bars = min(window_bars, num_bars - start_bar) or 1
        w0 = start_bar * bpb * tpb
        w1 = w0 + bars * bpb * tpb
        inside = (ends > w0) & (onsets < w1)
        clipped_on = np.maximum(onsets[inside], w0)
        clipped_end = np.minimum(ends[inside], w1)
        pitches = np.where(onsets[inside] >= w0, sheet.pitches[inside], REST)
        pitches, durations = _merge_rests(pitches, clipped_end - clipped_on)
        if durations.sum() < w1 - w0:  # melody ended before the window: silence to its end
            pitches = np.append(pitches, REST)
            durations = np.append(durations, w1 - w0 - durations.sum())
        yield sheet.with_(
            id=f"{sheet.id}#bar{start_bar + 1}",
            pitches=pitches,
            durations=durations,
            chords=sheet.chords[start_bar * bpb : start_bar * bpb + bars * bpb],
        )


def _merge_rests(pitches: np.ndarray, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join consecutive rests into one, so a window never starts with two rest tokens."""
    if len(pitches) < 2:
        return pitches, durations
    starts = np.ones(len(pitches), dtype=bool)
    starts[1:] = ~((pitches[1:] == REST) & (pitches[:-1] == REST))
    group = np.cumsum(starts) - 1
    return pitches[starts], np.bincount(group, weights=durations).astype(np.int64)


def id_dtype(vocab_size: int) -> torch.dtype:
    """The smallest integer type for token ids: the cached tensors are a quarter of int64's size,
    and reading, checking and unpickling those bytes is most of what a cached load costs."""
    return torch.int16 if vocab_size <= torch.iinfo(torch.int16).max + 1 else torch.int32


class _LeadSheetWindows(Dataset):
    def __init__(self, chords: torch.Tensor, melody: torch.Tensor, lengths: torch.Tensor):
        self.chords, self.melody, self.lengths = chords, melody, lengths

    def __len__(self) -> int:
        return len(self.chords)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.chords[index], self.melody[index], self.lengths[index]


class LeadSheetDataModule(PreparedDataModule):
    """Chord-conditioned melody windows for JazzGPT, from any lead-sheet source (WJD, chorales).

    Every lead sheet is transposed, melody and chords together, into each offset of
    ``transpositions`` (all 12 keys by default); splits are by ``group``, so no source appears in
    two splits in any key. Vocabularies come from the training split only.

    ``tokenizer.bpe_vocab=N`` adds N lick tokens (``data.licks``) learned from the training
    windows in all 12 keys; ``tokenizer.bpe_max_length`` bounds a lick's events. Null (the
    default) keeps the plain (pitch, duration) tokens.
    """

    namespace = "jazz"  # its first name: part of every cache key and checkpoint data fingerprint
    version = 2  # 2: token ids stored in the smallest integer type (``id_dtype``)

    def __init__(
        self,
        source,
        transpositions: Sequence[int] = ALL_KEYS,
        pitch_range: tuple[int, int] = (36, 96),
        transpose_policy: str = "fold",
        window_bars: int = 8,
        hop_bars: int = 4,
        min_count: int = 1,
        tokenizer: Mapping | None = None,
        **kwargs,
    ):
        super().__init__(source, transpositions, **kwargs)
        self.pitch_range = tuple(pitch_range)
        self.transpose_policy = transpose_policy
        self.window_bars = window_bars
        self.hop_bars = hop_bars
        self.min_count = min_count
        self.tokenizer = {"bpe_vocab": None, "bpe_max_length": 8, **(tokenizer or {})}

    def preparation_config(self) -> dict:
        config = {
            **super().preparation_config(),
            "pitch_range": self.pitch_range,
            "transpose_policy": self.transpose_policy,
            "window_bars": self.window_bars,
            "hop_bars": self.hop_bars,
            "min_count": self.min_count,
        }
        if self.tokenizer["bpe_vocab"] is not None:  # only then: plain cache keys stay as they were
            config["tokenizer"] = dict(self.tokenizer)
        return config

    def _prepare(self, records: list[LeadSheet], splits: dict[str, set[str]], source_report: dict) -> dict:
        low, high = self.pitch_range

        def transpose(sheet: LeadSheet, offset: int) -> LeadSheet | None:
            sheet = sheet.with_(chords=tuple(c if c == UNK else canonical(c) for c in sheet.chords))
            return transpose_lead_sheet(sheet, offset, low=low, high=high, policy=self.transpose_policy)

        sheets, counts = self.transposed_by_split(records, splits, transpose)
        windows = {
            split: [w for sheet in sheets[split] for w in window_lead_sheet(sheet, self.window_bars, self.hop_bars)]
            for split in SPLITS
        }
        notes = {s: int(sum((w.pitches != REST).sum() for w in windows[s])) for s in SPLITS}
        self.refuse_empty(notes["train"], len(windows["train"]), "windows")
        melody_vocab = Vocabulary.build((w.tokens() for w in windows["train"]), self.min_count)
        chord_vocab = Vocabulary.build((w.chords for w in windows["train"]), 1)
        encode, licks = list, None
        if self.tokenizer["bpe_vocab"] is not None:
            licks = LickTokenizer.train(
                self._lick_corpus(records, splits, transpose, windows["train"]),
                int(self.tokenizer["bpe_vocab"]), int(self.tokenizer["bpe_max_length"]),
            )
            encode = licks.encode
            melody_vocab = Vocabulary([*melody_vocab.tokens, *licks.licks])
        tensors = {
            split: self._tensors(windows[split], chord_vocab, melody_vocab, encode) for split in SPLITS
        }
        first = records[0]
        report = {
            "source": source_report,
            **counts,
            "windows": {s: len(windows[s]) for s in SPLITS},
            "notes": notes,
            "rests": {s: int(sum((w.pitches == REST).sum() for w in windows[s])) for s in SPLITS},
            "unknown_melody_tokens": {s: int((tensors[s]["melody"] == melody_vocab.unk_id).sum()) for s in SPLITS},
            "melody_vocab_size": len(melody_vocab),
            "chord_vocab_size": len(chord_vocab),
        }
        data_info = {
            "kind": "lead_sheet",
            "ticks_per_beat": first.ticks_per_beat,
            "beats_per_bar": first.beats_per_bar,
            "window_bars": self.window_bars,
            "pitch_range": list(self.pitch_range),
        }
        if licks is not None:
            data_info["licks"] = licks.info()
            report["lick_tokens"] = len(licks.licks)
            report["melody_tokens"] = {s: int(tensors[s]["lengths"].sum()) - 2 * len(windows[s]) for s in SPLITS}
        return {
            "chord_vocab": chord_vocab.tokens,
            "melody_vocab": melody_vocab.tokens,
            "data_info": data_info,
            "tensors": tensors,
            "report": report,
        }

    def _lick_corpus(
        self, records: list[LeadSheet], splits: dict[str, set[str]], transpose, train: list[LeadSheet]
    ) -> list[list[str]]:
        """The training windows' melodies in all 12 keys alike (see ``data.licks``): the
        training windows themselves when ``transpositions`` already holds the 12 keys."""
        if sorted(self.transpositions) == sorted(ALL_KEYS):
            return [w.tokens() for w in train]
        sheets = [
            copy
            for sheet in records
            if (sheet.group or sheet.id) in splits["train"]
            for offset in ALL_KEYS
            if (copy := transpose(sheet, offset)) is not None
        ]
        return [w.tokens() for s in sheets for w in window_lead_sheet(s, self.window_bars, self.hop_bars)]

    @staticmethod
    def _tensors(
        windows: list[LeadSheet], chord_vocab: Vocabulary, melody_vocab: Vocabulary,
        encode: Callable[[list[str]], list[str]] = list,
    ) -> dict:
        melodies = [encode(w.tokens()) for w in windows]
        max_chords = max((len(w.chords) for w in windows), default=1)
        max_melody = max((len(m) + 2 for m in melodies), default=2)
        ids = id_dtype(max(len(chord_vocab), len(melody_vocab)))
        chords = torch.zeros(len(windows), max_chords, dtype=ids)
        melody = torch.zeros(len(windows), max_melody, dtype=ids)
        lengths = torch.zeros(len(windows), dtype=torch.long)
        for i, (w, tokens) in enumerate(zip(windows, melodies, strict=True)):
            chords[i, : len(w.chords)] = torch.tensor(chord_vocab.encode(w.chords))
            ids = [melody_vocab.bos_id, *melody_vocab.encode(tokens), melody_vocab.eos_id]
            melody[i, : len(ids)] = torch.tensor(ids)
            lengths[i] = len(ids)
        return {"chords": chords, "melody": melody, "lengths": lengths}

    def _dataset(self, split: str) -> Dataset:
        t = self.load_prepared()["tensors"][split]
        return _LeadSheetWindows(t["chords"], t["melody"], t["lengths"])

    def collate(self, batch: list) -> dict[str, torch.Tensor]:
        chords, melody, lengths = (torch.stack(x) for x in zip(*batch, strict=True))
        chord_len = int((chords != 0).sum(1).max())
        return {
            "chords": chords[:, : max(chord_len, 1)].long(),
            "melody": melody[:, : int(lengths.max())].long(),
        }

    def model_inputs(self) -> dict:
        prepared = self.load_prepared()
        return {
            "chord_vocab": prepared["chord_vocab"],
            "melody_vocab": prepared["melody_vocab"],
            "data_info": prepared["data_info"],
        }

    def records(self, split: str) -> list[LeadSheet]:
        """The windows of a split back as lead sheets (for metrics and chord inputs)."""
        prepared = self.load_prepared()
        chord_vocab = Vocabulary(prepared["chord_vocab"])
        melody_vocab = Vocabulary(prepared["melody_vocab"])
        info = prepared["data_info"]
        t = prepared["tensors"][split]
        sheets = []
        for i in range(len(t["chords"])):
            chords = [c for c in chord_vocab.decode(t["chords"][i]) if c != "<pad>"]
            melody = melody_vocab.decode(t["melody"][i, : int(t["lengths"][i])])
            sheets.append(
                LeadSheet.from_tokens(
                    f"{split}:{i}", melody, tuple(chords),
                    ticks_per_beat=info["ticks_per_beat"], beats_per_bar=info["beats_per_bar"],
                )
            )
        return sheets
