"""Token vocabularies: built from the training split, saved inside checkpoints as plain lists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from musicgen.music.tokens import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID


class Vocabulary:
    """Maps token strings to ids; the four special tokens always take ids 0-3 (pad = 0)."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            tokens = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.tokens: list[str] = tokens
        self._index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_count: int = 1) -> Vocabulary:
        """Tokens seen at least ``min_count`` times, most frequent first (ties by name)."""
        counts = Counter(tok for seq in sequences for tok in seq)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(list(SPECIALS) + kept)

    pad_id = property(lambda self: PAD_ID)
    bos_id = property(lambda self: BOS_ID)
    eos_id = property(lambda self: EOS_ID)
    unk_id = property(lambda self: UNK_ID)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def id(self, token: str) -> int:
        return self._index.get(token, self.unk_id)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self._index.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]
