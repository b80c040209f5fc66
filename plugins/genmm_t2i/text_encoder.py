"""The text encoder of AttnGAN's DAMSM (Xu et al., "AttnGAN: Fine-Grained Text to Image
Generation with Attentional Generative Adversarial Networks", CVPR 2018, sec. 3.2; the
authors' ``RNN_ENCODER``, taoxugit/AttnGAN ``code/model.py``).

A bidirectional LSTM over word embeddings: 300-dimensional embeddings (uniform in
[-0.1, 0.1]) with dropout 0.5, one layer of 128 hidden units per direction. Each word's
feature is the concatenation of both directions' hidden states (the word features e, 256 x T);
the sentence feature ē is the concatenation of both directions' last hidden states (256).
Padding (id 0) is packed away, so padded positions have zero features and never reach the
sentence feature; the mask marks them. DF-GAN (Tao et al., CVPR 2022, sec. 4) uses the same
encoder, pre-trained with DAMSM and frozen.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


def vocabulary_size(description: dict[str, Any] | None, vocab_size: int | None) -> int:
    if vocab_size is not None:
        return vocab_size
    if not description or "vocab_size" not in description:
        raise ValueError("needs the data description's 'vocab_size' (a t2i.* dataset)")
    return int(description["vocab_size"])


class TextEncoder(nn.Module):
    """tokens (B, L) long, 0 = padding -> ``{"words": (B, 256, L), "sentence": (B, 256),
    "mask": (B, L) bool, True at padding}``."""

    def __init__(
        self,
        embedding_dim: int = 300,
        hidden_per_direction: int = 128,
        dropout: float = 0.5,
        vocab_size: int | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = vocabulary_size(description, vocab_size)
        self.embedding = nn.Embedding(self.vocab_size, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.LSTM(
            embedding_dim, hidden_per_direction, 1, batch_first=True, bidirectional=True
        )
        self.feature_dim = 2 * hidden_per_direction
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)

    def forward(self, tokens: Tensor) -> dict[str, Tensor]:
        mask = tokens == 0
        lengths = (~mask).sum(1).clamp_min(1)  # an all-padding row still runs (one step)
        embedded = self.dropout(self.embedding(tokens))  # (B, L, 300)
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        output, (hidden, _) = self.rnn(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=tokens.shape[1]
        )  # (B, L, 256), zeros at padding
        words = output.transpose(1, 2).contiguous()  # (B, 256, L)
        sentence = hidden.transpose(0, 1).reshape(tokens.shape[0], -1)  # (B, 2 x 128)
        return {"words": words, "sentence": sentence, "mask": mask}


def encode_text(encoder: nn.Module, condition: Any) -> dict[str, Tensor]:
    """A batch's condition ``{"tokens": ...}`` encoded by a frozen ``encoder`` (eval mode, no
    gradients), cached in the condition mapping under ``"text"`` so every consumer of the
    step (the generator, the discriminator, penalties) sees the same features."""
    if isinstance(condition, dict) and "text" in condition:
        return condition["text"]
    tokens = condition["tokens"] if isinstance(condition, dict) else condition
    encoder.eval()
    with torch.no_grad():
        text = encoder(tokens)
    if isinstance(condition, dict):
        condition["text"] = text
    return text
