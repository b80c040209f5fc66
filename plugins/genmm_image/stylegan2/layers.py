"""Building blocks of StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality
of StyleGAN", CVPR 2020).

* Equalized learning rate (Karras et al. 2018, sec. 4.1): weights are stored as N(0, 1) and
  scaled at run time by ``lr_multiplier / sqrt(fan_in)``; the mapping network uses a learning-rate
  multiplier of 0.01 (StyleGAN, Karras et al. 2019, appendix C).
* Weight modulation / demodulation (StyleGAN2 sec. 2.2, eq. 1-3) replacing AdaIN.
* Up/down-sampling with the separable [1, 3, 3, 1] low-pass filter (StyleGAN2 appendix B;
  Zhang 2019), here as three 2x2 average pools rather than a general upfirdn kernel.
* Noise inputs with a learned per-layer strength (StyleGAN sec. 3.2), added after the conv.
* Bias + leaky ReLU(0.2) with a gain of sqrt(2) keeping unit variance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT2 = math.sqrt(2.0)


def lrelu(x: Tensor, bias: Tensor | None = None) -> Tensor:
    """Bias, leaky ReLU (slope 0.2) and gain sqrt(2), as in every StyleGAN2 conv and FC layer."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, 0.2).mul_(SQRT2)  # in place: leaky_relu's backward keeps its input


def blur(x: Tensor, pad: tuple[int, int], stride: int = 1) -> Tensor:
    """The [1, 3, 3, 1] x [1, 3, 3, 1] / 64 low-pass filter, zero padding (before, after) per
    side, optionally keeping every ``stride``-th pixel: (B, C, H, W) -> (B, C, H', W').

    [1, 3, 3, 1] / 8 is [1, 1] / 2 applied three times, so the filter is three 2x2 average
    pools of stride 1 (the last one strided when down-sampling). Average pooling is linear and
    fast on CPUs, and unlike a depthwise convolution its double backward (needed by R1 and the
    path-length penalty) is not a per-channel loop.
    """
    if pad[0] or pad[1]:
        x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    x = F.avg_pool2d(x, 2, 1)
    x = F.avg_pool2d(x, 2, 1)
    return F.avg_pool2d(x, 2, stride)


def upsample(x: Tensor) -> Tensor:
    """2x up-sampling of the skip image with the [1, 3, 3, 1] filter: (B, C, H, W) ->
    (B, C, 2H, 2W). Zero insertion + the filter (gain 4) gives output weights 1/4, 3/4 between
    neighbours: bilinear interpolation (half-pixel centres), with edge replication instead of
    zero padding at the border."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate and an optional learning-rate
    multiplier (the mapping network uses 0.01)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:  # (B, in) -> (B, out)
        weight = self.weight * self.weight_gain
        bias = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if self.activation:
            return lrelu(x.matmul(weight.t()), bias)
        return torch.addmm(bias, x, weight.t())


class ModulatedConv2d(nn.Module):
    """Modulated 3x3 (or 1x1) convolution with demodulation (StyleGAN2 sec. 2.2, eq. 1-3).

    ``w' = s_i * w`` (modulation by the style of each input channel), then
    ``w'' = w' / sqrt(sum w'^2 + eps)`` per output channel (demodulation). Two exact ways:

    * ``fused=True``: one weight per sample and a grouped convolution with ``groups=B``
      (StyleGAN2 appendix B), best when the batch is 1 (sampling);
    * ``fused=False`` (default): scale the activations by the styles, run one shared
      convolution for the whole batch, then scale the output by the demodulation coefficients.
      The same maths, but one large dense convolution, which is much faster on CPUs.

    ``up=True`` makes it a stride-2 transposed convolution followed by the [1,3,3,1] blur.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        demodulate: bool = True,
        up: bool = False,
        fused: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.up = up
        self.fused = fused
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        # x: (B, in, H, W), w: (B, w_dim) -> (B, out, H, W) or (B, out, 2H, 2W) when up
        styles = self.affine(w)  # (B, in)
        weight = self.weight * self.weight_gain  # (out, in, k, k)
        if not self.demodulate:
            # ToRGB: a 1x1 modulated conv without demodulation (styles scaled by the gain)
            styles = styles * self.weight_gain
            weight = self.weight
        if self.fused:
            return self._fused(x, weight, styles)
        x = x * styles[:, :, None, None]
        x = self._conv(x, weight)
        if self.demodulate:
            # sum_{i,k} (s_i w_{o,i,k})^2 = s^2 @ (sum_k w^2)^T : (B, in) @ (in, out) -> (B, out)
            energy = weight.square().sum((2, 3)).t()
            coefficients = (styles.square() @ energy + 1e-8).rsqrt()
            x = x * coefficients[:, :, None, None]
        return x

    def _conv(self, x: Tensor, weight: Tensor, groups: int = 1) -> Tensor:
        if self.up:
            # (B, in, H, W) -> (B, out, 2H+1, 2W+1) -> blur with pad 1 -> (B, out, 2H, 2W);
            # the filter's gain of 4 (zero insertion) is folded into the weight
            weight = weight.transpose(0, 1) if groups == 1 else _group_transpose(weight, groups)
            x = F.conv_transpose2d(x, weight * 4, stride=2, groups=groups)
            return blur(x, (1, 1))
        return F.conv2d(x, weight, padding=self.kernel_size // 2, groups=groups)

    def _fused(self, x: Tensor, weight: Tensor, styles: Tensor) -> Tensor:
        batch = x.shape[0]
        weights = weight[None] * styles[:, None, :, None, None]  # (B, out, in, k, k)
        if self.demodulate:
            weights = (
                weights * (weights.square().sum((2, 3, 4)) + 1e-8).rsqrt()[..., None, None, None]
            )
        weights = weights.reshape(batch * self.out_channels, self.in_channels, *weight.shape[2:])
        x = x.reshape(1, batch * self.in_channels, *x.shape[2:])
        x = self._conv(x, weights, groups=batch)
        return x.reshape(batch, self.out_channels, *x.shape[2:])


def _group_transpose(weight: Tensor, groups: int) -> Tensor:
    """(G*out, in, k, k) grouped conv weight -> (G*in, out, k, k) for conv_transpose2d."""
    out_total, in_channels, kh, kw = weight.shape
    weight = weight.reshape(groups, out_total // groups, in_channels, kh, kw).transpose(1, 2)
    return weight.reshape(groups * in_channels, out_total // groups, kh, kw)


class EqualConv2d(nn.Module):
    """Convolution with equalized learning rate; ``down=True`` blurs then strides by 2
    (StyleGAN2 appendix B, discriminator)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: bool = True,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.kernel_size = kernel_size
        self.activation = activation
        self.down = down

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight * self.weight_gain
        if self.down:
            # blur (pad so that the strided conv halves the size), then stride 2:
            # (B, in, H, W) -> (B, out, H/2, W/2)
            if self.kernel_size == 1:  # blur and keep every other pixel, then the 1x1 conv
                x = F.conv2d(blur(x, (1, 1), stride=2), weight)
            else:  # blur with pad 2 (H + 1), then a stride-2 conv without padding
                x = F.conv2d(blur(x, (2, 2)), weight, stride=2)
        else:
            x = F.conv2d(x, weight, padding=self.kernel_size // 2)
        if self.activation:
            return lrelu(x, self.bias)
        if self.bias is not None:
            x = x + self.bias[None, :, None, None]
        return x
