"""Lick tokens: byte-pair merges of frequent melody-token runs, learned with Hugging Face
``tokenizers`` (the BPE MidiTok uses), for JazzGPT (``data.tokenizer.bpe_vocab``).

A lick is a run of plain ``pitch:ticks`` events written as one token, its events joined by ``+``
(``music.tokens.lick_token``), so it decodes to exactly the notes it was made of with no table.
The merges are needed only to *encode*: the data module encodes its windows with them, and
generation encodes the melody a window starts from (windowed play) as training did.

Key independence: the merges are learned over the training windows in all 12 keys alike (each
training piece transposed by every offset -5..6, whatever ``data.transpositions`` is), so every
run of notes is counted the same in each key and a lick shape is merged in every key or in
none (up to the octave folding at the edges of the pitch range). Merging interval/duration
symbols instead would make the model write relative pitches, which the chord-aware and repeat
biases, the pitch range and the plain token scheme all read as absolute; absolute licks keep
every one of them working and the plain vocabulary a subset of the lick vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from tokenizers import Tokenizer, models, trainers

from musicgen.music.tokens import LICK_JOIN, lick_token

_FIRST_CHAR = 0x10000  # token i of the alphabet is this character + i (no surrogates, no ASCII)


class LickTokenizer:
    """Plain melody tokens <-> plain tokens and licks, from a learned list of merges.

    ``alphabet`` is the plain tokens the merges were learned over; ``merges`` the pairs merged,
    in order, each side a plain token or a lick. Tokens outside the alphabet are never merged
    and pass through unchanged.
    """

    def __init__(self, alphabet: Sequence[str], merges: Sequence[Sequence[str]]):
        self.alphabet = list(alphabet)
        self.merges = [(str(a), str(b)) for a, b in merges]
        self._char = {token: chr(_FIRST_CHAR + i) for i, token in enumerate(self.alphabet)}
        vocab = {char: i for i, char in enumerate(self._char.values())}
        char_merges = []
        for left, right in self.merges:
            pair = (self._chars(left), self._chars(right))
            vocab.setdefault(pair[0] + pair[1], len(vocab))
            char_merges.append(pair)
        self._bpe = Tokenizer(models.BPE(vocab=vocab, merges=char_merges))

    @classmethod
    def train(
        cls, sequences: Iterable[Sequence[str]], num_licks: int, max_length: int = 8, min_count: int = 2
    ) -> LickTokenizer:
        """Learn up to ``num_licks`` merges from melodies (lists of plain tokens).

        ``max_length`` is ``tokenizers``' ``max_token_length`` (in 0.23 a lick holds fewer
        events than it); a pair seen fewer than ``min_count`` times is never merged.
        """
        if num_licks < 1:
            raise ValueError(f"data.tokenizer.bpe_vocab must be >= 1 lick token, got {num_licks}")
        sequences = [list(s) for s in sequences]
        alphabet = sorted({t for s in sequences for t in s})
        char = {token: chr(_FIRST_CHAR + i) for i, token in enumerate(alphabet)}
        trainer = trainers.BpeTrainer(
            vocab_size=len(alphabet) + num_licks, min_frequency=min_count, show_progress=False,
            initial_alphabet=list(char.values()), max_token_length=max_length, special_tokens=[],
        )
        bpe = Tokenizer(models.BPE())
        bpe.train_from_iterator(("".join(char[t] for t in s) for s in sequences if s), trainer)
        token = {c: t for t, c in char.items()}

        def events(chars: str) -> str:
            return lick_token([token[c] for c in chars])

        return cls(alphabet, [(events(a), events(b)) for a, b in _merges(bpe)])

    def _chars(self, token: str) -> str:
        return "".join(self._char[event] for event in token.split(LICK_JOIN))

    @property
    def licks(self) -> list[str]:
        """The merged tokens, in the order they were learned."""
        return list(dict.fromkeys(lick_token([a, b]) for a, b in self.merges))

    def encode(self, tokens: Sequence[str]) -> list[str]:
        """Plain tokens -> plain tokens and licks; ``expand_melody`` is the exact inverse."""
        out: list[str] = []
        run: list[str] = []
        for token in [*tokens, None]:
            if token is not None and token in self._char:
                run.append(token)
                continue
            if run:
                merged = self._bpe.encode("".join(self._char[t] for t in run)).tokens
                out += [lick_token([self.alphabet[ord(c) - _FIRST_CHAR] for c in m]) for m in merged]
                run = []
            if token is not None:
                out.append(token)
        return out

    def info(self) -> dict[str, Any]:
        """Plain lists, saved in the prepared data and in a checkpoint's ``data_info``."""
        return {"alphabet": list(self.alphabet), "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> LickTokenizer:
        return cls(info["alphabet"], info["merges"])


def _merges(bpe: Tokenizer) -> list[tuple[str, str]]:
    """The merges of a trained BPE model, from its JSON (the Python model has no getter)."""
    merges = json.loads(bpe.to_str())["model"]["merges"]
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
