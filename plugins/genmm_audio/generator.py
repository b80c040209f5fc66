"""MelGAN generator (Kumar et al., "MelGAN: Generative Adversarial Networks for Conditional
Waveform Synthesis", NeurIPS 2019, sec. 2.1 and fig. 1; appendix A, table 5).

A fully convolutional mel-spectrogram inverter: a reflection-padded k7 convolution to
``16 * ngf`` channels, four upsampling stages (x8, x8, x2, x2: LeakyReLU 0.2 then a transposed
convolution of kernel 2r and stride r halving the channels), each followed by a residual stack
of three dilated blocks (dilations 1, 3, 9), then LeakyReLU, a reflection-padded k7 convolution
to one channel and tanh. Every convolution is weight-normalised (sec. 2.1.3).
At ``ngf = 32`` and 80 mels it has 4,266,050 parameters (weight-norm g and v counted).

Built from a recipe it takes the data's ``description``: ``n_mels`` defaults to the data's, and
a model whose upsampling factors do not multiply to the data's hop (or whose ``n_mels`` is not
the data's) is refused when it is built, not when the first batch arrives.

For inference :func:`fold_weight_norm` returns a copy with plain weights (``w = g v / ||v||``),
the transposed convolutions rewritten as polyphase convolutions and every layer run in 2-D on
``(B, C, 1, T)`` channels-last tensors (:func:`make_planar`): the same function, faster on a CPU.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` that also takes a planar ``(B, C, 1, T)`` channels-last input and runs
    as a 2-D convolution of height 1 (the same parameters and function: oneDNN's NHWC
    kernels are faster on a CPU than its 1-D ones, forward and backward)."""

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if x.dim() == 3:
            return super()._conv_forward(x, weight, bias)
        stride, padding, dilation = (1, *self.stride), (0, *self.padding), (1, *self.dilation)
        weight = weight.unsqueeze(2)
        return nn.functional.conv2d(x, weight, bias, stride, padding, dilation, self.groups)


