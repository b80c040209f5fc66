"""Differentiable augmentation of every image the discriminator sees.

* ``image.ada``: adaptive discriminator augmentation (Karras, Aittala, Hellsten, Laine,
  Lehtinen & Aila, "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020).
  The pipeline of section 2.2 and appendix B, its ``bgc`` set: pixel blitting (x-flip, 90°
  rotations, integer translation), general geometric transformations (isotropic scaling,
  arbitrary rotation, anisotropic scaling, fractional translation) and colour transformations
  (brightness, contrast, luma flip, hue rotation, saturation), each applied to each image with
  probability ``multiplier x p`` and its parameters drawn as in the official
  stylegan2-ada-pytorch ``AugmentPipe``. The geometric transformations compose into one inverse
  3x3 matrix per image and are executed in one affine ``grid_sample`` per batch, at twice the
  resolution between a ``sym6`` wavelet up- and down-sampling (reflect padding beyond the
  edges), as the official code does; the colour transformations compose into one 4x4 matrix.
  The strength ``p`` adapts as section 3: starting at 0, every ``interval`` (4) batches of
  reals it moves by ``sign(r_t - target) x images / (ada_kimg x 1000)`` with
  ``r_t = E[sign(D(x_real))]`` over those batches, target 0.6, ``ada_kimg`` 500 (p can rise
  from 0 to 1 in 500k images), and is clamped from below to 0. ``target: null`` keeps ``p``
  fixed (the paper's fixed-p baseline). As the official training loop, the adjustment comes
  after the step it measured; it counts the scores of D's main pass on the reals (the official
  code also counts its R1 pass), and with ``accumulate: k`` each micro-batch is a batch (p's
  speed per image is the same).
* ``image.diffaugment``: DiffAugment (Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation
  for Data-Efficient GAN Training", NeurIPS 2020), its ``color,translation,cutout`` policy
  applied to every image with probability 1 (the authors' ``DiffAugment_pytorch.py``).

Both are models (``models.augment: {name: image.ada}``) that a GAN trainer applies to every
input of D when its phase says ``augment: augment`` (``genmm.training.GANTrainer``); the
trainer shows them D's scores of the reals (``observe``). ADA's state (``p``, the signs of the
running interval and the last ``r_t``) lives in buffers, so every checkpoint's weights carry
it and a resumed run continues with the same ``p``, bit for bit. Pure torch: no torchvision.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

#: the low-pass filter of the geometric transformations: the sym6 wavelet's decomposition
#: low-pass (12 taps), as the official pipeline's ``Hz_geom``
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


# ---------------------------------------------------------------------- matrices
def _matrix(rows: list[list[Any]], like: Tensor) -> Tensor:
    """Rows of numbers or tensors of ``like``'s shape -> ``like.shape + (rows, columns)``."""
    elements = [
        x if isinstance(x, Tensor) else torch.full_like(like, float(x)) for row in rows for x in row
    ]
    return torch.stack(elements, -1).reshape(like.shape + (len(rows), len(rows[0])))


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta: Tensor) -> Tensor:
    return _matrix(
        [[theta.cos(), -theta.sin(), 0], [theta.sin(), theta.cos(), 0], [0, 0, 1]], theta
    )


def translate3d(t: Tensor) -> Tensor:
    """The same offset ``t`` on all three colour axes."""
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], t)


def scale3d(s: Tensor) -> Tensor:
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], s)


def rotate3d(v: Tensor, theta: Tensor) -> Tensor:
    """Rotation by ``theta`` about the unit axis ``v`` (Rodrigues), homogeneous 4x4."""
    vx, vy, vz = (float(c) for c in v[:3])
    s, c = theta.sin(), theta.cos()
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        theta,
    )


# ---------------------------------------------------------------------- resampling
def _taps_at(index: Tensor, taps: Tensor) -> Tensor:
    """``taps[index]`` where the index falls inside the filter, else 0."""
    inside = (index >= 0) & (index < taps.numel())
    return torch.where(inside, taps[index.clamp(0, taps.numel() - 1)], taps.new_zeros([]))


