"""The networks of "Globally and Locally Consistent Image Completion" (Iizuka, Simo-Serra &
Ishikawa 2017, SIGGRAPH, ACM Transactions on Graphics 36(4)): section 3 and tables 1-2.

The completion network (table 1, section 3.1): an encoder to a quarter of the resolution,
dilated convolutions there, and a decoder back up:

    conv5x5 64 | conv3x3/2 128 | conv3x3 128 | conv3x3/2 256 | conv3x3 256 | conv3x3 256
    dilated conv3x3 256 at dilation 2, 4, 8, 16 | conv3x3 256 | conv3x3 256
    deconv4x4 x2 128 | conv3x3 128 | deconv4x4 x2 64 | conv3x3 32 | conv3x3 3 (output)

each followed by batch norm and ReLU except the output layer (sigmoid in the paper, on images
in [0, 1]; here tanh on [-1, 1], the same map: tanh(x) = 2 sigmoid(2x) - 1). The input is the
image with the hole filled with the training set's mean pixel and the binary mask as a fourth
channel (section 3.1): the data set's ``condition`` (B, C + 1, S, S). The network's output is
used only inside the hole: ``forward`` returns the input image outside it and the completion
inside it (section 3: "the completion region ... the rest of the image is left unchanged"),
so no pixel of the input outside the hole is ever altered. 6,072,131 parameters at the paper's
settings on 3 channels.

A departure from the paper, off by default: with ``residual: true`` the network corrects the
hole's fill instead of replacing it. Its tanh output t is then, channel by channel, the share
of the way from the input's hole content x toward 1 (t > 0: x + t (1 - x)) or toward -1
(t < 0: x + t (1 + x)): always in [-1, 1], with a gradient that does not drop to zero past a
bound as a clamp's does. The last convolution starts at zero (weights and bias), so t = 0 and
the untrained network returns its input's fill exactly. With the data's ``fill: diffusion``
(``image.masked``; the paper fills with the mean pixel) that start is the harmonic fill from
the hole's border, which a flat background needs no correction of: the network learns only
the texture and edges the fill misses.

The discriminators (table 2, section 3.2): a global one on the whole image (six 5x5
convolutions of stride 2 with 64, 128, 256, 512, 512, 512 filters at 256x256, down to 4x4,
then a fully connected layer to 1024) and a local one on a patch centred on the completed
region (half the image's side: 128x128 at 256x256; five such convolutions of 64 ... 512
filters, then a fully connected layer to 1024); their outputs are concatenated and one fully
connected layer gives the probability (here the logit) that the image is real. Each
convolution is followed by batch norm and ReLU. At other sizes the number of convolutions is
the one that ends at 4x4 (4 and 3 at 64x64); widths follow the paper's sequence. Both together
at 256x256 on 3 channels: 45,063,681 parameters.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genmm_image.layers import from_description

PAPER_DILATIONS = (2, 4, 8, 16)


def conv_block(inputs: int, outputs: int, kernel: int, stride: int = 1, dilation: int = 1):
    padding = dilation * (kernel - 1) // 2
    return [
        nn.Conv2d(inputs, outputs, kernel, stride, padding, dilation=dilation),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    ]


def deconv_block(inputs: int, outputs: int):
    return [nn.ConvTranspose2d(inputs, outputs, 4, 2, 1), nn.BatchNorm2d(outputs), nn.ReLU(True)]


class CompletionNetwork(nn.Module):
    """(image with hole and mask (B, C + 1, S, S)) -> the completed image (B, C, S, S)."""

    latent_dim = 0

    def __init__(
        self,
        channels: int | None = None,
        width: int = 64,
        dilations: list[int] | None = None,
        residual: bool = False,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        channels = from_description(description, "channels", channels, 3, "channels")
        dilations = list(PAPER_DILATIONS if dilations is None else dilations)
        if width < 1 or any(d < 1 for d in dilations):
            raise ValueError("width and every dilation must be >= 1")
        self.channels, self.dilations, self.residual = channels, dilations, residual
        w1, w2, w4 = width, 2 * width, 4 * width
        layers = [
            *conv_block(channels + 1, w1, 5),  # (B, 64, S, S)
            *conv_block(w1, w2, 3, 2),  # (B, 128, S/2, S/2)
            *conv_block(w2, w2, 3),
            *conv_block(w2, w4, 3, 2),  # (B, 256, S/4, S/4)
            *conv_block(w4, w4, 3),
            *conv_block(w4, w4, 3),
        ]
        for dilation in dilations:  # the receptive field grows, the resolution stays
            layers += conv_block(w4, w4, 3, dilation=dilation)
        layers += [
            *conv_block(w4, w4, 3),
            *conv_block(w4, w4, 3),
            *deconv_block(w4, w2),  # (B, 128, S/2, S/2)
            *conv_block(w2, w2, 3),
            *deconv_block(w2, w1),  # (B, 64, S, S)
            *conv_block(w1, w1 // 2, 3),  # (B, 32, S, S)
            nn.Conv2d(w1 // 2, channels, 3, 1, 1),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)
        if residual:  # no correction at the start: the untrained network returns the fill
            last = self.model[-2]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def raw(self, condition: Tensor) -> Tensor:
        """The network's output everywhere (B, C, S, S) in (-1, 1): the completion, or with
        ``residual`` the share of the way from the fill toward 1 (+) or -1 (-); only its hole
        is ever used."""
        return self.model(condition)

    def forward(self, condition: Tensor) -> Tensor:
        image, mask = condition[:, : self.channels], condition[:, self.channels :]
        completion = self.raw(condition)
        if self.residual:  # the fill moved the share of the way toward 1 or -1: in [-1, 1]
            room = torch.where(completion > 0, 1 - image, 1 + image)
            completion = image + completion * room
        return image * (1 - mask) + completion * mask  # the input outside the hole


def hole_centres(mask: Tensor) -> Tensor:
    """The centre (row, column) of each mask's bounding box (B, 1, S, S) -> (B, 2) long; the
    image's centre where a mask is empty."""
    size = mask.shape[-1]
    rows = mask.amax(3)[:, 0] > 0.5  # (B, S): rows holding the hole
    columns = mask.amax(2)[:, 0] > 0.5
    centres = []
    for r, c in zip(rows, columns):
        where_r, where_c = torch.nonzero(r)[:, 0], torch.nonzero(c)[:, 0]
        if len(where_r) == 0:
            centres.append((size // 2, size // 2))
        else:
            centres.append(
                (int(where_r[0] + where_r[-1] + 1) // 2, int(where_c[0] + where_c[-1] + 1) // 2)
            )
    return torch.tensor(centres, dtype=torch.long)


def local_patches(image: Tensor, mask: Tensor, size: int) -> Tensor:
    """Patches (B, C, size, size) centred on each hole, shifted to lie inside the image."""
    side = image.shape[-1]
    patches = []
    for index, (row, column) in enumerate(hole_centres(mask).tolist()):
        top = min(max(row - size // 2, 0), side - size)
        left = min(max(column - size // 2, 0), side - size)
        patches.append(image[index, :, top : top + size, left : left + size])
    return torch.stack(patches)


def strided_branch(channels: int, layers: int, width: int) -> nn.Sequential:
    """``layers`` 5x5 convolutions of stride 2 (BN, ReLU), widths 64, 128, 256, 512, 512, ..."""
    blocks: list[nn.Module] = []
    previous = channels
    for index in range(layers):
        filters = min(width * 2**index, 8 * width)
        blocks += conv_block(previous, filters, 5, 2)
        previous = filters
    return nn.Sequential(*blocks, nn.Flatten())


class GlobalLocalDiscriminator(nn.Module):
    """(image (B, C, S, S), condition (B, C + 1, S, S) holding the mask) -> logit (B, 1)."""

    conditional = True  # it needs the mask to find the completed region

    def __init__(
        self,
        channels: int | None = None,
        image_size: int | None = None,
        local_size: int | None = None,
        width: int = 64,
        features: int = 1024,
        description: dict | None = None,
    ) -> None:
        super().__init__()
        channels = from_description(description, "channels", channels, 3, "channels")
        image_size = from_description(description, "image_size", image_size, 256, "image_size")
        local_size = image_size // 2 if local_size is None else local_size
        for side, name in ((image_size, "image_size"), (local_size, "local_size")):
            if side < 8 or side & (side - 1):
                raise ValueError(f"{name} must be a power of two >= 8, got {side}")
        if local_size > image_size:
            raise ValueError("the local patch cannot be larger than the image")
        self.channels, self.image_size, self.local_size = channels, image_size, local_size
        global_layers = int(math.log2(image_size // 4))  # 6 at 256: down to 4x4
        local_layers = int(math.log2(local_size // 4))  # 5 at 128
        self.global_branch = strided_branch(channels, global_layers, width)
        self.local_branch = strided_branch(channels, local_layers, width)
        global_width = min(width * 2 ** (global_layers - 1), 8 * width)
        local_width = min(width * 2 ** (local_layers - 1), 8 * width)
        self.global_fc = nn.Linear(global_width * 16, features)  # (B, 1024)
        self.local_fc = nn.Linear(local_width * 16, features)  # (B, 1024)
        self.concatenation = nn.Linear(2 * features, 1)  # (B, 2048) -> (B, 1)

    def forward(self, image: Tensor, condition: Tensor) -> Tensor:
        mask = condition[:, self.channels :]
        whole = self.global_fc(self.global_branch(image))
        local = self.local_fc(self.local_branch(local_patches(image, mask, self.local_size)))
        return self.concatenation(torch.cat([whole, local], 1))
