"""The token conventions every layer shares: the special tokens, their ids, and melody tokens.

Every vocabulary starts with the four special tokens, so their ids are the same in every
model, data module and decoder: pad is 0 (embeddings and masks rely on it), then begin, end
and unknown. A melody event is the token ``"{pitch}:{ticks}"`` (pitch 0 = rest).
"""

from __future__ import annotations

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = (SPECIALS.index(t) for t in SPECIALS)


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