def upsampling_matrix(size: int, taps: Tensor) -> Tensor:
    """(size, 2 size): upfirdn2d's 2x up-sampling of one axis as a matrix, zero insertion then
    the filter with gain 2 and padding (6, 5) for 12 taps: out[n] = sum_m in[m] 2 f[n - 2m + 5]."""
    trim = (taps.numel() - 2) // 2
    index = torch.arange(2 * size)[None, :] - 2 * torch.arange(size)[:, None] + trim
    return _taps_at(index.to(taps.device), taps) * 2


def downsampling_matrix(size: int, taps: Tensor, cut: int) -> Tensor:
    """(size, out): upfirdn2d's 2x down-sampling of one axis, ``cut`` pixels cropped from each
    side, then the filter (not flipped) at every other pixel:
    out[k] = sum_i in[i] f[i - cut - 2k]."""
    out = (size - 2 * cut - taps.numel()) // 2 + 1
    index = torch.arange(size)[:, None] - cut - 2 * torch.arange(out)[None, :]
    return _taps_at(index.to(taps.device), taps)


def _both_axes(x: Tensor, rows: Tensor, columns: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, H', W') through a (W, W') matrix on each row and a (H, H') one on
    each column: banded matrix products, which run (and differentiate twice) fast on CPUs."""
    return rows.t() @ (x @ columns)


def upsample2x(x: Tensor, taps: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W), as upfirdn2d's ``upsample2d`` (gain 4)."""
    height, width = x.shape[2:]
    return _both_axes(x, upsampling_matrix(height, taps), upsampling_matrix(width, taps))


def downsample2x_crop(x: Tensor, taps: Tensor, crop: int) -> Tensor:
    """(B, C, 2H + 4 crop, ...) -> (B, C, H, ...), as upfirdn2d's ``downsample2d`` with
    ``padding=-2 crop`` and ``flip_filter=True``: ``crop`` pixels of the half resolution cut
    from each side."""
    cut = 2 * crop - (taps.numel() - 2) // 2  # upfirdn2d's padding: -2 crop + 5 on each side
    height, width = x.shape[2:]
    return _both_axes(
        x, downsampling_matrix(height, taps, cut), downsampling_matrix(width, taps, cut)
    )


