"""Image-to-image benchmarks (pix2pix, CycleGAN, SRGAN, inpainting); one JSON line per figure.

    python benchmarks/bench_img2img.py step [--model pix2pix|cyclegan|srgan|inpaint] [--size N]
        [--batch N] [--repeats 7] [--threads 1]
    python benchmarks/bench_img2img.py quality [--model ...] [--minutes 20] [--max-steps N]
        [overrides ...]

Defaults per model (the authors'): pix2pix and CycleGAN batch 1 at 128x128; SRGAN batch 16,
24x24 -> 96x96; inpainting batch 96 at 256x256 in the paper, here batch 8 at 64x64 unless
given (the paper's step takes minutes on a CPU).

CycleGAN step: ``image.cyclegan`` (two ResNet generators of 6 blocks, two instance-norm
PatchGANs, least squares, lambda 10, identity 0.5, pools of 50) through the core's path, against
the authors' ``ResnetGenerator``, ``NLayerDiscriminator(norm=instance)``, ``ImagePool`` and
``CycleGANModel.optimize_parameters`` (six generator calls, ``GANLoss('lsgan')``, one Adam over
both generators and one over both discriminators) rebuilt here; parameter counts checked equal.
SRGAN step: ``image.srgan`` (SRResNet, the VGG-style D, MSE + feature content + 1e-3 x
adversarial) against the paper's networks and step written plainly (no official code: figure
4 and section 2 rebuilt); the same frozen feature network in both. Inpainting step: the joint
phase (``image.inpaint``: D on real and completed images with their local patches, then the
completion network on MSE + 0.0004 x adversarial) against the paper's networks and step
written plainly.

step: one pix2pix training step (D on the real and the generated pair, then G on the
adversarial and lambda = 100 L1 terms) at the authors' default batch (1) and 128x128: ours
(``image.unet`` + ``image.patchgan`` stepped by ``image.pix2pix`` through the core's
optimisation path) against the authors' networks and step rebuilt here from their PyTorch
release (junyanz/pytorch-CycleGAN-and-pix2pix: ``UnetGenerator`` with
``UnetSkipConnectionBlock``, ``NLayerDiscriminator``, ``Pix2PixModel.optimize_parameters``
with ``GANLoss('vanilla')`` and ``torch.optim.Adam`` lr 2e-4, betas (0.5, 0.999)), the same
architecture (parameter counts checked equal), the same batch, interleaved step by step
through ``harness.interleaved``: median and minimum seconds, the ratio, the load average.

quality --model cyclegan|srgan|inpaint trains the recipe for ``--minutes`` and prints its
metric beside its baseline (domain share and cycle PSNR; SR vs bicubic; hole PSNR and FD vs
the diffusion fill) with the issue's targets. quality (pix2pix): trains ``pix2pix_sketch``
and ``pix2pix_sketch_l1`` (the same U-Net, L1 alone) for
``--minutes`` each (wall clock; the step count is reported), then evaluates both on the
held-out pairs with ``image.psnr_ssim``: FD on the image plugin's feature network with its
real-vs-real floor, PSNR, SSIM and L1. Target: pix2pix's FD below the L1 baseline's, at a PSNR
no more than 2 dB below it. Writes a strip png of each into the run folders.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "benchmarks")]

from harness import emit, interleaved, precision_levers, report_levers  # noqa: E402

import genmm  # noqa: E402


# ====================================================================== the authors' code
class UnetSkipConnectionBlock(nn.Module):
    """The authors' U-Net block: [down] submodule [up], the input concatenated to the output."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, use_dropout=False):  # fmt: skip
        super().__init__()
        self.outermost = outermost
        use_bias = False  # norm_layer = BatchNorm2d
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=use_bias)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model = model + [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """The authors' ``UnetGenerator(input_nc, output_nc, num_downs, ngf=64, use_dropout=True)``."""

    def __init__(self, input_nc, output_nc, num_downs, ngf=64, use_dropout=True):
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout
            )
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True
        )

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The authors' PatchGAN ``NLayerDiscriminator(input_nc, ndf=64, n_layers=3)``."""

    def __init__(self, input_nc, ndf=64, n_layers=3):
        super().__init__()
        sequence = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2**n, 8)
            sequence += [
                nn.Conv2d(ndf * previous, ndf * mult, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        previous, mult = mult, min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * previous, ndf * mult, 4, 1, 1, bias=False),
            nn.BatchNorm2d(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, 1, 1),
        ]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return self.model(x)


