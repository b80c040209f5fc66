"""DF-GAN: Tao, Tang, Wu, Jing, Bao & Xu, "DF-GAN: A Simple and Effective Baseline for
Text-to-Image Synthesis", CVPR 2022 (arXiv:2008.05865); widths and details from the authors'
code (tobran/DF-GAN, ``code/models/GAN.py``, ``code/lib/modules.py``).

* :class:`DFGANGenerator` (sec. 3.1, fig. 2): noise z (100) -> a linear layer to 8·ngf x 4 x 4,
  then one UPBlock per doubling up to the image size (×2 nearest upsampling, a residual block
  whose two 3 x 3 convolutions each follow a deep fusion block, a 1 x 1 shortcut where the
  width changes), leaky ReLU, a 3 x 3 convolution to RGB and tanh. Widths ngf x (8, 8, ..., 4,
  2, 1) from 4 x 4 up (``ngf`` 32 in the paper's birds/COCO settings).
* :class:`DFBlock` (sec. 3.3, fig. 3): two affine transforms, each followed by leaky ReLU 0.2;
  an affine transform scales and shifts every channel by γ(e), β(e), each an MLP
  (linear, ReLU, linear) of the condition, initialised to the identity (γ = 1, β = 0). The
  condition is the sentence vector concatenated with z (the authors' code).
* :class:`DFGANDiscriminator` (sec. 3.2, the one-way output): a 3 x 3 convolution, then
  DownBlocks (a 4/2/1 and a 3 x 3 convolution with leaky ReLU, plus a 1 x 1 shortcut that is
  average-pooled, the residual scaled by a learnt γ starting at 0) down to 4 x 4 at 8·ndf
  channels; the sentence vector replicated to 4 x 4 and concatenated, then a 3 x 3 convolution
  to 2·ndf, leaky ReLU and a 4 x 4 convolution to one score.
* :class:`MatchingAwareGradientPenalty` (``t2i.ma_gp``, sec. 3.2, eq. 1): k · E[(‖∇_x D(x, e)‖
  + ‖∇_e D(x, e)‖)^p] on real images with their captions, k = 2, p = 6 (the authors' code takes
  the norm of the joint gradient, as here).
* :class:`MatchingHingeLoss` (``t2i.matching_hinge``, eq. 1-2): D on the hinge of real-matching
  pairs, of fakes (× ½) and of real images with mismatched captions (× ½); G on −D(G(z), e).
* :class:`DFGANTrainer` (``t2i.dfgan``): ``core.gan`` with a frozen, DAMSM-pretrained text
  encoder (role ``text_encoder``); Adam G 1e-4, D 4e-4, betas (0.0, 0.9).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm.errors import RecipeError
from genmm.losses import Context, Loss
from genmm_t2i.losses import MatchingAdversarialLoss, TextConditionedGAN

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

DFGAN_G_ADAM = {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}
DFGAN_D_ADAM = {"name": "adam", "lr": 4e-4, "betas": [0.0, 0.9]}


def image_size(description: dict[str, Any] | None, size: int | None) -> int:
    size = size or int((description or {}).get("image_size", 0))
    if size < 8 or 2 ** int(round(math.log2(size))) != size:
        raise ValueError(f"image size must be a power of two >= 8, got {size}")
    return size


class Affine(nn.Module):
    """x · γ(c) + β(c) per channel; γ, β = linear-ReLU-linear MLPs starting at (1, 0)."""

    def __init__(self, condition_dim: int, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Sequential(
            nn.Linear(condition_dim, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels)
        )
        self.beta = nn.Sequential(
            nn.Linear(condition_dim, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels)
        )
        nn.init.zeros_(self.gamma[2].weight)
        nn.init.ones_(self.gamma[2].bias)
        nn.init.zeros_(self.beta[2].weight)
        nn.init.zeros_(self.beta[2].bias)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        return self.gamma(condition)[:, :, None, None] * x + self.beta(condition)[:, :, None, None]


class DFBlock(nn.Module):
    """Deep fusion: affine, leaky ReLU, affine, leaky ReLU (fig. 3)."""

    def __init__(self, condition_dim: int, channels: int) -> None:
        super().__init__()
        self.affine0 = Affine(condition_dim, channels)
        self.affine1 = Affine(condition_dim, channels)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        x = F.leaky_relu(self.affine0(x, condition), 0.2)
        return F.leaky_relu(self.affine1(x, condition), 0.2)


class UpBlock(nn.Module):
    """×2 upsampling, then shortcut + [fuse, conv, fuse, conv]: (B, in, H, W) -> (B, out, 2H,
    2W)."""

    def __init__(self, condition_dim: int, width_in: int, width_out: int) -> None:
        super().__init__()
        self.fuse1, self.fuse2 = DFBlock(condition_dim, width_in), DFBlock(condition_dim, width_out)
        self.conv1 = nn.Conv2d(width_in, width_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(width_out, width_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(width_in, width_out, 1) if width_in != width_out else None

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0)
        residual = self.conv2(self.fuse2(self.conv1(self.fuse1(x, condition)), condition))
        return (self.shortcut(x) if self.shortcut is not None else x) + residual


def widths(base: int, size: int) -> list[int]:
    """The authors' ``get_G_in_out_chs``: base x min(2^i, 8) for i < log2(size) - 1."""
    layers = int(round(math.log2(size))) - 1
    return [base * min(2**i, 8) for i in range(layers)]