# ---------------------------------------------------------------------- ADA
class AdaptiveAugment(nn.Module):
    """ADA's ``bgc`` pipeline with an adaptive strength ``p`` (Karras et al. 2020, sec. 2-3)."""

    def __init__(
        self,
        description: dict | None = None,
        p: float = 0.0,
        target: float | None = 0.6,
        ada_kimg: float = 500.0,
        interval: int = 4,
        xflip: float = 1.0,
        rotate90: float = 1.0,
        xint: float = 1.0,
        scale: float = 1.0,
        rotate: float = 1.0,
        aniso: float = 1.0,
        xfrac: float = 1.0,
        brightness: float = 1.0,
        contrast: float = 1.0,
        lumaflip: float = 1.0,
        hue: float = 1.0,
        saturation: float = 1.0,
        xint_max: float = 0.125,
        scale_std: float = 0.2,
        rotate_max: float = 1.0,
        aniso_std: float = 0.2,
        xfrac_std: float = 0.125,
        brightness_std: float = 0.2,
        contrast_std: float = 0.5,
        hue_max: float = 1.0,
        saturation_std: float = 1.0,
    ) -> None:
        super().__init__()
        channels = (description or {}).get("channels")
        if channels not in (None, 1, 3):
            raise ValueError(f"image.ada augments grey (1) or RGB (3) images, not {channels}")
        if p < 0 or (target is not None and not 0.0 < target < 1.0):
            raise ValueError(f"p must be >= 0 and target in (0, 1) or null, got {p}, {target}")
        if ada_kimg <= 0 or interval < 1:
            raise ValueError(f"ada_kimg must be > 0 and interval >= 1, got {ada_kimg}, {interval}")
        multipliers = dict(
            xflip=xflip, rotate90=rotate90, xint=xint, scale=scale, rotate=rotate, aniso=aniso,
            xfrac=xfrac, brightness=brightness, contrast=contrast, lumaflip=lumaflip, hue=hue,
            saturation=saturation,
        )  # fmt: skip
        if any(value < 0 for value in multipliers.values()):
            raise ValueError(f"probability multipliers must be >= 0, got {multipliers}")
        for name, value in multipliers.items():
            setattr(self, name, float(value))
        self.xint_max, self.scale_std, self.rotate_max = xint_max, scale_std, rotate_max
        self.aniso_std, self.xfrac_std = aniso_std, xfrac_std
        self.brightness_std, self.contrast_std = brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std
        self.target, self.ada_kimg, self.interval = target, ada_kimg, interval
        self.register_buffer("p", torch.tensor(float(p)))
        #: the running interval: sum of signs, number of scores, images, batches
        self.register_buffer("tally", torch.zeros(4, dtype=torch.float64))
        #: r_t of the last interval (NaN before the first)
        self.register_buffer("rt", torch.tensor(float("nan")))
        self.register_buffer("taps", torch.tensor(SYM6) / sum(SYM6), persistent=False)

    def extra_repr(self) -> str:
        return f"p={float(self.p):.4f}, target={self.target}, ada_kimg={self.ada_kimg}"

    # ------------------------------------------------------------------ adapting p
    @torch.no_grad()
    def observe(self, real_scores: list[Tensor]) -> dict[str, Tensor]:
        """Take D's scores of one batch of reals; every ``interval`` batches adjust ``p``
        (sec. 3). Returns the figures to log: ``augment_p`` and (once known) ``augment_rt``."""
        if self.target is not None:
            signs = torch.cat([score.flatten() for score in real_scores]).sign().double()
            images = float(real_scores[0].shape[0])
            counts = signs.new_tensor([signs.numel(), images, 1.0])
            self.tally += torch.cat([signs.sum()[None], counts]).to(self.tally.device)
            if int(self.tally[3]) >= self.interval:
                self.adjust()
        figures = {"augment_p": self.p.clone()}
        if not torch.isnan(self.rt):  # r_t is known once the first interval is complete
            figures["augment_rt"] = self.rt.clone()
        return figures

    def adjust(self) -> None:
        """``p += sign(r_t - target) x images / (ada_kimg x 1000)``, clamped below at 0; the
        interval's signs and images are summed over all processes under data parallelism."""
        tally = self.tally.clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(tally)
        self.rt.copy_(tally[0] / tally[1])
        step = torch.sign(self.rt - self.target) * tally[2] / (self.ada_kimg * 1000)
        self.p.copy_((self.p + step).clamp(min=0))
        self.tally.zero_()

    # ------------------------------------------------------------------ augmenting
    def forward(self, images: Tensor) -> Tensor:
        """(B, C, H, W) in [-1, 1], C = 1 or 3 -> the same shape; exactly ``images`` at p = 0."""
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"image.ada takes (B, 1 or 3, H, W) images, got {tuple(images.shape)}")
        if not float(self.p) > 0:
            return images
        dtype = images.dtype
        x = images if dtype == torch.float64 else images.float()
        geometric = self.geometric(x)
        if geometric is not None:
            x = self.resample(x, geometric)
        colour = self.colour(x)
        if colour is not None:
            x = apply_colour(x, colour)
        return x.to(dtype)

    def _chosen(self, multiplier: float, shape: list[int], x: Tensor) -> Tensor:
        """Which images get a transformation: uniform < multiplier x p."""
        return torch.rand(shape, device=x.device, dtype=x.dtype) < multiplier * self.p

    def geometric(self, x: Tensor) -> Tensor | None:
        """The inverse transformation (output pixel -> input pixel) of each image, (B, 3, 3),
        or None when every geometric multiplier is 0; drawn in the official order."""
        batch, _, height, width = x.shape
        options = dict(device=x.device, dtype=x.dtype)
        zeros, ones = torch.zeros(batch, **options), torch.ones(batch, **options)
        G: Tensor | None = None

        def then(matrix: Tensor) -> None:
            nonlocal G
            G = matrix if G is None else G @ matrix

        if self.xflip > 0:  # x-flip
            i = torch.floor(torch.rand(batch, **options) * 2)
            i = torch.where(self._chosen(self.xflip, [batch], x), i, zeros)
            then(scale2d(1 / (1 - 2 * i), ones))
        if self.rotate90 > 0:  # rotations by multiples of 90 degrees
            i = torch.floor(torch.rand(batch, **options) * 4)
            i = torch.where(self._chosen(self.rotate90, [batch], x), i, zeros)
            then(rotate2d(math.pi / 2 * i))
        if self.xint > 0:  # integer translation, up to xint_max of the size
            t = (torch.rand(batch, 2, **options) * 2 - 1) * self.xint_max
            t = torch.where(self._chosen(self.xint, [batch, 1], x), t, torch.zeros_like(t))
            then(translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height)))
        if self.scale > 0:  # isotropic scaling, log2-normal
            s = torch.exp2(torch.randn(batch, **options) * self.scale_std)
            s = torch.where(self._chosen(self.scale, [batch], x), s, ones)
            then(scale2d(1 / s, 1 / s))
        p_rotate = 1 - torch.sqrt((1 - self.rotate * self.p).clamp(0, 1))  # P(pre or post) = p
        if self.rotate > 0:  # arbitrary rotation, before the anisotropic scaling
            theta = (torch.rand(batch, **options) * 2 - 1) * math.pi * self.rotate_max
            theta = torch.where(torch.rand(batch, **options) < p_rotate, theta, zeros)
            then(rotate2d(theta))
        if self.aniso > 0:  # anisotropic scaling, log2-normal
            s = torch.exp2(torch.randn(batch, **options) * self.aniso_std)
            s = torch.where(self._chosen(self.aniso, [batch], x), s, ones)
            then(scale2d(1 / s, s))
        if self.rotate > 0:  # arbitrary rotation, after the anisotropic scaling
            theta = (torch.rand(batch, **options) * 2 - 1) * math.pi * self.rotate_max
            theta = torch.where(torch.rand(batch, **options) < p_rotate, theta, zeros)
            then(rotate2d(theta))
        if self.xfrac > 0:  # fractional translation, normal
            t = torch.randn(batch, 2, **options) * self.xfrac_std
            t = torch.where(self._chosen(self.xfrac, [batch, 1], x), t, torch.zeros_like(t))
            then(translate2d(-t[:, 0] * width, -t[:, 1] * height))
        return G

    def resample(self, x: Tensor, G: Tensor) -> Tensor:
        """Execute the inverse transformations ``G`` (B, 3, 3) in pixel coordinates about the
        image centre: reflect-pad as far as the transformed corners reach, upsample 2x (sym6),
        one bilinear ``grid_sample``, downsample 2x (sym6) and crop (official order)."""
        batch, channels, height, width = x.shape
        taps = self.taps.to(x.dtype)
        pad = len(SYM6) // 4  # the filter's reach at half resolution: 3
        cx, cy = (width - 1) / 2, (height - 1) / 2
        corners = x.new_tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]])
        corners = G @ corners.t()  # (B, 3, 4): where each output corner reads the input
        margin = corners[:, :2, :].permute(1, 0, 2).flatten(1)  # (2, B * 4)
        margin = torch.cat([-margin, margin]).max(dim=1).values  # (x0, y0, x1, y1)
        margin = margin + x.new_tensor([pad * 2 - cx, pad * 2 - cy] * 2)
        margin = margin.clamp(min=0).minimum(x.new_tensor([width - 1, height - 1] * 2))
        mx0, my0, mx1, my1 = (int(m) for m in margin.ceil().tolist())
        x = F.pad(x, [mx0, mx1, my0, my1], mode="reflect")
        one = x.new_ones([])

        def shift(tx: float, ty: float) -> Tensor:
            return translate2d(one * tx, one * ty)

        def zoom(sx: float, sy: float) -> Tensor:
            return scale2d(one * sx, one * sy)

        G = shift((mx0 - mx1) / 2, (my0 - my1) / 2) @ G
        x = upsample2x(x, taps)  # (B, C, 2(H + my0 + my1), 2(W + mx0 + mx1))
        G = zoom(2, 2) @ G @ zoom(0.5, 0.5)
        G = shift(-0.5, -0.5) @ G @ shift(0.5, 0.5)
        shape = [batch, channels, (height + pad * 2) * 2, (width + pad * 2) * 2]
        # pixel coordinates -> grid_sample's [-1, 1] of the input (left) and the output (right)
        G = zoom(2 / x.shape[3], 2 / x.shape[2]) @ G @ zoom(shape[3] / 2, shape[2] / 2)
        grid = F.affine_grid(G[:, :2, :], shape, align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return downsample2x_crop(x, taps, pad)  # (B, C, H, W)

    def colour(self, x: Tensor) -> Tensor | None:
        """The colour transformation of each image, (B, 4, 4) acting on (r, g, b, 1), or None
        when every colour multiplier is 0; drawn in the official order."""
        batch, channels = x.shape[:2]
        options = dict(device=x.device, dtype=x.dtype)
        eye = torch.eye(4, **options)
        luma = x.new_tensor([1, 1, 1, 0]) / math.sqrt(3)  # the luma axis
        luma_outer = torch.outer(luma, luma)
        C: Tensor | None = None

        def then(matrix: Tensor) -> None:
            nonlocal C
            C = matrix if C is None else matrix @ C

        if self.brightness > 0:  # additive, normal
            b = torch.randn(batch, **options) * self.brightness_std
            b = torch.where(self._chosen(self.brightness, [batch], x), b, torch.zeros_like(b))
            then(translate3d(b))
        if self.contrast > 0:  # multiplicative, log2-normal
            c = torch.exp2(torch.randn(batch, **options) * self.contrast_std)
            c = torch.where(self._chosen(self.contrast, [batch], x), c, torch.ones_like(c))
            then(scale3d(c))
        if self.lumaflip > 0:  # a Householder reflection of the luma axis
            i = torch.floor(torch.rand(batch, 1, 1, **options) * 2)
            i = torch.where(self._chosen(self.lumaflip, [batch, 1, 1], x), i, torch.zeros_like(i))
            then(eye - 2 * luma_outer * i)
        if self.hue > 0 and channels > 1:  # rotation about the luma axis
            theta = (torch.rand(batch, **options) * 2 - 1) * math.pi * self.hue_max
            theta = torch.where(self._chosen(self.hue, [batch], x), theta, torch.zeros_like(theta))
            then(rotate3d(luma, theta))
        if self.saturation > 0 and channels > 1:  # scaling off the luma axis, log2-normal
            s = torch.exp2(torch.randn(batch, 1, 1, **options) * self.saturation_std)
            s = torch.where(self._chosen(self.saturation, [batch, 1, 1], x), s, torch.ones_like(s))
            then(luma_outer + (eye - luma_outer) * s)
        return C


def apply_colour(x: Tensor, C: Tensor) -> Tensor:
    """(B, C, H, W) -> the same, through the (B, 4, 4) colour matrices; a grey image takes the
    mean of the matrix's three colour rows (as the official pipeline)."""
    batch, channels, height, width = x.shape
    pixels = x.reshape(batch, channels, height * width)
    if channels == 3:
        pixels = C[:, :3, :3] @ pixels + C[:, :3, 3:]
    else:
        grey = C[:, :3, :].mean(dim=1, keepdim=True)  # (B, 1, 4)
        pixels = pixels * grey[:, :, :3].sum(dim=2, keepdim=True) + grey[:, :, 3:]
    return pixels.reshape(batch, channels, height, width)


# ---------------------------------------------------------------------- DiffAugment
POLICIES = ("color", "translation", "cutout")


class DiffAugment(nn.Module):
    """DiffAugment (Zhao et al. 2020): the policy's transformations on every image, always."""

    def __init__(
        self,
        policy: str = "color,translation,cutout",
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        self.policy = [name for name in policy.split(",") if name]
        unknown = [name for name in self.policy if name not in POLICIES]
        if unknown:
            raise ValueError(f"unknown DiffAugment policy {unknown}; choose from {POLICIES}")
        self.translation_ratio, self.cutout_ratio = translation_ratio, cutout_ratio

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)}"

    def observe(self, real_scores: list[Tensor]) -> dict[str, Tensor]:
        """A fixed policy: nothing to adapt, nothing to log."""
        return {}

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> the same shape."""
        for name in self.policy:
            if name == "color":
                x = rand_brightness(x)
                x = rand_saturation(x)
                x = rand_contrast(x)
            elif name == "translation":
                x = rand_translation(x, self.translation_ratio)
            else:
                x = rand_cutout(x, self.cutout_ratio)
        return x


def _uniform(x: Tensor) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def rand_brightness(x: Tensor) -> Tensor:
    """Add U(-0.5, 0.5) to each image."""
    return x + (_uniform(x) - 0.5)


def rand_saturation(x: Tensor) -> Tensor:
    """Scale each image's deviation from its channel mean by U(0, 2)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x) * 2) + mean