def init_weights(net: nn.Module) -> None:
    """The authors' ``init_weights(net, 'normal', 0.02)``."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def authors_step(G: nn.Module, D: nn.Module, real_A: torch.Tensor, real_B: torch.Tensor):
    """``Pix2PixModel.optimize_parameters`` on one fixed batch."""
    criterion_gan = nn.BCEWithLogitsLoss()  # GANLoss('vanilla')
    criterion_l1 = nn.L1Loss()
    optimizer_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def gan_loss(prediction, target_is_real):
        target = torch.tensor(1.0 if target_is_real else 0.0).expand_as(prediction)
        return criterion_gan(prediction, target)

    def set_requires_grad(net, flag):
        for parameter in net.parameters():
            parameter.requires_grad = flag

    def step():
        fake_B = G(real_A)  # forward()
        set_requires_grad(D, True)
        optimizer_D.zero_grad()
        pred_fake = D(torch.cat((real_A, fake_B), 1).detach())  # backward_D()
        pred_real = D(torch.cat((real_A, real_B), 1))
        loss_D = (gan_loss(pred_fake, False) + gan_loss(pred_real, True)) * 0.5
        loss_D.backward()
        optimizer_D.step()
        set_requires_grad(D, False)
        optimizer_G.zero_grad()
        pred_fake = D(torch.cat((real_A, fake_B), 1))  # backward_G()
        loss_G = gan_loss(pred_fake, True) + criterion_l1(fake_B, real_B) * 100.0
        loss_G.backward()
        optimizer_G.step()

    return step


# ====================================================================== CycleGAN, the authors'
class ResnetBlock(nn.Module):
    """The authors' ``ResnetBlock(dim, 'reflect', InstanceNorm2d, use_dropout=False, bias)``."""

    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim),
            nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim),
        )  # fmt: skip

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The authors' ``ResnetGenerator(input_nc, output_nc, ngf=64, norm=instance, n_blocks)``."""

    def __init__(self, input_nc, output_nc, ngf=64, n_blocks=6):
        super().__init__()
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=True),
                 nn.InstanceNorm2d(ngf), nn.ReLU(True)]  # fmt: skip
        for i in range(2):
            mult = 2**i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=True),
                      nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]  # fmt: skip
        model += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1,
                                         bias=True),
                      nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]  # fmt: skip
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class InstanceNLayerDiscriminator(nn.Module):
    """The authors' ``NLayerDiscriminator(input_nc, 64, 3, norm_layer=InstanceNorm2d)``."""

    def __init__(self, input_nc, ndf=64, n_layers=3):
        super().__init__()
        sequence = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            sequence += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride, 1, bias=True),
                         nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]  # fmt: skip
        sequence += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return self.model(x)


class ImagePool:
    """The authors' ``ImagePool(pool_size)``."""

    def __init__(self, pool_size):
        self.pool_size, self.images = pool_size, []

    def query(self, images):
        import random

        returned = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if len(self.images) < self.pool_size:
                self.images.append(image)
                returned.append(image)
            elif random.uniform(0, 1) > 0.5:
                index = random.randint(0, self.pool_size - 1)
                returned.append(self.images[index].clone())
                self.images[index] = image
            else:
                returned.append(image)
        return torch.cat(returned, 0)