class DFGANGenerator(nn.Module):
    """(z (B, 100), text {"sentence": (B, 256), ...}) -> images (B, 3, S, S) in [-1, 1]."""

    def __init__(
        self,
        ngf: int = 32,
        latent_dim: int = 100,
        text_dim: int = 256,
        size: int | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.size, self.latent_dim, self.text_dim = (
            image_size(description, size),
            latent_dim,
            text_dim,
        )
        channels = widths(ngf, self.size)[::-1]  # 8ngf ... ngf
        self.fc = nn.Linear(latent_dim, channels[0] * 4 * 4)
        self.blocks = nn.ModuleList(
            UpBlock(latent_dim + text_dim, a, b) for a, b in zip(channels[:-1], channels[1:])
        )
        self.to_rgb = nn.Sequential(
            nn.LeakyReLU(0.2), nn.Conv2d(channels[-1], 3, 3, 1, 1), nn.Tanh()
        )
        self.start_width = channels[0]

    def forward(self, z: Tensor, text: dict[str, Tensor]) -> Tensor:
        x = self.fc(z).view(z.shape[0], self.start_width, 4, 4)  # (B, 8ngf, 4, 4)
        condition = torch.cat([z, text["sentence"]], 1)  # (B, 100 + 256)
        for block in self.blocks:
            x = block(x, condition)  # (B, c, H, W) -> (B, c', 2H, 2W)
        return self.to_rgb(x)  # (B, 3, S, S)


class DownBlock(nn.Module):
    """(B, in, H, W) -> (B, out, H/2, W/2): avgpool(shortcut(x)) + γ · residual(x)."""

    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(width_in, width_out, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width_out, width_out, 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.shortcut = nn.Conv2d(width_in, width_out, 1) if width_in != width_out else None
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.shortcut(x) if self.shortcut is not None else x
        return F.avg_pool2d(shortcut, 2) + self.gamma * self.residual(x)


class DFGANDiscriminator(nn.Module):
    """D(x, text) -> (scores (B, 1), [image features (B, 8ndf, 4, 4)]); :meth:`head` scores
    features with any sentence (the mismatched pairs reuse the real features)."""

    conditional = True

    def __init__(
        self,
        ndf: int = 32,
        text_dim: int = 256,
        size: int | None = None,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.size, self.text_dim = image_size(description, size), text_dim
        channels = widths(ndf, self.size)
        self.conv_img = nn.Conv2d(3, ndf, 3, 1, 1)
        self.blocks = nn.Sequential(*(DownBlock(a, b) for a, b in zip(channels[:-1], channels[1:])))
        self.joint = nn.Sequential(
            nn.Conv2d(channels[-1] + text_dim, 2 * ndf, 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * ndf, 1, 4, 1, 0, bias=False),
        )

    def features(self, images: Tensor) -> Tensor:
        return self.blocks(self.conv_img(images))  # (B, 3, S, S) -> (B, 8ndf, 4, 4)

    def head(self, features: Tensor, sentence: Tensor) -> Tensor:
        replicated = sentence[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.joint(torch.cat([features, replicated], 1)).flatten(1)  # (B, 1)

    def forward(self, images: Tensor, text: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
        features = self.features(images)
        return self.head(features, text["sentence"]), [features]


class MatchingAwareGradientPenalty(Loss):
    """MA-GP (eq. 1): k · E[‖(∇_x D(x, e), ∇_e D(x, e))‖^p] on real, matching pairs."""

    role = "discriminator"

    def __init__(self, k: float = 2.0, p: float = 6.0, weight: float = 1.0, every: int = 1):
        super().__init__(weight=weight, every=every)
        self.k, self.p = k, p

    def __call__(self, context: Context) -> Tensor:
        text = context.condition.get("text") if isinstance(context.condition, dict) else None
        if text is None:
            raise ValueError("t2i.ma_gp needs a text-conditioned trainer (t2i.dfgan)")
        images = context.real.detach().requires_grad_(True)
        sentence = text["sentence"].detach().requires_grad_(True)
        scores, _ = context.discriminator(images, {**text, "sentence": sentence})
        gradients = torch.autograd.grad(scores.sum(), (images, sentence), create_graph=True)
        joint = torch.cat([g.flatten(1) for g in gradients], 1)
        return self.k * joint.norm(2, dim=1).pow(self.p).mean()


class MatchingHingeLoss(MatchingAdversarialLoss):
    """DF-GAN's hinge (eq. 1-2): D: E[max(0, 1 − D(x, e))] + ½ E[max(0, 1 + D(G(z), e))]
    + ½ E[max(0, 1 + D(x, ê))]; G: −E[D(G(z), e)]."""

    def __init__(self, fake_weight: float = 0.5, mismatch_weight: float = 0.5, weight: float = 1.0):
        super().__init__(weight)
        self.fake_weight, self.mismatch_weight = fake_weight, mismatch_weight

    def d_term(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1.0 - real).mean() + self.fake_weight * F.relu(1.0 + fake).mean()

    def g_term(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def mismatch_term(self, scores: list[Tensor], keep: Tensor) -> Tensor:
        total = scores[0].new_zeros(())
        for values in scores:
            values = F.relu(1.0 + values.flatten(1).mean(1))
            total = total + self.mismatch_weight * (values * keep).sum() / keep.sum().clamp_min(1)
        return total


class DFGANTrainer(TextConditionedGAN):
    """``t2i.dfgan``: DF-GAN's one-stage game on the core's path, the text encoder frozen."""

    registered_name = "t2i.dfgan"
    default_optimizers = {"generator": DFGAN_G_ADAM, "discriminator": DFGAN_D_ADAM}

    def setup(self, run: TrainerRun) -> None:
        super().setup(run)
        if not isinstance(self.D, DFGANDiscriminator):
            raise RecipeError(
                "t2i.dfgan needs the discriminator t2i.dfgan_discriminator",
                file=run.recipe_file,
                key="models.discriminator",
            )

    def mismatched_scores(self, context: Context) -> list[Tensor]:
        """Real image i + 1 with caption i, reusing the real image features."""
        features = context.real_features[0]
        text = self.encode(context.condition)
        return [self.D.head(features.roll(-1, 0), text["sentence"])]