class ConvTranspose1d(nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` that also takes a planar input, as :class:`Conv1d`."""

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if x.dim() == 3:
            return super().forward(x, output_size)
        return nn.functional.conv_transpose2d(
            x, self.weight.unsqueeze(2), self.bias, (1, *self.stride), (0, *self.padding),
            (0, *self.output_padding), self.groups, (1, *self.dilation),
        )  # fmt: skip


class ReflectionPad1d(nn.ReflectionPad1d):
    """Reflection padding of the last dimension, of a 1-D or a planar input."""

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding if x.dim() == 3 else (*self.padding, 0, 0)
        return nn.functional.pad(x, padding, mode="reflect")


def to_planar(x: Tensor) -> Tensor:
    """``(B, C, T) -> (B, C, 1, T)`` in channels-last memory: the planar layers' input."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def wn_conv(*args, **kwargs) -> Conv1d:
    return weight_norm(Conv1d(*args, **kwargs))


def wn_conv_transpose(*args, **kwargs) -> ConvTranspose1d:
    return weight_norm(ConvTranspose1d(*args, **kwargs))


class ResidualBlock(nn.Module):
    """LeakyReLU -> reflect pad -> k3 dilated conv -> LeakyReLU -> k1 conv, plus a k1 shortcut
    (sec. 2.1.2, "Residual stack")."""

    def __init__(self, channels: int, dilation: int = 1, slope: float = 0.2) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.LeakyReLU(slope),
            ReflectionPad1d(dilation),
            wn_conv(channels, channels, kernel_size=3, dilation=dilation),
            nn.LeakyReLU(slope),
            wn_conv(channels, channels, kernel_size=1),
        )
        self.shortcut = wn_conv(channels, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, T) -> (B, C, T)
        return self.shortcut(x) + self.block(x)


class MelGANGenerator(nn.Module):
    """Log-mel ``(B, n_mels, N)`` -> waveform ``(B, 1, N * prod(ratios))`` in [-1, 1]."""

    latent_dim = 0  # a vocoder takes only its condition: G(mel)

    def __init__(
        self,
        n_mels: int | None = None,
        ngf: int = 32,
        ratios: list[int] | None = None,
        residual_layers: int = 3,
        slope: float = 0.2,
        planar: bool = True,
        description: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        ratios = list(ratios or [8, 8, 2, 2])
        description = description or {}
        data_mels = description.get("n_mels")
        if n_mels is None:
            n_mels = int(data_mels) if data_mels is not None else 80
        elif data_mels is not None and n_mels != data_mels:
            raise ValueError(f"n_mels is {n_mels} but the data's log-mels have {data_mels}")
        self.n_mels = n_mels
        self.hop = 1
        for ratio in ratios:
            self.hop *= ratio
        data_hop = description.get("hop")
        if data_hop is not None and self.hop != data_hop:
            raise ValueError(
                f"ratios {ratios} upsample by {self.hop} but the data's hop is {data_hop}"
            )
        channels = ngf * 2 ** len(ratios)  # 512 at ngf 32
        layers: list[nn.Module] = [
            ReflectionPad1d(3),
            wn_conv(n_mels, channels, kernel_size=7),  # (B, 80, N) -> (B, 512, N)
        ]
        for ratio in ratios:
            layers += [
                nn.LeakyReLU(slope),
                # (B, C, L) -> (B, C/2, L * r): kernel 2r, stride r
                wn_conv_transpose(
                    channels,
                    channels // 2,
                    kernel_size=2 * ratio,
                    stride=ratio,
                    padding=ratio // 2 + ratio % 2,
                    output_padding=ratio % 2,
                ),
            ]
            channels //= 2
            layers += [ResidualBlock(channels, 3**j, slope) for j in range(residual_layers)]
        layers += [
            nn.LeakyReLU(slope),
            ReflectionPad1d(3),
            wn_conv(channels, 1, kernel_size=7),  # (B, ngf, T) -> (B, 1, T)
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)
        self.planar = planar  # run on (B, C, 1, T) channels-last tensors: the same function

    def forward(self, mel: Tensor) -> Tensor:  # (B, n_mels, N) -> (B, 1, N * hop)
        if not self.planar:
            return self.model(mel)
        return self.model(to_planar(mel)).squeeze(2)  # through (B, C, 1, T)


class PolyphaseUpsample(nn.Module):
    """A MelGAN upsampling layer (transposed conv, kernel 2r, stride r) rewritten for inference
    as one ordinary k2 convolution producing the r output phases, then interleaved:
    ``(B, C, L) -> (B, r C', L + 1) -> (B, C', r L)``. The same function: output ``n r + p``
    sees exactly two inputs, ``n - 1, n`` for the first ``r - padding`` phases and ``n, n + 1``
    for the rest, so output ``j`` of the k2 convolution (inputs ``j - 1, j``) is phase ``p`` at
    ``n = j`` for the first and at ``n = j - 1`` for the rest. CPUs run plain convolutions
    faster than transposed ones, and no tap is a zero."""

    def __init__(self, layer: nn.ConvTranspose1d) -> None:
        super().__init__()
        ratio, kernel, padding = layer.stride[0], layer.kernel_size[0], layer.padding[0]
        if kernel != 2 * ratio or layer.groups != 1 or layer.dilation[0] != 1:
            raise ValueError("only transposed convolutions of kernel 2r and stride r")
        source = layer.weight.detach()  # (C_in, C_out, 2r)
        weight = source.new_zeros(ratio, layer.out_channels, layer.in_channels, 2)
        self.early = ratio - padding  # phases reading inputs n - 1, n
        for phase in range(ratio):
            older = phase + padding + ratio if phase < self.early else phase + padding
            weight[phase, :, :, 0] = source[:, :, older].T  # the earlier of its two inputs
            weight[phase, :, :, 1] = source[:, :, older - ratio].T
        self.ratio, self.out_channels = ratio, layer.out_channels
        self.weight = nn.Parameter(weight.reshape(-1, layer.in_channels, 2), requires_grad=False)
        bias = layer.bias.detach() if layer.bias is not None else source.new_zeros(weight.shape[1])
        self.bias = nn.Parameter(bias.repeat(ratio), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, L) -> (B, C', L * r)
        if x.dim() == 4:  # planar: (B, C, 1, L) channels-last -> (B, C', 1, L * r)
            return self.planar_forward(x)
        batch, _, length = x.shape
        phases = nn.functional.conv1d(x, self.weight, self.bias, padding=1)  # (B, r C', L + 1)
        phases = phases.view(batch, self.ratio, self.out_channels, length + 1).permute(0, 2, 3, 1)
        out = phases.new_empty(batch, self.out_channels, length, self.ratio)  # one pass of copies
        out[..., : self.early] = phases[:, :, :length, : self.early]
        out[..., self.early :] = phases[:, :, 1:, self.early :]
        return out.view(batch, self.out_channels, length * self.ratio)

    def planar_forward(self, x: Tensor) -> Tensor:
        batch, length = x.shape[0], x.shape[-1]
        if getattr(self, "weight_2d", None) is None:  # (r C', C, 1, 2), made once
            weight = self.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            self.register_buffer("weight_2d", weight, persistent=False)
        phases = nn.functional.conv2d(x, self.weight_2d, self.bias, padding=(0, 1))
        # channels-last memory is (B, 1, L + 1, r C'): each phase's C' channels are contiguous
        phases = phases.permute(0, 2, 3, 1).reshape(batch, length + 1, self.ratio, -1)
        out = phases.new_empty(batch, length, self.ratio, self.out_channels)
        out[:, :, : self.early] = phases[:, :length, : self.early]
        out[:, :, self.early :] = phases[:, 1:, self.early :]
        return out.view(batch, 1, length * self.ratio, self.out_channels).permute(0, 3, 1, 2)


def fold_weight_norm(
    model: nn.Module, inplace: bool = False, polyphase: bool = True, planar: bool = True
) -> nn.Module:
    """A copy (or ``model`` itself) with every weight-norm parametrisation folded into a plain
    weight (and, with ``polyphase``, MelGAN's transposed convolutions rewritten as
    :class:`PolyphaseUpsample`), in eval mode with gradients off: the same function, cheaper
    per call."""
    model = model if inplace else copy.deepcopy(model)
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            _unparametrize(module)
    if polyphase:
        for module in list(model.modules()):
            for name, child in module.named_children():
                if isinstance(child, nn.ConvTranspose1d) and _polyphase_ok(child):
                    setattr(module, name, PolyphaseUpsample(child))
    if isinstance(model, MelGANGenerator):  # planar or 1-D, as asked
        make_planar(model) if planar else setattr(model, "planar", False)
    model.eval().requires_grad_(False)
    return model


def make_planar(model: MelGANGenerator) -> MelGANGenerator:
    """In place: a folded MelGAN's 1-D layers as 2-D ones of height 1 on channels-last
    tensors ``(B, C, 1, T)`` (the same function, to float rounding). oneDNN's 2-D NHWC
    convolutions run the same work faster on a CPU than its 1-D ones."""
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.Conv1d):
                setattr(module, name, _as_conv2d(child))
    model.planar = True
    return model


def _as_conv2d(layer: nn.Conv1d) -> nn.Conv2d:
    if parametrize.is_parametrized(layer, "weight") or layer.padding_mode != "zeros":
        raise ValueError("only a folded convolution with zero padding becomes planar")
    conv = nn.Conv2d(  # its weight made channels-last once, not on every call
        layer.in_channels,
        layer.out_channels,
        (1, layer.kernel_size[0]),
        stride=(1, layer.stride[0]),
        padding=(0, layer.padding[0]),
        dilation=(1, layer.dilation[0]),
        groups=layer.groups,
        bias=layer.bias is not None,
    )
    weight = layer.weight.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)
    conv.weight = nn.Parameter(weight, requires_grad=False)
    if layer.bias is not None:
        conv.bias = nn.Parameter(layer.bias.detach(), requires_grad=False)
    return conv


def _polyphase_ok(layer: nn.ConvTranspose1d) -> bool:
    ratio = layer.stride[0]
    return (
        layer.kernel_size[0] == 2 * ratio
        and layer.padding[0] == ratio // 2 + ratio % 2
        and layer.output_padding[0] == ratio % 2
        and layer.groups == 1
        and layer.dilation[0] == 1
    )


def synthesize(generator: nn.Module, mel: Tensor) -> Tensor:
    """Vocode ``(B, n_mels, N) -> (B, 1, N * hop)`` with a folded copy of ``generator``.

    (The copy is made outside inference mode: copying parametrised modules inside it breaks
    the original's parametrisations.)"""
    folded = fold_weight_norm(generator) if _has_weight_norm(generator) else generator
    with torch.inference_mode():
        return folded(mel.contiguous())


def _unparametrize(module: nn.Module) -> None:
    """Replace a parametrised ``weight`` by its computed value on this module only.

    ``parametrize.remove_parametrizations`` deletes the property from the dynamically made
    ``Parametrized*`` class, which a deep copy shares with the original: it would break the
    live model. Swapping this instance back to its plain class leaves that class alone."""
    with torch.no_grad():
        weight = module.weight.detach().clone()
    plain = module.__class__.__bases__[0]
    del module._modules["parametrizations"]
    module.__class__ = plain
    module.register_parameter("weight", nn.Parameter(weight))


def _has_weight_norm(model: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m, "weight") for m in model.modules())
