"""MoCoGAN: Tulyakov, Liu, Yang & Kautz, "MoCoGAN: Decomposing Motion and Content for Video
Generation", CVPR 2018 (arXiv:1707.04993).

* :class:`MoCoGANGenerator` (sec. 3, fig. 2): a content code z_C (50, Gaussian) fixed for the
  clip, an optional one-hot action category z_A (sec. 3.2; 6 in the authors' code) and a motion
  code per frame z_M^(t) (10) from a GRU cell (h_0 and the innovations e_t Gaussian); each frame
  is G_I([z_C, z_A, z_M^(t)]), a DCGAN-style transposed-convolution image generator.
* :class:`MoCoGANDiscriminator` holds both discriminators: D_I, a patch image discriminator
  on single frames, and D_V, a 3-D convolutional video discriminator whose extra outputs
  classify the action (sec. 3.2, the InfoGAN-like categorical term).
* :class:`MoCoGANTrainer` (``video.mocogan``, sec. 3.1, eq. 2-3): one step updates D_I and D_V
  on real/fake single frames and clips (and D_V's category head on the real clips' actions),
  then G on both discriminators and the category of its clips. Adam, lr 2e-4, betas
  (0.5, 0.999), weight decay 1e-5 (the authors' code, sergeytulyakov/mocogan).

Widths follow the authors' code (ngf = ndf = 64, kernels 4, leaky ReLU 0.2, no biases in the
discriminators, optional Gaussian input noise ``noise_sigma``). Their image batch and video
batch are different sizes (10 and 3): here the phase's ``batch_size`` is the image batch (clips
drawn, one random frame of each for D_I) and ``video_batch`` of those clips go to D_V.

One difference in *how* (not what) is computed: the authors generate a whole clip for each
image-batch sample and new fakes again for the generator step. Here one generator call per step
makes the ``video_batch`` clips and decodes only the one frame of each image-batch sample that
D_I sees (the GRU runs for every sample, the image generator only where needed), and the
generator step reuses the discriminator step's fakes (as ``core.gan`` does): the same
distributions, several times fewer frames decoded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genmm.errors import RecipeError
from genmm.losses import Context
from genmm.training import GANTrainer

if TYPE_CHECKING:
    from genmm.surface import TrainerRun

#: the authors' optimiser (sergeytulyakov/mocogan, trainers.py)
MOCOGAN_ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "weight_decay": 1e-5}


def _stages(size: int) -> int:
    stages = int(round(math.log2(size / 4)))
    if size < 8 or 4 * 2**stages != size:
        raise ValueError(f"size must be 4 x a power of two (8, 16, 32, 64, 128), got {size}")
    return stages


def _facts(description: dict[str, Any] | None, frames: int, size: int, channels: int):
    description = description or {}
    return (
        int(description.get("frames", frames)),
        int(description.get("size", size)),
        int(description.get("channels", channels)),
    )


class Noise(nn.Module):
    """Gaussian input noise of std ``sigma`` in training (the authors' ``--use_noise``)."""

    def __init__(self, sigma: float = 0.0) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.sigma > 0:
            return x + self.sigma * torch.randn_like(x)
        return x


# ====================================================================== generator
class MoCoGANGenerator(nn.Module):
    """Latent (B, content + motion x (frames + 1)) -> clips (B, C, T, H, W) in [-1, 1].

    ``categories``: the action categories (one-hot z_A); ``None`` takes the data's class count
    when the data is conditional, else 0 (no categories). Sampling options of :meth:`forward`:
    ``action=K`` makes every clip action K; ``swap=True`` makes the content x motion grid.
    """

    def __init__(
        self,
        content_dim: int = 50,
        motion_dim: int = 10,
        categories: int | None = None,
        frames: int = 16,
        size: int = 64,
        channels: int = 3,
        width: int = 64,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        frames, size, channels = _facts(description, frames, size, channels)
        if categories is None:
            description = description or {}
            categories = (
                int(description.get("num_classes", 0)) if description.get("conditional") else 0
            )
        self.content_dim, self.motion_dim, self.categories = content_dim, motion_dim, categories
        self.frames, self.size, self.channels = frames, size, channels
        self.latent_dim = content_dim + motion_dim * (frames + 1)
        self.recurrent = nn.GRUCell(motion_dim, motion_dim)
        stages = _stages(size)
        code = content_dim + categories + motion_dim
        width_in = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(code, width_in, 4, 1, 0, bias=False),  # (N, code, 1, 1) -> 4x4
            nn.BatchNorm2d(width_in),
            nn.ReLU(True),
        ]
        for index in range(stages):
            if index == stages - 1:
                layers += [nn.ConvTranspose2d(width_in, channels, 4, 2, 1, bias=False), nn.Tanh()]
            else:
                layers += [
                    nn.ConvTranspose2d(width_in, width_in // 2, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(width_in // 2),
                    nn.ReLU(True),
                ]
                width_in //= 2
        self.image = nn.Sequential(*layers)

    # ---------------------------------------------------------------- sampling
    def sample_latent(self, n: int, device: torch.device | str) -> Tensor:
        """[z_C, h_0, e_1..e_T], all standard Gaussian (sec. 3.1)."""
        return torch.randn(n, self.latent_dim, device=device)

    def sample_condition(self, n: int, device: torch.device | str) -> Tensor | None:
        """Uniform random actions (``None`` without categories)."""
        if not self.categories:
            return None
        return torch.randint(self.categories, (n,), device=device)

    @property
    def conditional(self) -> bool:
        return self.categories > 0

    def split(self, latent: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """latent -> content (B, 50), h_0 (B, 10), innovations (B, T, 10)."""
        content = latent[:, : self.content_dim]
        h0 = latent[:, self.content_dim : self.content_dim + self.motion_dim]
        noise = latent[:, self.content_dim + self.motion_dim :].reshape(
            -1, self.frames, self.motion_dim
        )
        return content, h0, noise

    def motion(self, h0: Tensor, noise: Tensor) -> Tensor:
        """z_M^(t) = GRU(e_t, z_M^(t-1)), z_M^(0) = h_0: (B, T, 10)."""
        hidden, codes = h0, []
        for step in range(noise.shape[1]):
            hidden = self.recurrent(noise[:, step], hidden)
            codes.append(hidden)
        return torch.stack(codes, 1)

    def category_code(self, condition: Tensor | None, batch: int, device: Any) -> Tensor | None:
        if not self.categories:
            return None
        if condition is None:
            condition = torch.randint(self.categories, (batch,), device=device)
        return F.one_hot(condition.long().reshape(-1), self.categories).float()

    def decode(self, content: Tensor, category: Tensor | None, motion: Tensor) -> Tensor:
        """Frames of codes: content (N, 50), category (N, K) or None, motion (N, 10) ->
        (N, C, H, W)."""
        parts = [content] + ([category] if category is not None else []) + [motion]
        return self.image(torch.cat(parts, 1)[:, :, None, None])

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        latent: Tensor,
        condition: Tensor | None = None,
        action: int | None = None,
        swap: bool = False,
    ) -> Tensor:
        """Clips (B, C, T, H, W). ``action=K``: every clip is action K. ``swap=True``: B x B
        clips, clip i*B + j with the content of sample i and the motion (and action) of sample
        j: a row holds one content in every motion, a column one motion in every content."""
        batch, device = latent.shape[0], latent.device
        if action is not None:
            if not self.categories:
                raise ValueError("this generator has no action categories (categories: 0)")
            if not 0 <= int(action) < self.categories:
                raise ValueError(f"action must lie in [0, {self.categories}), got {action}")
            condition = torch.full((batch,), int(action), dtype=torch.long, device=device)
        content, h0, noise = self.split(latent)
        motion = self.motion(h0, noise)  # (B, T, 10)
        category = self.category_code(condition, batch, device)
        if swap:
            rows = torch.arange(batch, device=device).repeat_interleave(batch)
            columns = torch.arange(batch, device=device).repeat(batch)
            content, motion = content[rows], motion[columns]
            category = category[columns] if category is not None else None
            batch = batch * batch
        frames = self.frames
        content = content[:, None].expand(-1, frames, -1).reshape(batch * frames, -1)
        if category is not None:
            category = category[:, None].expand(-1, frames, -1).reshape(batch * frames, -1)
        images = self.decode(content, category, motion.reshape(batch * frames, -1))
        return images.view(batch, frames, *images.shape[1:]).transpose(1, 2)

    def frames_at(self, latent: Tensor, condition: Tensor | None, times: Tensor) -> Tensor:
        """Frame ``times[b]`` of each clip only: (B, C, H, W) (what D_I sees)."""
        content, h0, noise = self.split(latent)
        motion = self.motion(h0, noise)
        chosen = motion[torch.arange(len(times), device=latent.device), times]
        category = self.category_code(condition, latent.shape[0], latent.device)
        return self.decode(content, category, chosen)


# ====================================================================== discriminators
class ImageDiscriminator(nn.Module):
    """D_I, the authors' patch image discriminator: frames (N, C, H, W) -> (N, 1, h, w) patch
    scores; convolutions 4/2/1 of 64-128-256 channels (batch norm on the 2nd and 3rd), a last
    4/2/1 convolution to one channel."""

    def __init__(
        self, size: int = 64, channels: int = 3, width: int = 64, noise_sigma: float = 0.0
    ):
        super().__init__()
        stages = max(1, _stages(size) - 1)
        layers: list[nn.Module] = []
        width_in = channels
        for index in range(stages):
            width_out = width * 2**index
            layers += [Noise(noise_sigma), nn.Conv2d(width_in, width_out, 4, 2, 1, bias=False)]
            if index:
                layers.append(nn.BatchNorm2d(width_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width_in = width_out
        layers += [Noise(noise_sigma), nn.Conv2d(width_in, 1, 4, 2, 1, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


class VideoDiscriminator(nn.Module):
    """D_V, the authors' (categorical) video discriminator: clips (B, C, T, H, W) -> scores
    (B, 1, t) and action logits (B, K) (averaged over the t time positions left). 3-D
    convolutions, kernel 4, stride (1, 2, 2), padding (0, 1, 1), 64-128-256-512 channels (batch
    norm from the 2nd), a last convolution over the remaining 4 x 4 (and up to 4 frames)."""

    def __init__(
        self,
        frames: int = 16,
        size: int = 64,
        channels: int = 3,
        categories: int = 0,
        width: int = 64,
        noise_sigma: float = 0.0,
    ) -> None:
        super().__init__()
        stages = _stages(size)
        layers: list[nn.Module] = []
        width_in, length = channels, frames
        for index in range(stages):
            width_out = width * 2**index
            kernel_t = 4 if length >= 4 else 1
            layers += [
                Noise(noise_sigma),
                nn.Conv3d(width_in, width_out, (kernel_t, 4, 4), (1, 2, 2), (0, 1, 1), bias=False),
            ]
            if index:
                layers.append(nn.BatchNorm3d(width_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width_in, length = width_out, length - kernel_t + 1
        self.categories = categories
        layers.append(nn.Conv3d(width_in, 1 + categories, (min(4, length), 4, 4), 1, 0, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, clips: Tensor) -> tuple[Tensor, Tensor | None]:
        output = self.net(clips).flatten(2)  # (B, 1 + K, t)
        scores = output[:, :1]
        logits = output[:, 1:].mean(2) if self.categories else None
        return scores, logits


class MoCoGANDiscriminator(nn.Module):
    """Both discriminators of MoCoGAN in one module (one optimiser over both equals the
    authors' two Adam optimisers with the same settings: their losses and parameters are
    disjoint). ``categories`` as in the generator."""

    def __init__(
        self,
        frames: int = 16,
        size: int = 64,
        channels: int = 3,
        categories: int | None = None,
        width: int = 64,
        noise_sigma: float = 0.0,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        frames, size, channels = _facts(description, frames, size, channels)
        if categories is None:
            description = description or {}
            categories = (
                int(description.get("num_classes", 0)) if description.get("conditional") else 0
            )
        self.categories = categories
        self.image = ImageDiscriminator(size, channels, width, noise_sigma)
        self.video = VideoDiscriminator(frames, size, channels, categories, width, noise_sigma)

    def forward(self, clips: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Outside the trainer (which calls ``image`` and ``video`` itself): D_I on each clip's
        middle frame and D_V on the clips -> ([image scores, video scores], [action logits])."""
        middle = clips[:, :, clips.shape[2] // 2]
        video, logits = self.video(clips)
        return [self.image(middle), video], ([logits] if logits is not None else [])


# ====================================================================== the trainer
def pack(videos: Tensor, images: Tensor) -> Tensor:
    """Generated clips (V, C, T, H, W) and single frames (N, C, H, W) -> one frame stack
    (V*T + N, C, H, W), so that a fake is one tensor for the core's step."""
    frames = videos.transpose(1, 2).reshape(-1, *videos.shape[1:2], *videos.shape[3:])
    return torch.cat([frames, images], 0)


def unpack(stack: Tensor, videos: int, frames: int) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack`."""
    clips = stack[: videos * frames].view(videos, frames, *stack.shape[1:]).transpose(1, 2)
    return clips, stack[videos * frames :]


class MoCoGANTrainer(GANTrainer):
    """MoCoGAN's alternating updates on the core's path (sec. 3.1; the authors' code).

    The phase's ``batch_size`` is the image batch (10 in the authors' code): that many real
    clips are drawn, one random frame of each goes to D_I, and the first ``video_batch`` (3)
    whole clips go to D_V. With action categories (data with ``conditional: true``), D_V's
    category head learns the real clips' actions (cross-entropy, ``category_weight``) and G is
    asked for clips of the actions it was given. Adversarial loss: the recipe's
    (``core.nonsaturating`` is the authors' BCE with G on "real" targets).
    """

    registered_name = "video.mocogan"
    default_optimizers = {"generator": MOCOGAN_ADAM, "discriminator": MOCOGAN_ADAM}

    def __init__(
        self,
        generator: str = "generator",
        discriminator: str = "discriminator",
        adversarial: str = "adversarial",
        losses: list[str] | None = None,
        n_critic: int = 1,
        ema: float | None = None,
        ema_start: int = 0,
        lazy_adjust: bool = True,
        video_batch: int = 3,
        category_weight: float = 1.0,
    ) -> None:
        super().__init__(
            generator, discriminator, adversarial, losses, n_critic, ema, ema_start, lazy_adjust
        )
        if video_batch < 1:
            raise ValueError(f"video_batch must be >= 1, got {video_batch}")
        self.video_batch = video_batch
        self.category_weight = category_weight

    def setup(self, run: TrainerRun) -> None:
        super().setup(run)
        key = f"phases.{run.phase_name}"
        if not isinstance(self.G, MoCoGANGenerator) or not isinstance(self.D, MoCoGANDiscriminator):
            raise RecipeError(
                "video.mocogan needs models video.mocogan_generator and "
                "video.mocogan_discriminator",
                file=run.recipe_file,
                key="models",
            )
        self._check_penalty(run)
        if self.G.categories != self.D.categories:
            raise RecipeError(
                f"generator has {self.G.categories} action categories, discriminator "
                f"{self.D.categories}",
                file=run.recipe_file,
                key="models",
            )
        if self.G.categories and not run.description.get("conditional"):
            raise RecipeError(
                "action categories need the actions of real clips: set data.conditional: true "
                "(or categories: 0 in both models)",
                file=run.recipe_file,
                key="data.conditional",
            )
        self.videos = min(self.video_batch, max(1, run.batch_size))
        if run.batch_size and self.video_batch > run.batch_size:
            raise RecipeError(
                f"video_batch {self.video_batch} is larger than the image batch (batch_size "
                f"{run.batch_size})",
                file=run.recipe_file,
                key=f"{key}.video_batch",
            )

    def _check_penalty(self, run: TrainerRun) -> None:
        from genmm.losses import AdversarialLoss

        if type(self.adversarial).regularize is not AdversarialLoss.regularize:
            raise RecipeError(
                "video.mocogan's fakes are frames and clips of different batch sizes; an "
                "adversarial loss with a penalty on interpolates (core.wgan_gp) does not apply",
                file=run.recipe_file,
                key=f"losses.{self.adversarial_role}",
            )

    # ---------------------------------------------------------------- the hooks
    def make_fake(self, run: TrainerRun, latent: Tensor, condition: Any) -> Tensor:
        videos = self.videos
        clips = self.G(latent[:videos], None if condition is None else condition[:videos])
        times = torch.randint(self.G.frames, (latent.shape[0],), device=latent.device)
        images = self.G.frames_at(latent, condition, times)
        return pack(clips, images)

    def discriminate(self, x: Tensor, condition: Any) -> tuple[list[Tensor], list[Tensor]]:
        if x.dim() == 5:  # real clips (B, C, T, H, W): frames for D_I, clips for D_V
            videos = x[: min(self.video_batch, x.shape[0])]
            times = torch.randint(x.shape[2], (x.shape[0],), device=x.device)
            images = x[torch.arange(x.shape[0], device=x.device), :, times]
        else:  # a generated frame stack (see make_fake)
            videos, images = unpack(x, self.videos, self.G.frames)
        video_scores, logits = self.D.video(videos)
        return [self.D.image(images), video_scores], ([logits] if logits is not None else [])

    def _category_loss(self, features: list[Tensor], condition: Any) -> Tensor | None:
        if not self.G.categories or not features or condition is None:
            return None
        logits = features[0]
        return F.cross_entropy(logits.float(), condition[: logits.shape[0]].long())

    def extra_discriminator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor | None:
        loss = self._category_loss(context.real_features, context.condition)
        if loss is None:
            return None
        logs["d_category"] = loss.detach()
        return self.category_weight * loss

    def extra_generator_loss(self, context: Context, logs: dict[str, Any]) -> Tensor | None:
        loss = self._category_loss(context.fake_features, context.condition)
        if loss is None:
            return None
        logs["g_category"] = loss.detach()
        return self.category_weight * loss
