"""What the text-to-image GANs share: an adversarial loss with a mismatched-caption term, and
the text-conditioned extension of ``core.gan``.

Both AttnGAN (Xu et al. 2018, sec. 3.1: "conditional" terms, after Reed et al. 2016's matching-
aware discriminator) and DF-GAN (Tao et al. 2022, eq. 1) train D to reject a real image paired
with a caption that is not its own. :class:`TextConditionedGAN` draws those pairs by rolling
the batch by one (the authors' codes), never counting a pair whose two captions are identical
(the captioned-shapes grammar repeats captions), and adds the loss's ``mismatch_term`` to D's
loss. The text encoder (role ``text_encoder``, pre-trained by the ``t2i.damsm`` phase) is
frozen: each batch's caption tokens are encoded once, without gradients, and the features
handed to G and D as ``{"words", "sentence", "mask"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from genmm.errors import RecipeError
from genmm.losses import AdversarialLoss, Context
from genmm.training import GANTrainer, generate
from genmm_t2i.text_encoder import encode_text

if TYPE_CHECKING:
    from genmm.surface import TrainerRun


class MatchingAdversarialLoss(AdversarialLoss):
    """An adversarial loss that also scores mismatched (real image, caption) pairs."""

    def mismatch_term(self, scores: list[Tensor], keep: Tensor) -> Tensor:
        """D's loss on mismatched pairs' ``scores`` (a list of (B, ...), one per scale),
        averaged over the pairs ``keep`` (B,) marks."""
        raise NotImplementedError


class TextConditionedGAN(GANTrainer):
    """``core.gan`` whose condition is a caption: G(z, text), D(x, text), a mismatched term."""

    registered_name = "t2i.text_gan"

    def __init__(
        self,
        text_encoder: str = "text_encoder",
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        n_critic: int = 1,
        ema: float | None = None,
        ema_start: int = 0,
    ) -> None:
        super().__init__(generator, discriminator, adversarial, losses, n_critic, ema, ema_start)
        self.text_role = text_encoder

    def setup(self, run: TrainerRun) -> None:
        super().setup(run)
        if not isinstance(self.adversarial, MatchingAdversarialLoss):
            raise RecipeError(
                f"{self.registered_name} needs a text-matching adversarial loss "
                "(t2i.matching_hinge)",
                file=run.recipe_file,
                key=f"losses.{self.adversarial_role}",
            )
        self.text_encoder = run.model(self.text_role)
        self.text_encoder.requires_grad_(False).eval()

    def encode(self, condition: Any) -> dict[str, Tensor]:
        return encode_text(self.text_encoder, condition)

    def make_fake(self, run: TrainerRun, latent: Any, condition: Any) -> Tensor:
        return generate(self.G, latent, self.encode(condition))

    def discriminate(self, x: Tensor, condition: Any):
        scores, features = self.D(x, self.encode(condition))
        return (list(scores) if isinstance(scores, (list, tuple)) else [scores]), features

    def mismatched_scores(self, context: Context) -> list[Tensor]:
        """D's scores of real image i + 1 with caption i (subclasses may reuse features)."""
        scores, _ = self.discriminate(context.real.roll(-1, 0), context.condition)
        return scores

    def extra_discriminator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor | None:
        tokens = context.condition["tokens"]
        keep = (tokens != tokens.roll(-1, 0)).any(1).float()  # captions that differ
        loss = self.adversarial.mismatch_term(self.mismatched_scores(context), keep)
        logs["d_mismatch"] = loss.detach()
        return self.adversarial.weight * loss
