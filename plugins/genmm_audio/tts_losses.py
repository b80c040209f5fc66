"""``audio.fastspeech2_loss``: the reconstruction and variance losses of FastSpeech 2 (Ren et al.,
ICLR 2021, sec. 2.2-2.3), a generator term of the ``audio.acoustic`` trainer.

The sum, each part scaled by its weight (all 1 in the paper), of

* the mel L1 (mean absolute error) between the predicted and the true log-mel over each
  utterance's frames (padding left out), on natural-log mels (the front end's are log10);
* the duration MSE between the predicted and the true ``log(d + 1)`` over each utterance's
  phonemes;
* the pitch and energy MSE between the predicted and the true (normalised, phoneme-level)
  values over the phonemes;
* with durations by alignment search (a corpus without timings), the alignment module's
  forward-sum and binarisation losses (:func:`genmm_audio.alignment.alignment_loss`), each
  weighted by ``alignment`` (2, JETS's lambda_align).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from genmm.losses import Context, Loss
from genmm_audio.acoustic import padding_mask
from genmm_audio.alignment import alignment_loss

LN10 = math.log(10.0)


def masked_mean(values: Tensor, keep: Tensor) -> Tensor:
    """Mean of ``values`` where ``keep`` (broadcast) is true."""
    keep = keep.to(values.dtype).expand_as(values)
    return (values * keep).sum() / keep.sum().clamp(min=1.0)


class FastSpeech2Loss(Loss):
    """Mel L1 + duration, pitch and energy MSE (see the module docstring). Reads the batch's
    targets (``context.batch``) and the model's outputs (``context.outputs``)."""

    role: ClassVar[str] = "generator"

    def __init__(
        self,
        weight: float = 1.0,
        mel: float = 1.0,
        duration: float = 1.0,
        pitch: float = 1.0,
        energy: float = 1.0,
        alignment: float = 2.0,
        every: int = 1,
    ) -> None:
        super().__init__(weight, every)
        self.weights = {"mel": mel, "duration": duration, "pitch": pitch, "energy": energy}
        self.weights |= {"forward_sum": alignment, "binarisation": alignment}

    def parts(self, context: Context) -> dict[str, Tensor]:
        batch, outputs = context.batch, context.outputs
        phonemes = ~padding_mask(batch["phoneme_lengths"], batch["phonemes"].shape[1])
        target, predicted = batch["mel"], outputs["mel"]
        frames = min(target.shape[-1], predicted.shape[-1])
        keep = ~padding_mask(batch["mel_lengths"], frames)  # (B, T)
        error = (predicted[..., :frames] - target[..., :frames]).abs() * LN10
        log_durations = torch.log(batch["durations"].float() + 1.0)
        parts = {
            "mel": masked_mean(error, keep[:, None, :]),
            "duration": masked_mean((outputs["log_durations"] - log_durations) ** 2, phonemes),
            "pitch": masked_mean((outputs["pitch"] - batch["pitch"]) ** 2, phonemes),
            "energy": masked_mean((outputs["energy"] - batch["energy"]) ** 2, phonemes),
        }
        if "alignment_scores" in outputs:  # durations by alignment search (JETS, sec. 2.2)
            parts |= alignment_loss(
                outputs["alignment_scores"],
                batch["alignment_path"],
                batch["phoneme_lengths"],
                batch["mel_lengths"],
            )
        return parts

    def __call__(self, context: Context) -> Tensor:
        parts = self.parts(context)
        return sum(self.weights[name] * value for name, value in parts.items())
