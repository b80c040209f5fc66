"""Image-to-image benchmarks (pix2pix); one JSON line per figure.

    python benchmarks/bench_img2img.py step [--size 128] [--batch 1] [--repeats 7] [--threads 1]
    python benchmarks/bench_img2img.py quality [--minutes 20] [overrides ...]

step: one pix2pix training step (D on the real and the generated pair, then G on the
adversarial and lambda = 100 L1 terms) at the authors' default batch (1) and 128x128: ours
(``image.unet`` + ``image.patchgan`` stepped by ``image.pix2pix`` through the core's
optimisation path) against the authors' networks and step rebuilt here from their PyTorch
release (junyanz/pytorch-CycleGAN-and-pix2pix: ``UnetGenerator`` with
``UnetSkipConnectionBlock``, ``NLayerDiscriminator``, ``Pix2PixModel.optimize_parameters``
with ``GANLoss('vanilla')`` and ``torch.optim.Adam`` lr 2e-4, betas (0.5, 0.999)), the same
architecture (parameter counts checked equal), the same batch, interleaved step by step
through ``harness.interleaved``: median and minimum seconds, the ratio, the load average.

quality: trains ``pix2pix_sketch`` and ``pix2pix_sketch_l1`` (the same U-Net, L1 alone) for
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

from harness import emit, interleaved, report  # noqa: E402

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


# ====================================================================== step
def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def step(args: argparse.Namespace) -> None:
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
    )
    trainer = Pix2PixTrainer()
    trainer.setup(run)
    stats = interleaved(
        {
            "ours": lambda: run.step_once(trainer),
            "authors": authors_step(reference_G, reference_D, real_A, real_B),
        },
        repeats=args.repeats,
        warmup=2,
    )
    report(
        "pix2pix_step_seconds",
        stats,
        "ours",
        "authors",
        target=1.2,
        size=f"{size}x{size}",
        batch=batch,
        threads=torch.get_num_threads(),
        parameters={"generator": counts["G"][0], "discriminator": counts["D"][0]},
        optimizer=run.optimization.optimizers["generator"].defaults.get("fused"),
    )


# ====================================================================== quality
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
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    parser.add_argument("--minutes", type=float, default=20.0, help="quality: per recipe")
    parser.add_argument("overrides", nargs="*", help="quality: dotted recipe overrides")
    args = parser.parse_intermixed_args()
    if args.what == "step":
        step(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
