"""AttnGAN: Xu, Zhang, Huang, Zhang, Gan, Huang & He, "AttnGAN: Fine-Grained Text to Image
Generation with Attentional Generative Adversarial Networks", CVPR 2018 (arXiv:1711.10485);
details from the authors' code (taoxugit/AttnGAN, ``code/model.py``, ``code/trainer.py``,
``code/miscc/losses.py``, ``cfg/bird_attn2.yml``).

* :class:`ConditioningAugmentation` (sec. 3.1, after StackGAN): the sentence vector ē (256)
  -> a linear layer and GLU -> (μ, log σ²) of a 100-dimensional code, c = μ + σ ⊙ ε; the
  generator adds KL(N(μ, σ²) ‖ N(0, I)) (weight 1).
* :class:`AttnGANGenerator` (sec. 3.1, eq. 1-2): F_0 maps [z (100), c] through a linear layer
  (batch norm, GLU) to 16·GF x 4 x 4 and ×2 upsampling blocks (nearest, 3 x 3 convolution,
  batch norm, GLU) to GF channels at the first stage's size; each later stage F_i attends over
  the word features (:class:`WordAttention`, eq. 2: the words mapped to the image width by a
  1 x 1 convolution, a softmax over the words at each sub-region, padding masked), joins the
  word contexts to the image features, runs two residual blocks and upsamples ×2. Each stage
  has a 3 x 3 convolution and tanh to an image. GF 32, z 100, the CA code 100, two residual
  blocks per stage (``bird_attn2.yml``); ``stages`` sets the count (2: 32² -> 64²).
* :class:`AttnGANDiscriminators`: one discriminator per stage (the authors' D_NET64/128/256):
  stride-2 4 x 4 convolutions (batch norm after the first, leaky ReLU 0.2) down to 8·DF x 4 x 4
  (extra down and 3 x 3 blocks at larger sizes), an unconditional head (a 4 x 4 convolution)
  and a conditional head on the features joined with the replicated sentence vector (a 3 x 3
  block, then a 4 x 4 convolution). DF 64.
* :class:`MatchingBCELoss` (``t2i.matching_bce``, sec. 3.1 eq. 3-5 and the authors'
  ``discriminator_loss``): per stage, D's loss is (BCE(real, 1) + BCE(real | e, 1)) / 2 +
  (BCE(fake, 0) + BCE(fake | e, 0) + BCE(real | wrong e, 0)) / 3, and G's is BCE(fake, 1) +
  BCE(fake | e, 1).
* :class:`AttnGANTrainer` (``t2i.attngan``): that game on the core's path, with the DAMSM
  loss of the last stage's images (both encoders frozen, λ = 5), the KL term (weight 1),
  Adam 2e-4, betas (0.5, 0.999) for G and every D, and a moving average of G (0.999).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm.errors import RecipeError
from genmm.losses import Context
from genmm_t2i.damsm import damsm_loss
from genmm_t2i.losses import MatchingAdversarialLoss, TextConditionedGAN

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

ATTNGAN_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


def sizes_of(description: dict[str, Any] | None, size: int | None, stages: int) -> list[int]:
    """Each stage's image side, the last the data's: (32, 64) for 64² and two stages."""
    size = size or int((description or {}).get("image_size", 0))
    first = size // 2 ** (stages - 1)
    if stages < 1 or first < 8 or first * 2 ** (stages - 1) != size or first & (first - 1):
        raise ValueError(f"image size {size} must be 2^(stages - 1) x a power of two >= 8")
    return [first * 2**i for i in range(stages)]


# ====================================================================== generator
class GLU(nn.Module):
    """x[:, :C] * sigmoid(x[:, C:])."""

    def forward(self, x: Tensor) -> Tensor:
        half = x.shape[1] // 2
        return x[:, :half] * torch.sigmoid(x[:, half:])


def up_block(width_in: int, width_out: int) -> nn.Sequential:
    """×2 nearest upsampling, 3 x 3 convolution, batch norm, GLU: (B, in, H, W) -> (B, out, 2H,
    2W)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(width_in, 2 * width_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(2 * width_out),
        GLU(),
    )


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(width, 2 * width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(2 * width),
            GLU(),
            nn.Conv2d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ConditioningAugmentation(nn.Module):
    """ē (B, 256) -> (c (B, 100), μ, log σ²)."""

    def __init__(self, text_dim: int = 256, condition_dim: int = 100) -> None:
        super().__init__()
        self.fc = nn.Linear(text_dim, 4 * condition_dim)
        self.condition_dim = condition_dim

    def forward(self, sentence: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        hidden = GLU()(self.fc(sentence))
        mu, logvar = hidden[:, : self.condition_dim], hidden[:, self.condition_dim :]
        code = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return code, mu, logvar


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)), averaged over elements (the authors' ``KL_loss``)."""
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


class WordAttention(nn.Module):
    """Eq. 2: image features h (B, C, H, W), words e (B, D, T), padding mask (B, T) ->
    (word contexts (B, C, H, W), attention (B, T, H, W) summing to one over the words)."""

    def __init__(self, image_dim: int, text_dim: int = 256) -> None:
        super().__init__()
        self.project = nn.Conv1d(text_dim, image_dim, 1, bias=False)  # U e: to the image width

    def forward(self, hidden: Tensor, words: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        batch, channels, height, width = hidden.shape
        source = self.project(words)  # (B, C, T)
        scores = torch.bmm(hidden.flatten(2).transpose(1, 2), source)  # (B, HW, T)
        scores = scores.masked_fill(mask[:, None, :], float("-inf"))
        attention = torch.softmax(scores, dim=2)  # over the words
        contexts = torch.bmm(source, attention.transpose(1, 2))  # (B, C, HW)
        maps = attention.transpose(1, 2).reshape(batch, -1, height, width)
        return contexts.view(batch, channels, height, width), maps


class NextStage(nn.Module):
    """F_i: attention over words, two residual blocks on [h, contexts], ×2 upsampling."""

    def __init__(self, width: int, text_dim: int, residual_blocks: int = 2) -> None:
        super().__init__()
        self.attention = WordAttention(width, text_dim)
        self.residual = nn.Sequential(*(ResidualBlock(2 * width) for _ in range(residual_blocks)))
        self.upsample = up_block(2 * width, width)

    def forward(self, hidden: Tensor, text: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        contexts, maps = self.attention(hidden, text["words"], text["mask"])
        joined = torch.cat([hidden, contexts], 1)  # (B, 2C, H, W)
        return self.upsample(self.residual(joined)), maps  # (B, C, 2H, 2W)


class AttnGANGenerator(nn.Module):
    """(z (B, 100), text) -> every stage's images packed in one tensor (B, Σ 3·S_i²); use
    :meth:`unpack` for the list of (B, 3, S_i, S_i) and :meth:`images` for the last stage."""

    def __init__(
        self,
        stages: int = 2,
        gf: int = 32,
        latent_dim: int = 100,
        text_dim: int = 256,
        condition_dim: int = 100,
        residual_blocks: int = 2,
        size: int | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.sizes = sizes_of(description, size, stages)
        self.latent_dim, self.text_dim = latent_dim, text_dim
        self.augment = ConditioningAugmentation(text_dim, condition_dim)
        start = 16 * gf
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + condition_dim, 2 * start * 4 * 4, bias=False),
            nn.BatchNorm1d(2 * start * 4 * 4),
            GLU(),
        )
        ups, width, blocks = int(round(math.log2(self.sizes[0] / 4))), start, []
        for index in range(ups):  # 16GF x 4² -> ... -> GF x S_0²
            out = gf if index == ups - 1 else width // 2
            blocks.append(up_block(width, out))
            width = out
        self.first = nn.Sequential(*blocks)
        self.start_width = start
        self.later = nn.ModuleList(NextStage(gf, text_dim, residual_blocks) for _ in self.sizes[1:])
        self.to_image = nn.ModuleList(
            nn.Sequential(nn.Conv2d(gf, 3, 3, 1, 1, bias=False), nn.Tanh()) for _ in self.sizes
        )

    def stages(self, z: Tensor, text: dict[str, Tensor]):
        """-> (images per stage, attention maps per later stage, μ, log σ²)."""
        code, mu, logvar = self.augment(text["sentence"])
        hidden = self.fc(torch.cat([z, code], 1)).view(z.shape[0], self.start_width, 4, 4)
        hidden = self.first(hidden)  # (B, GF, S_0, S_0)
        images, maps = [self.to_image[0](hidden)], []
        for stage, to_image in zip(self.later, self.to_image[1:]):
            hidden, attention = stage(hidden, text)  # (B, GF, 2S, 2S), (B, T, S, S)
            images.append(to_image(hidden))
            maps.append(attention)
        return images, maps, mu, logvar

    def forward(self, z: Tensor, text: dict[str, Tensor]) -> Tensor:
        images, _, mu, logvar = self.stages(z, text)
        if isinstance(text, dict) and "ca" in text:  # the trainer's slot for the KL term
            text["ca"] = (mu, logvar)
        return torch.cat([image.flatten(1) for image in images], 1)

    def unpack(self, packed: Tensor) -> list[Tensor]:
        images, start = [], 0
        for side in self.sizes:
            images.append(packed[:, start : start + 3 * side * side].view(-1, 3, side, side))
            start += 3 * side * side
        return images

    def images(self, packed: Tensor) -> Tensor:
        """The last stage's images of a packed output (what samples and metrics show)."""
        return self.unpack(packed)[-1] if packed.dim() == 2 else packed

    def attention_maps(self, z: Tensor, text: dict[str, Tensor]) -> tuple[Tensor, list]:
        """-> (last images, [(stage name, maps (B, T, S, S))]) for ``--attention``."""
        images, maps, _, _ = self.stages(z, text)
        named = [
            (f"stage {i + 2}, {side // 2}² regions", m)
            for i, (side, m) in enumerate(zip(self.sizes[1:], maps))
        ]
        return images[-1], named


# ====================================================================== discriminators
def down_blocks(ndf: int, size: int) -> nn.Sequential:
    """The authors' encode_image_by_16times generalised: S -> 4 at 8·ndf channels (and their
    extra down + 3 x 3 blocks when S needs more than four halvings)."""
    halvings = int(round(math.log2(size / 4)))
    layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    width = ndf
    for index in range(1, halvings):
        out = ndf * min(2**index, 16)
        layers += [
            nn.Conv2d(width, out, 4, 2, 1, bias=False),
            nn.BatchNorm2d(out),
            nn.LeakyReLU(0.2, True),
        ]
        width = out
    if width != 8 * ndf:
        layers += [
            nn.Conv2d(width, 8 * ndf, 3, 1, 1, bias=False),
            nn.BatchNorm2d(8 * ndf),
            nn.LeakyReLU(0.2, True),
        ]
    return nn.Sequential(*layers)


class StageDiscriminator(nn.Module):
    def __init__(self, ndf: int, text_dim: int, size: int) -> None:
        super().__init__()
        self.features = down_blocks(ndf, size)  # (B, 3, S, S) -> (B, 8ndf, 4, 4)
        self.unconditional = nn.Conv2d(8 * ndf, 1, 4, 4)
        self.joint = nn.Sequential(
            nn.Conv2d(8 * ndf + text_dim, 8 * ndf, 3, 1, 1, bias=False),
            nn.BatchNorm2d(8 * ndf),
            nn.LeakyReLU(0.2, True),
        )
        self.conditional = nn.Conv2d(8 * ndf, 1, 4, 4)

    def condition_head(self, features: Tensor, sentence: Tensor) -> Tensor:
        replicated = sentence[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.conditional(self.joint(torch.cat([features, replicated], 1))).flatten(1)


class AttnGANDiscriminators(nn.Module):
    """One discriminator per generator stage. D(x, text): x packed stages (from G) or real
    images at the last size (resized for the earlier stages) -> ([cond_0, uncond_0, cond_1,
    ...] logits, [features per stage])."""

    conditional = True

    def __init__(
        self,
        stages: int = 2,
        ndf: int = 64,
        text_dim: int = 256,
        size: int | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.sizes = sizes_of(description, size, stages)
        self.stages = nn.ModuleList(StageDiscriminator(ndf, text_dim, s) for s in self.sizes)

    def split(self, x: Tensor) -> list[Tensor]:
        if x.dim() == 2:  # a generator's packed stages
            images, start = [], 0
            for side in self.sizes:
                images.append(x[:, start : start + 3 * side * side].view(-1, 3, side, side))
                start += 3 * side * side
            return images
        return [
            x
            if x.shape[-1] == side
            else F.interpolate(
                x, size=(side, side), mode="bilinear", align_corners=False, antialias=True
            )
            for side in self.sizes
        ]

    def forward(self, x: Tensor, text: dict[str, Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        scores, features = [], []
        for stage, image in zip(self.stages, self.split(x)):
            feature = stage.features(image)
            scores += [
                stage.condition_head(feature, text["sentence"]),
                stage.unconditional(feature).flatten(1),
            ]
            features.append(feature)
        return scores, features


# ====================================================================== loss and trainer
class MatchingBCELoss(MatchingAdversarialLoss):
    """AttnGAN's per-stage objective on logits (see the module docstring)."""

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        real_loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        fake_loss = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        return real_loss / 2 + fake_loss / 3

    def g_term(self, fake: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def mismatch_term(self, scores: list[Tensor], keep: Tensor) -> Tensor:
        total = scores[0].new_zeros(())
        for logits in scores:
            values = F.binary_cross_entropy_with_logits(
                logits.flatten(1).mean(1), torch.zeros_like(keep), reduction="none"
            )
            total = total + (values * keep).sum() / keep.sum().clamp_min(1) / 3
        return total


class AttnGANTrainer(TextConditionedGAN):
    """``t2i.attngan``: the multi-stage game, the DAMSM term (λ = 5) and the KL term (1)."""

    registered_name = "t2i.attngan"
    default_optimizers = {"generator": ATTNGAN_ADAM, "discriminator": ATTNGAN_ADAM}

    def __init__(
        self,
        text_encoder: str = "text_encoder",
        image_encoder: str = "image_encoder",
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        damsm_weight: float = 5.0,
        kl_weight: float = 1.0,
        gamma1: float = 4.0,
        gamma2: float = 5.0,
        gamma3: float = 10.0,
        ema: float | None = 0.999,
        ema_start: int = 0,
    ) -> None:
        super().__init__(
            text_encoder, generator, discriminator, adversarial, losses, 1, ema, ema_start
        )
        self.image_role = image_encoder
        self.damsm_weight, self.kl_weight = damsm_weight, kl_weight
        self.gammas = (gamma1, gamma2, gamma3)

    def setup(self, run: TrainerRun) -> None:
        super().setup(run)
        if not isinstance(self.G, AttnGANGenerator) or not isinstance(
            self.D, AttnGANDiscriminators
        ):
            raise RecipeError(
                "t2i.attngan needs t2i.attngan_generator and t2i.attngan_discriminators",
                file=run.recipe_file,
                key="models",
            )
        if self.G.sizes != self.D.sizes:
            raise RecipeError(
                f"generator stages {self.G.sizes} and discriminator stages {self.D.sizes} differ",
                file=run.recipe_file,
                key="models",
            )
        self.image_encoder = run.model(self.image_role)
        self.image_encoder.requires_grad_(False).eval()

    def make_fake(self, run: TrainerRun, latent: Any, condition: Any) -> Tensor:
        text = self.encode(condition)
        slot = {**text, "ca": None}  # G leaves (μ, log σ²) here
        fake = self.G(latent, slot)
        condition["ca"] = slot["ca"]
        return fake

    def mismatched_scores(self, context: Context) -> list[Tensor]:
        """Conditional logits of real image i + 1 with caption i, from the real features."""
        sentence = self.encode(context.condition)["sentence"]
        return [
            stage.condition_head(features.roll(-1, 0), sentence)
            for stage, features in zip(self.D.stages, context.real_features)
        ]

    def extra_generator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor | None:
        text = self.encode(context.condition)
        self.image_encoder.eval()
        regions, global_features = self.image_encoder(self.G.images(context.fake))
        damsm = damsm_loss(
            text, regions, global_features, context.condition["tokens"], *self.gammas
        )
        mu, logvar = context.condition["ca"]
        kl = kl_divergence(mu, logvar)
        logs["g_damsm"], logs["g_kl"] = damsm["total"].detach(), kl.detach()
        return self.damsm_weight * damsm["total"] + self.kl_weight * kl