def authors_cyclegan_step(G_A, G_B, D_A, D_B, real_A, real_B):
    """``CycleGANModel.optimize_parameters`` on one fixed batch (lambda 10, identity 0.5)."""
    import itertools

    mse, l1 = nn.MSELoss(), nn.L1Loss()
    optimizer_G = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), lr=2e-4,
                                   betas=(0.5, 0.999))  # fmt: skip
    optimizer_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), lr=2e-4,
                                   betas=(0.5, 0.999))  # fmt: skip
    pool_A, pool_B = ImagePool(50), ImagePool(50)

    def gan_loss(prediction, real):
        return mse(prediction, torch.tensor(1.0 if real else 0.0).expand_as(prediction))

    def set_requires_grad(nets, flag):
        for net in nets:
            for parameter in net.parameters():
                parameter.requires_grad = flag

    def step():
        fake_B = G_A(real_A)  # forward()
        rec_A = G_B(fake_B)
        fake_A = G_B(real_B)
        rec_B = G_A(fake_A)
        set_requires_grad([D_A, D_B], False)
        optimizer_G.zero_grad()  # backward_G()
        idt_A = G_A(real_B)
        loss_idt_A = l1(idt_A, real_B) * 10.0 * 0.5
        idt_B = G_B(real_A)
        loss_idt_B = l1(idt_B, real_A) * 10.0 * 0.5
        loss_G = gan_loss(D_A(fake_B), True) + gan_loss(D_B(fake_A), True)
        loss_G = loss_G + l1(rec_A, real_A) * 10.0 + l1(rec_B, real_B) * 10.0
        loss_G = loss_G + loss_idt_A + loss_idt_B
        loss_G.backward()
        optimizer_G.step()
        set_requires_grad([D_A, D_B], True)
        optimizer_D.zero_grad()
        for D, real, fake in (
            (D_A, real_B, pool_B.query(fake_B)),
            (D_B, real_A, pool_A.query(fake_A)),
        ):
            loss_D = (gan_loss(D(real), True) + gan_loss(D(fake.detach()), False)) * 0.5
            loss_D.backward()
        optimizer_D.step()

    return step


# ====================================================================== SRGAN, the paper's
class PaperResidualBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64)
        self.prelu = nn.PReLU()
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64)

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class PaperSRResNet(nn.Module):
    """Figure 4's generator: k9n64s1, PReLU, 16 blocks, k3n64s1 + BN, skip, 2 x (k3n256s1,
    PixelShuffle x2, PReLU), k9n3s1."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu = nn.Conv2d(3, 64, 9, 1, 4), nn.PReLU()
        self.blocks = nn.Sequential(*[PaperResidualBlock() for _ in range(16)])
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64)
        self.up = nn.Sequential(
            nn.Conv2d(64, 256, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(),
            nn.Conv2d(64, 256, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(),
        )  # fmt: skip
        self.conv3 = nn.Conv2d(64, 3, 9, 1, 4)

    def forward(self, x):
        x = self.prelu(self.conv1(x))
        return self.conv3(self.up(x + self.bn2(self.conv2(self.blocks(x)))))


class PaperSRGANDiscriminator(nn.Module):
    """Figure 4's discriminator on 96x96 (``size``): 8 convolutions, dense 1024, dense 1."""

    def __init__(self, size=96):
        super().__init__()
        layers, previous = [], 3
        for index, (filters, stride) in enumerate(
            [(64, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2)]
        ):
            layers.append(nn.Conv2d(previous, filters, 3, stride, 1))
            if index:
                layers.append(nn.BatchNorm2d(filters))
            layers.append(nn.LeakyReLU(0.2))
            previous = filters
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * (size // 16) ** 2, 1024),
                                 nn.LeakyReLU(0.2), nn.Linear(1024, 1))  # fmt: skip

    def forward(self, x):
        return self.net(x)


