"""The token conventions every layer shares: the special tokens, their ids, and melody tokens.

Every vocabulary starts with the four special tokens, so their ids are the same in every
model, data module and decoder: pad is 0 (embeddings and masks rely on it), then begin, end
and unknown. A melody event is the token ``"{pitch}:{ticks}"`` (pitch 0 = rest); a lick (a
merged run of events, ``data.tokenizer.bpe_vocab``) is its events joined by ``+``
(``"67:12+65:12+64:24"``), so every token says which notes it stands for.
"""

from __future__ import annotations

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = (SPECIALS.index(t) for t in SPECIALS)
LICK_JOIN = "+"


def melody_token(pitch: int, ticks: int) -> str:
    return f"{int(pitch)}:{int(ticks)}"


def parse_melody_token(token: str) -> tuple[int, int]:
    """``"60:12"`` -> (60, 12); raises ValueError naming the token otherwise."""
    pitch, sep, ticks = token.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(pitch), int(ticks)
    except ValueError:
        raise ValueError(f"not a melody token (pitch:ticks): {token!r}") from None


def melody_events(token: str) -> list[tuple[int, int]]:
    """The (pitch, ticks) events of a melody token or a lick: ``"60:12+0:12"`` -> [(60, 12), (0, 12)]."""
    return [parse_melody_token(event) for event in token.split(LICK_JOIN)]


def lick_token(events: list[str]) -> str:
    """Event tokens -> the one lick token that stands for them (a single event is itself)."""
    return LICK_JOIN.join(events)


def expand_melody(tokens: list[str]) -> list[str]:
    """Melody tokens with every lick replaced by its events (special tokens dropped)."""
    return [event for token in tokens if not token.startswith("<") for event in token.split(LICK_JOIN)]
