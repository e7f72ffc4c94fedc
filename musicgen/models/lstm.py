"""The classic LSTM piano composer: three stacked LSTM(512) layers and a dense head.

It is the baseline the other models are measured against, so it stays close to the well-known
Keras original: LSTM x3 -> dropout -> Dense(256)+ReLU -> dropout -> softmax over the vocabulary,
predicting the token after a window of ``context`` tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from musicgen.models.base import MusicModel, right_align, with_key
from musicgen.models.dropout import Dropout
from musicgen.models.state_dropout_lstm import layer_probabilities, state_dropout_lstm
from musicgen.music.key import KEY_DIM
from musicgen.music.tokens import PAD_ID, SPECIALS
from musicgen.precision import run_recurrent


class LSTMBaseline(MusicModel):
    """Next-token LSTM over a window of piano tokens.

    ``input="embedding"`` (default) looks tokens up in a learned table; ``input="scalar"`` feeds
    the token id scaled to [0, 1) as one feature, as the original did. The scalar input imposes a
    meaningless order on the vocabulary and is kept only to reproduce the baseline.
    ``key_conditioning`` concatenates the window's key vector (tonic and mode, ``KEY_DIM``) to
    either input at every step (``[X; M]``).

    ``recurrent_dropout`` > 0 drops units of the recurrent state (one mask per sequence, as
    Keras does) during training; a list gives each layer its own probability (the Keras
    composer's is ``[0.3, 0.3, 0.0]``). The fused kernels (cuDNN, oneDNN) cannot do that, so
    training then runs ``state_dropout_lstm``, a loop over time steps with its own backward pass:
    on a CPU about as fast as oneDNN's LSTM, on a GPU far from cuDNN's, hence the default 0.
    Evaluation always uses the fused path; both paths share the same weights.
    """

    vocab_rows = {"embed.weight": "vocab", "head.4.weight": "vocab", "head.4.bias": "vocab"}

    def __init__(
        self,
        vocab: list[str],
        data_info: dict | None = None,
        context: int = 100,
        embed_dim: int = 128,
        hidden: int = 512,
        layers: int = 3,
        dropout: float = 0.3,
        recurrent_dropout: float | list[float] = 0.0,
        dense: int = 256,
        input: str = "embedding",
        lr: float = 1e-3,
        optimizer: str = "rmsprop",
        schedule: str = "none",
        weight_decay: float = 0.0,
        key_conditioning: bool = False,
    ):
        super().__init__()
        if tuple(vocab[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"vocab must start with the special tokens {SPECIALS}")
        if input not in ("embedding", "scalar"):
            raise ValueError(f"input must be 'embedding' or 'scalar', got {input!r}")
        layer_probabilities(recurrent_dropout, layers)  # fails here, not at the first training step
        self.save_hyperparameters()
        self.embed = (
            nn.Embedding(len(vocab), embed_dim, padding_idx=PAD_ID)
            if input == "embedding"
            else None
        )
        self.lstm = nn.LSTM(
            (embed_dim if input == "embedding" else 1) + KEY_DIM * key_conditioning,
            hidden,
            num_layers=layers,
            batch_first=True,
        )
        self.head = nn.Sequential(
            Dropout(dropout),
            nn.Linear(hidden, dense),
            nn.ReLU(),
            Dropout(dropout),
            nn.Linear(dense, len(vocab)),
        )

    def features(self, x: Tensor, keys: Tensor | None = None) -> Tensor:
        """The LSTM's input at each step: the token (embedded or scaled), then the key vector."""
        if self.embed is not None:
            h = self.embed(x)
        else:
            h = (x.float() / len(self.hparams.vocab))[..., None]
        return with_key(h, keys, self.hparams.key_conditioning, "LSTMBaseline")

    def forward(self, x: Tensor, keys: Tensor | None = None) -> Tensor:
        """Logits [B, V] of the token after each window x [B, T] (left padding allowed), in key
        ``keys`` [B] (key ids) when the model is key-conditioned."""
        x, lengths = right_align(x[:, -self.hparams.context :], PAD_ID)
        if bool((lengths == 0).any()):
            raise ValueError(
                "LSTMBaseline: a window holds only padding; start an empty primer with <bos>"
            )
        h = self.features(x, keys)
        p = self.hparams.recurrent_dropout
        if self.training and any(layer_probabilities(p, self.hparams.layers)):
            h = run_recurrent(lambda t: state_dropout_lstm(self.lstm, t, p), h)
        else:
            h = run_recurrent(lambda t: self.lstm(t)[0], h)
        # Right-aligned, the padding comes after the last real token and cannot reach it.
        last = h[torch.arange(x.shape[0], device=x.device), lengths - 1]
        return self.head(last)

    def loss_and_tokens(self, batch) -> tuple[Tensor, Tensor]:
        x, y, *keys = batch
        loss = F.cross_entropy(self(x, *keys).float(), y)
        return loss, (x[:, -self.hparams.context :] != PAD_ID).sum()