def paper_srgan_step(G, D, features, low, high):
    """One SRGAN step as the paper states it: D on the log loss, then G on MSE + feature
    content + 1e-3 x -log D(G(x)); Adam 1e-4, beta1 0.9."""
    bce = nn.BCEWithLogitsLoss()
    optimizer_G = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.9, 0.999))
    optimizer_D = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.9, 0.999))

    def step():
        fake = G(low)
        optimizer_D.zero_grad()
        real_score, fake_score = D(high), D(fake.detach())
        loss_D = bce(real_score, torch.ones_like(real_score)) + bce(
            fake_score, torch.zeros_like(fake_score)
        )
        loss_D.backward()
        optimizer_D.step()
        for parameter in D.parameters():
            parameter.requires_grad_(False)
        optimizer_G.zero_grad()
        score = D(fake)
        with torch.no_grad():
            target = features(high)
        loss_G = nn.functional.mse_loss(fake, high)
        loss_G = loss_G + nn.functional.mse_loss(features(fake), target)
        loss_G = loss_G + 1e-3 * bce(score, torch.ones_like(score))
        loss_G.backward()
        optimizer_G.step()
        for parameter in D.parameters():
            parameter.requires_grad_(True)

    return step


# ====================================================================== inpainting, the paper's
def paper_inpaint_step(C, D, condition, real, alpha=4e-4):
    """The joint phase as the paper states it: D on the log loss of real and completed images
    (global image and local patch), then C on the masked MSE + alpha x the adversarial term."""
    bce = nn.BCEWithLogitsLoss()
    optimizer_C = torch.optim.Adam(C.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    mask = condition[:, 3:]

    def step():
        raw = C.model(condition)
        completed = real * (1 - mask) + raw * mask
        optimizer_D.zero_grad()
        real_score, fake_score = D(real, condition), D(completed.detach(), condition)
        loss_D = bce(real_score, torch.ones_like(real_score)) + bce(
            fake_score, torch.zeros_like(fake_score)
        )
        loss_D.backward()
        optimizer_D.step()
        for parameter in D.parameters():
            parameter.requires_grad_(False)
        optimizer_C.zero_grad()
        score = D(completed, condition)
        loss_C = nn.functional.mse_loss(completed, real) + alpha * bce(
            score, torch.ones_like(score)
        )
        loss_C.backward()
        optimizer_C.step()
        for parameter in D.parameters():
            parameter.requires_grad_(True)

    return step


# ====================================================================== step
def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def step(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model != "pix2pix":
        {"cyclegan": cyclegan_step, "srgan": srgan_step, "inpaint": inpaint_step}[args.model](args)
        return
    args.size, args.batch = args.size or 128, args.batch or 1
    from genmm.losses import NonSaturatingLoss
    from genmm.testing import MiniRun
    from genmm_image.img2img.losses import L1Reconstruction
    from genmm_image.img2img.patchgan import PatchGANDiscriminator
    from genmm_image.img2img.trainer import Pix2PixTrainer
    from genmm_image.img2img.unet import UNetGenerator

    if args.threads:
        torch.set_num_threads(args.threads)
    size, batch = args.size, args.batch
    depth = size.bit_length() - 1  # the authors' unet_128 / unet_256: down to 1x1
    torch.manual_seed(0)
    real_A = torch.rand(batch, 3, size, size) * 2 - 1
    real_B = torch.rand(batch, 3, size, size) * 2 - 1
    reference_G, reference_D = UnetGenerator(3, 3, depth), NLayerDiscriminator(6)
    init_weights(reference_G)
    init_weights(reference_D)
    ours_G, ours_D = UNetGenerator(3, 3, size), PatchGANDiscriminator(3, 3)
    counts = {"G": (count(ours_G), count(reference_G)), "D": (count(ours_D), count(reference_D))}
    for name, (ours, theirs) in counts.items():
        if ours != theirs:
            raise SystemExit(f"{name} parameter counts differ: ours {ours}, authors' {theirs}")
    run = MiniRun(
        {"generator": ours_G, "discriminator": ours_D},
        {"adversarial": NonSaturatingLoss(), "l1": L1Reconstruction(weight=100.0)},
        lambda: {"real": real_B, "condition": real_A},
        batch_size=batch,
        phase_name="bench",
        precision=args.precision,
    )
    trainer = Pix2PixTrainer()
    trainer.setup(run)
    candidates = {
        "ours": lambda: run.step_once(trainer),
        "authors": authors_step(reference_G, reference_D, real_A, real_B),
    }
    stats = interleaved(
        precision_levers(candidates, run, "authors"),
        repeats=args.repeats,
        warmup=2,
        flops=True,
    )
    report_levers(
        "pix2pix_step_seconds",
        stats,
        "authors",
        target=1.2,
        precision=args.precision,
        size=f"{size}x{size}",
        batch=batch,
        threads=torch.get_num_threads(),
        parameters={"generator": counts["G"][0], "discriminator": counts["D"][0]},
        optimizer=run.optimization.optimizers["generator"].defaults.get("fused"),
    )


def check_counts(counts: dict[str, tuple[int, int]]) -> None:
    for name, (ours, theirs) in counts.items():
        if ours != theirs:
            raise SystemExit(f"{name} parameter counts differ: ours {ours}, reference {theirs}")


def cyclegan_step(args: argparse.Namespace) -> None:
    from genmm.losses import LSGANLoss
    from genmm.testing import MiniRun
    from genmm_image.img2img.cyclegan import ResNetGenerator
    from genmm_image.img2img.patchgan import PatchGANDiscriminator
    from genmm_image.img2img.trainer import CycleGANTrainer

    size, batch = args.size or 128, args.batch or 1
    torch.manual_seed(0)
    real_A = torch.rand(batch, 3, size, size) * 2 - 1
    real_B = torch.rand(batch, 3, size, size) * 2 - 1
    blocks = 6 if size <= 128 else 9
    theirs = [ResnetGenerator(3, 3, n_blocks=blocks), ResnetGenerator(3, 3, n_blocks=blocks),
              InstanceNLayerDiscriminator(3), InstanceNLayerDiscriminator(3)]  # fmt: skip
    for net in theirs:
        init_weights(net)
    ours = {
        "generator": ResNetGenerator(3, 3, size),
        "generator_ba": ResNetGenerator(3, 3, size),
        "discriminator_a": PatchGANDiscriminator(3, 3, conditional=False, norm="instance"),
        "discriminator_b": PatchGANDiscriminator(3, 3, conditional=False, norm="instance"),
    }
    check_counts({"G": (count(ours["generator"]), count(theirs[0])),
                  "D": (count(ours["discriminator_a"]), count(theirs[2]))})  # fmt: skip
    run = MiniRun(ours, {"adversarial": LSGANLoss()},
                  lambda: {"real": real_B, "condition": real_A}, batch_size=batch,
                  phase_name="bench", precision=args.precision)  # fmt: skip
    trainer = CycleGANTrainer()
    trainer.setup(run)
    candidates = {"ours": lambda: run.step_once(trainer),
                  "authors": authors_cyclegan_step(*theirs, real_A, real_B)}  # fmt: skip
    stats = interleaved(precision_levers(candidates, run, "authors"), repeats=args.repeats,
                        warmup=1, flops=("ours", "authors"))  # fmt: skip
    report_levers("cyclegan_step_seconds", stats, "authors", 1.2, precision=args.precision,
           size=f"{size}x{size}", batch=batch, threads=torch.get_num_threads(),
           parameters={"generator": count(ours["generator"]),
                       "discriminator": count(ours["discriminator_a"])})  # fmt: skip


def srgan_step(args: argparse.Namespace) -> None:
    from genmm.losses import NonSaturatingLoss
    from genmm.testing import MiniRun
    from genmm_image.img2img.losses import FeatureContent, MSEReconstruction
    from genmm_image.img2img.srgan import SRGANDiscriminator, SRResNet
    from genmm_image.img2img.trainer import SRGANTrainer
    from genmm_image.metrics import FeatureNetwork

    size, batch = args.size or 96, args.batch or 16
    torch.manual_seed(0)
    high = torch.rand(batch, 3, size, size) * 2 - 1
    low = torch.nn.functional.interpolate(high, scale_factor=0.25, mode="bicubic", antialias=True)
    network = FeatureNetwork(3, 15).eval().requires_grad_(False)  # the same frozen net in both
    features = FeatureContent()
    features.network = network
    G, D = SRResNet(3), SRGANDiscriminator(3, size)
    reference_G, reference_D = PaperSRResNet(), PaperSRGANDiscriminator(size)
    check_counts({"G": (count(G), count(reference_G)), "D": (count(D), count(reference_D))})
    run = MiniRun({"generator": G, "discriminator": D},
                  {"adversarial": NonSaturatingLoss(), "mse": MSEReconstruction(),
                   "features": features},
                  lambda: {"real": high, "condition": low}, batch_size=batch,
                  phase_name="bench", precision=args.precision)  # fmt: skip
    trainer = SRGANTrainer()
    trainer.setup(run)

    def reference_features(images):
        return network.body[:-2](network.prepare(images))

    candidates = {"ours": lambda: run.step_once(trainer),
                  "paper": paper_srgan_step(reference_G, reference_D, reference_features, low,
                                            high)}  # fmt: skip
    stats = interleaved(precision_levers(candidates, run, "paper"), repeats=args.repeats,
                        warmup=1, flops=("ours", "paper"))  # fmt: skip
    report_levers("srgan_step_seconds", stats, "paper", 1.2, precision=args.precision,
           size=f"{size // 4}x{size // 4}->{size}x{size}", batch=batch,
           threads=torch.get_num_threads(),
           parameters={"generator": count(G), "discriminator": count(D)})  # fmt: skip


def inpaint_step(args: argparse.Namespace) -> None:
    import copy

    from genmm.losses import NonSaturatingLoss
    from genmm.testing import MiniRun
    from genmm_image.img2img.data import draw_masks
    from genmm_image.img2img.inpaint import CompletionNetwork, GlobalLocalDiscriminator
    from genmm_image.img2img.losses import MSEReconstruction
    from genmm_image.img2img.trainer import InpaintTrainer

    size, batch = args.size or 64, args.batch or 8
    torch.manual_seed(0)
    real = torch.rand(batch, 3, size, size) * 2 - 1
    mask = draw_masks(batch, size, "rectangles", (0.25, 0.5), torch.Generator().manual_seed(0))
    condition = torch.cat([real * (1 - mask), mask], 1)
    C, D = CompletionNetwork(3), GlobalLocalDiscriminator(3, size)
    reference_C, reference_D = copy.deepcopy(C), copy.deepcopy(D)  # no authors' training code
    run = MiniRun({"generator": C, "discriminator": D},
                  {"adversarial": NonSaturatingLoss(), "mse": MSEReconstruction()},
                  lambda: {"real": real, "condition": condition}, batch_size=batch,
                  phase_name="bench", precision=args.precision)  # fmt: skip
    trainer = InpaintTrainer(losses=["mse"])
    trainer.setup(run)
    candidates = {
        "ours": lambda: run.step_once(trainer),
        "paper": paper_inpaint_step(reference_C, reference_D, condition, real),
    }
    stats = interleaved(precision_levers(candidates, run, "paper"), repeats=args.repeats,
                        warmup=1, flops=("ours", "paper"))  # fmt: skip
    report_levers("inpaint_step_seconds", stats, "paper", 1.2, precision=args.precision,
           size=f"{size}x{size}",
           batch=batch, threads=torch.get_num_threads(),
           parameters={"generator": count(C), "discriminator": count(D)})  # fmt: skip


QUALITY = {
    "cyclegan": ("cyclegan_shapes", "image.cycle_metrics"),
    "srgan": ("srgan_digits", "image.sr_metrics"),
    "inpaint": ("inpaint_shapes", "image.inpaint_metrics"),
}


def model_quality(args: argparse.Namespace) -> None:
    from genmm.plugins import get_manager

    recipe, _ = QUALITY[args.model]
    manager = get_manager()
    manager.add(TimeLimit(args.minutes), "bench_time_limit", "benchmarks/bench_img2img.py", None)
    first_phase = PhaseEnd(recipe, manager, args.overrides)
    manager.add(first_phase, "bench_phase_end", "benchmarks/bench_img2img.py", None)
    out = Path(tempfile.mkdtemp(prefix=f"bench-{recipe}-", dir=os.environ.get("BENCH_OUT")))
    started = time.perf_counter()
    run = genmm.train(recipe, ["eval.every=0", "samples.every=0", "runtime.progress=false",
                               *args.overrides], out=out, manager=manager,
                       max_steps=args.max_steps or None)  # fmt: skip
    seconds = time.perf_counter() - started
    figures: dict[str, float] = {}
    for answer in manager.hook.genmm_evaluate(run=run, step=run.step):
        figures.update(answer or {})
    run.writer.write_samples(run, out / "strip")
    emit(figure=f"{args.model}_quality", recipe=recipe, steps=run.step,
         train_seconds=round(seconds, 1), run_folder=str(out),
         **{key: round(value, 4) for key, value in sorted(figures.items())})  # fmt: skip
    if args.model == "cyclegan" and "share_ab" in figures:
        share = min(figures["share_ab"], figures["share_ba"])
        cycle = min(figures["cycle_psnr_a"], figures["cycle_psnr_b"])
        emit(figure="cyclegan_targets", share_target_domain=round(share, 4),
             cycle_psnr_db=round(cycle, 3), target="share >= 0.9, cycle psnr >= 25 dB",
             met=bool(share >= 0.9 and cycle >= 25.0))  # fmt: skip
    if first_phase.figures:
        emit(
            figure=f"{args.model}_quality_after_first_phase",
            recipe=recipe,
            phase=first_phase.phase,
            steps=first_phase.step,
            **{key: round(value, 4) for key, value in sorted(first_phase.figures.items())},
        )
    if args.model == "srgan" and "psnr" in first_phase.figures:
        phase_one = first_phase.figures
        emit(figure="srresnet_vs_bicubic", psnr=round(phase_one["psnr"], 3),
             psnr_bicubic=round(phase_one["psnr_bicubic"], 3), steps=first_phase.step,
             target="SRResNet (the MSE phase) psnr above bicubic's",
             met=bool(phase_one["psnr"] > phase_one["psnr_bicubic"]))  # fmt: skip
    if args.model == "srgan" and "fd" in figures:
        emit(figure="srgan_vs_bicubic", fd=round(figures["fd"], 4),
             fd_bicubic=round(figures["fd_bicubic"], 4), psnr=round(figures["psnr"], 3),
             psnr_bicubic=round(figures["psnr_bicubic"], 3),
             target="SRGAN fd below bicubic's (SRResNet's psnr: srresnet_vs_bicubic)",
             met=bool(figures["fd"] < figures["fd_bicubic"]))  # fmt: skip
    if args.model == "inpaint" and "fd" in figures:
        emit(figure="inpaint_vs_fill", psnr_hole=round(figures["psnr_hole"], 3),
             psnr_hole_fill=round(figures["psnr_hole_fill"], 3), fd=round(figures["fd"], 4),
             fd_fill=round(figures["fd_fill"], 4),
             target="psnr in the hole and fd both better than the diffusion fill",
             met=bool(figures["psnr_hole"] > figures["psnr_hole_fill"]
                      and figures["fd"] < figures["fd_fill"]))  # fmt: skip


# ====================================================================== quality
class PhaseEnd:
    """A one-off plugin: evaluates the recipe's metrics once, when its first phase ends (for
    SRGAN, the SRResNet the paper compares with; for inpainting, the MSE-only network)."""

    def __init__(self, recipe: str, manager, overrides: list[str]) -> None:
        from genmm.api import resolve

        phases = resolve(recipe, overrides, manager=manager)[0]["phases"]
        self.phase, spec = next(iter(phases.items()))
        self.step = int(spec.get("max_steps") or 0) if len(phases) > 1 else 0
        self.manager, self.figures = manager, {}

    @genmm.hookimpl
    def genmm_step_end(self, run, step, logs):
        if self.step and step == self.step and not self.figures:
            for answer in self.manager.hook.genmm_evaluate(run=run, step=step):
                self.figures.update(answer or {})


class TimeLimit:
    """A one-off plugin: asks the loop to stop (with a checkpoint) after ``minutes``."""

    def __init__(self, minutes: float) -> None:
        self.seconds = 60.0 * minutes
        self.started = time.perf_counter()

    @genmm.hookimpl
    def genmm_run_start(self, run):
        self.started = time.perf_counter()

    @genmm.hookimpl
    def genmm_step_end(self, run, step, logs):
        if time.perf_counter() - self.started > self.seconds and run.stop_requested is None:
            run.stop_requested = "time limit"


def quality(args: argparse.Namespace) -> None:
    from genmm.plugins import get_manager
    from genmm_image.img2img.writer import strips

    results = {}
    manager = get_manager()
    manager.add(TimeLimit(args.minutes), "bench_time_limit", "benchmarks/bench_img2img.py", None)
    for recipe in ("pix2pix_sketch", "pix2pix_sketch_l1"):
        out = Path(tempfile.mkdtemp(prefix=f"bench-{recipe}-", dir=os.environ.get("BENCH_OUT")))
        started = time.perf_counter()
        run = genmm.train(
            recipe,
            ["eval.every=0", "samples.every=0", "runtime.progress=false", *args.overrides],
            out=out,
            manager=manager,
            max_steps=args.max_steps or None,
        )
        seconds = time.perf_counter() - started
        figures: dict[str, float] = {}
        for answer in manager.hook.genmm_evaluate(run=run, step=run.step):
            figures.update(answer or {})
        held_out = run.dataset.held_out_set()
        with run.evaluating(seed=0):
            inputs = held_out.all_inputs()[:8]
            outputs = run.sample(len(inputs), condition=inputs)
        run.writer.write(strips(inputs, outputs, held_out.all_images()[:8]), out / "strip.png", 3)
        results[recipe] = figures
        emit(
            figure="pix2pix_quality",
            recipe=recipe,
            steps=run.step,
            train_seconds=round(seconds, 1),
            run_folder=str(out),
            **{key: round(value, 4) for key, value in sorted(figures.items())},
        )
    ours, baseline = results["pix2pix_sketch"], results["pix2pix_sketch_l1"]
    if "fd" in ours and "fd" in baseline:
        emit(
            figure="pix2pix_vs_l1",
            fd=round(ours["fd"], 4),
            fd_l1_only=round(baseline["fd"], 4),
            fd_floor=round(ours["fd_floor"], 4),
            psnr_gap_db=round(baseline["psnr"] - ours["psnr"], 3),
            target="fd below the L1 baseline's, psnr gap <= 2 dB",
            met=bool(ours["fd"] < baseline["fd"] and baseline["psnr"] - ours["psnr"] <= 2.0),
            minutes_each=args.minutes,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["step", "quality"])
    parser.add_argument("--model", choices=["pix2pix", "cyclegan", "srgan", "inpaint"],
                        default="pix2pix")  # fmt: skip
    parser.add_argument("--size", type=int, default=0, help="0: the model's default")
    parser.add_argument("--batch", type=int, default=0, help="0: the authors' batch")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="bf16",
                        help="step: ours at this precision (bf16: also ours at fp32 and the "
                        "reference at bf16, to attribute the gain)")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=20.0, help="quality: per recipe")
    parser.add_argument("--max-steps", type=int, default=0, help="quality: caps every phase")
    parser.add_argument("overrides", nargs="*", help="quality: dotted recipe overrides")
    args = parser.parse_intermixed_args()
    if args.what == "step":
        step(args)
    elif args.model != "pix2pix":
        model_quality(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
