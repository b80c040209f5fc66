"""``audio.acoustic``: the text-to-mel model trained on its reconstruction and variance losses
and adversarially against a mel-spectrogram discriminator.

The objective is FastSpeech 2's (Ren et al. 2021: mel L1, duration / pitch / energy MSE, the
``audio.fastspeech2`` loss) plus a GAN on mels, as GANSpeech (Yang et al., Interspeech 2021)
and JETS (Lim et al., Interspeech 2022) add to it: the least-squares game (Mao et al. 2017, as
HiFi-GAN and JETS play it; the recipe's ``core.lsgan``) and feature matching on the
discriminator's activations (``core.feature_matching``). The model is trained with the true
durations, pitch and energy (teacher forcing, as FastSpeech 2), so its mel lines up with the
true one frame by frame; every step cuts one random window of ``segment`` frames per
utterance, at the same place from the true and the predicted mel, for the discriminator.

Each step is one discriminator update then one model update, both through the core's
optimisation path (``run.update``), with the recipe's losses: the adversarial loss by its role
(``adversarial``, default ``mel_adversarial``) and the model's terms listed in ``losses``
(default ``[variance]``). With the adversarial loss's ``weight`` at 0
(``losses.mel_adversarial.weight=0``) the model trains without the game: no discriminator
update, no adversarial term, no feature matching (it needs a trained discriminator).

A corpus without phoneme timings (``audio.tts`` with ``durations: search``) gets its durations
here, every step: the model's alignment module (``aligner: true``) scores the true mel against
the phonemes, monotonic alignment search (Glow-TTS) takes the best monotonic path on those
scores, its row sums are the durations the length regulator and the duration predictor use,
and the per-frame pitch and energy are averaged over them; the alignment module learns by the
forward-sum and binarisation losses (JETS), parts of ``audio.fastspeech2_loss``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context, FeatureMatchingLoss, Loss, discriminate
from genmm.training import Trainer
from genmm_audio.alignment import segment_means
from genmm_audio.tts_data import MEL_PAD

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

#: FastSpeech 2's optimiser (sec. 3.1: Adam, betas 0.9 / 0.98, eps 1e-9); its rate is the
#: recipe's (the paper's Noam warm-up is a recipe schedule)
MODEL_OPTIMIZER = {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-9}
#: HiFi-GAN's (Kong et al. 2020), which JETS keeps for its discriminators
DISCRIMINATOR_OPTIMIZER = {"name": "adamw", "lr": 2e-4, "betas": [0.8, 0.99]}
INPUTS = ("phonemes", "phoneme_lengths", "speaker", "durations", "pitch", "energy")


@dataclass
class AcousticContext(Context):
    """A step's :class:`~genmm.losses.Context` (``real`` / ``fake``: the discriminator's mel
    windows) with the model's ``outputs`` (whole mels and the variance predictions)."""

    outputs: dict[str, Tensor] = field(default_factory=dict)


def random_windows(
    real: Tensor, fake: Tensor, lengths: Tensor, segment: int
) -> tuple[Tensor, Tensor]:
    """One window of ``segment`` frames per utterance, at the same random place in the true
    and the predicted mel (padded with the mel floor when an utterance is shorter):
    ``(B, n_mels, T) -> (B, n_mels, segment)`` each."""
    frames = min(real.shape[-1], fake.shape[-1])
    if frames < segment:
        real = torch.nn.functional.pad(real, (0, segment - frames), value=MEL_PAD)
        fake = torch.nn.functional.pad(fake, (0, segment - frames), value=MEL_PAD)
    room = (lengths.clamp(max=frames) - segment).clamp(min=0)
    starts = (torch.rand(lengths.shape, device=lengths.device) * (room + 1)).long()
    index = starts[:, None] + torch.arange(segment, device=lengths.device)[None, :]  # (B, W)
    index = index[:, None, :].expand(-1, real.shape[1], -1)
    return torch.gather(real, 2, index), torch.gather(fake, 2, index)