def rand_contrast(x: Tensor) -> Tensor:
    """Scale each image's deviation from its mean by U(0.5, 1.5)."""
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def rand_translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its size, filling with zeros."""
    batch, _, height, width = x.shape
    shift_x, shift_y = int(height * ratio + 0.5), int(width * ratio + 0.5)
    translation_x = torch.randint(-shift_x, shift_x + 1, size=[batch, 1, 1], device=x.device)
    translation_y = torch.randint(-shift_y, shift_y + 1, size=[batch, 1, 1], device=x.device)
    grid_batch, grid_x, grid_y = torch.meshgrid(
        torch.arange(batch, device=x.device),
        torch.arange(height, device=x.device),
        torch.arange(width, device=x.device),
        indexing="ij",
    )
    grid_x = torch.clamp(grid_x + translation_x + 1, 0, height + 1)
    grid_y = torch.clamp(grid_y + translation_y + 1, 0, width + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1).contiguous()[grid_batch, grid_x, grid_y].permute(0, 3, 1, 2)


def rand_cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` of the size at a random place of each image."""
    batch, _, height, width = x.shape
    size = int(height * ratio + 0.5), int(width * ratio + 0.5)
    offset_x = torch.randint(0, height + (1 - size[0] % 2), size=[batch, 1, 1], device=x.device)
    offset_y = torch.randint(0, width + (1 - size[1] % 2), size=[batch, 1, 1], device=x.device)
    grid_batch, grid_x, grid_y = torch.meshgrid(
        torch.arange(batch, device=x.device),
        torch.arange(size[0], device=x.device),
        torch.arange(size[1], device=x.device),
        indexing="ij",
    )
    grid_x = torch.clamp(grid_x + offset_x - size[0] // 2, min=0, max=height - 1)
    grid_y = torch.clamp(grid_y + offset_y - size[1] // 2, min=0, max=width - 1)
    mask = torch.ones(batch, height, width, dtype=x.dtype, device=x.device)
    mask[grid_batch, grid_x, grid_y] = 0
    return x * mask.unsqueeze(1)