class AcousticTrainer(Trainer):
    """One mel-discriminator update, then one acoustic-model update, per step."""

    registered_name = "audio.acoustic"

    def __init__(
        self,
        model: str = "acoustic",
        discriminator: str = "mel_discriminator",
        adversarial: str = "mel_adversarial",
        losses: list[str] | None = None,
        segment: int = 32,
    ) -> None:
        if segment < 8:
            raise ValueError(f"segment (frames the discriminator sees) must be >= 8, got {segment}")
        self.model_role, self.discriminator_role = model, discriminator
        self.adversarial_role = adversarial
        self.loss_roles = list(losses) if losses is not None else ["variance"]
        self.segment = segment
        self.d_steps = self.g_steps = 0

    def setup(self, run: TrainerRun) -> None:
        self.G = run.model(self.model_role)
        self.D = run.model(self.discriminator_role)
        self.adversarial = run.loss(self.adversarial_role, AdversarialLoss)
        terms: list[tuple[str, Loss]] = [(role, run.loss(role)) for role in self.loss_roles]
        for role, term in terms:
            if isinstance(term, AdversarialLoss) or getattr(term, "every", 1) != 1:
                raise RecipeError(
                    f"{self.registered_name}: losses.{role} must be a generator or discriminator "
                    "term that runs every step",
                    file=run.recipe_file,
                    key=f"phases.{run.phase_name}.losses",
                )
        self.g_terms = [(r, t) for r, t in terms if t.role == "generator"]
        self.d_terms = [(r, t) for r, t in terms if t.role == "discriminator"]
        if getattr(run.dataset, "searched", False) and getattr(self.G, "aligner", None) is None:
            raise RecipeError(
                "the data has no phoneme timings (durations: search): the model needs its "
                "alignment module, aligner: true",
                file=run.recipe_file,
                key=f"models.{self.model_role}.aligner",
            )
        run.add_optimizer(self.model_role, default=MODEL_OPTIMIZER)
        run.add_optimizer(self.discriminator_role, default=DISCRIMINATOR_OPTIMIZER)

    @property
    def adversarial_on(self) -> bool:
        return self.adversarial.weight > 0

    def context(self, run: TrainerRun) -> AcousticContext:
        """The next batch through the model (true durations, pitch, energy) and its windows."""
        batch = run.next_batch()
        batch = run.to_device({k: v for k, v in batch.items() if k not in ("real", "condition")})
        scores = None
        if "pitch_frames" in batch:  # no timings: durations by alignment search
            scores, path = self.G.align(
                batch["phonemes"], batch["phoneme_lengths"], batch["mel"], batch["mel_lengths"]
            )
            batch["durations"] = path.sum(-1)
            batch["pitch"] = segment_means(batch["pitch_frames"], path)
            batch["energy"] = segment_means(batch["energy_frames"], path)
            batch["alignment_path"] = path
        outputs = self.G(**{key: batch[key] for key in INPUTS})
        if scores is not None:
            outputs["alignment_scores"] = scores
        real, fake = random_windows(
            batch["mel"], outputs["mel"], batch["mel_lengths"], self.segment
        )
        return AcousticContext(
            self.G, self.D, real, fake, batch=batch, step=run.step, outputs=outputs
        )

    def train_step(self, run: TrainerRun) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        contexts: list[AcousticContext] = []
        if self.adversarial_on:

            def d_compute() -> Tensor:
                context = self.context(run)
                contexts.append(context)
                context.real_scores, context.real_features = discriminate(self.D, context.real)
                fake_scores, _ = discriminate(self.D, context.fake.detach())
                adversarial = self.adversarial.discriminator_loss(context.real_scores, fake_scores)
                logs["d_adversarial"] = adversarial.detach()
                loss = self.adversarial.weight * adversarial
                for role, term in self.d_terms:
                    value = term(context)
                    logs[role] = value.detach()
                    loss = loss + term.weight * value
                return loss

            logs["d_loss"] = run.update(self.discriminator_role, d_compute)
            self.d_steps += 1
            for context in contexts:
                context.real_scores = [s.detach() for s in context.real_scores]
                context.real_features = [f.detach() for f in context.real_features]
        pending = iter(contexts)

        def g_compute() -> Tensor:
            context = next(pending, None) or self.context(run)
            loss = context.fake.new_zeros(())
            if self.adversarial_on:
                context.fake_scores, context.fake_features = discriminate(self.D, context.fake)
                adversarial = self.adversarial.generator_loss(context.fake_scores)
                logs["g_adversarial"] = adversarial.detach()
                loss = loss + self.adversarial.weight * adversarial
            for role, term in self.g_terms:
                if isinstance(term, FeatureMatchingLoss) and not self.adversarial_on:
                    continue  # no game, no discriminator features to match
                parts = getattr(term, "parts", None)
                if callable(parts):
                    values = parts(context)
                    logs.update({f"{role}.{k}": v.detach() for k, v in values.items()})
                    value = sum(term.weights[k] * v for k, v in values.items())
                else:
                    value = term(context)
                logs[role] = value.detach()
                loss = loss + term.weight * value
            return loss

        self.D.requires_grad_(False)
        try:
            logs["g_loss"] = run.update(self.model_role, g_compute)
        finally:
            self.D.requires_grad_(True)
        self.g_steps += 1
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps, "g_steps": self.g_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        self.g_steps = int(state.get("g_steps", 0))
