"""Registrations of the image-to-image models (called from plugin.py's hooks)."""

from __future__ import annotations

from genmm_image.img2img.data import PairsFolder, SketchPairs
from genmm_image.img2img.losses import L1Reconstruction
from genmm_image.img2img.metrics import PairedMetrics
from genmm_image.img2img.patchgan import PatchGANDiscriminator
from genmm_image.img2img.trainer import Pix2PixTrainer, SupervisedTrainer
from genmm_image.img2img.unet import UNetGenerator
from genmm_image.img2img.writer import PairStripWriter

PIX2PIX = "Isola et al. 2017"


def register_datasets(register) -> None:
    register(
        "image.sketch_pairs",
        SketchPairs,
        about="procedural hand-drawn sketch -> shaded image pairs (shapes and real digits)",
    )
    register(
        "image.pairs_folder", PairsFolder, about="your own aligned pairs: A|B images or A/ and B/"
    )


def register_models(register) -> None:
    register("image.unet", UNetGenerator, paper=PIX2PIX)
    register("image.patchgan", PatchGANDiscriminator, paper=PIX2PIX)


def register_losses(register) -> None:
    register("image.l1", L1Reconstruction, paper=PIX2PIX)


def register_trainers(register) -> None:
    register("image.pix2pix", Pix2PixTrainer, paper=PIX2PIX)
    register("image.supervised", SupervisedTrainer, about="the generator alone on its L1 term")


def register_metrics(register) -> None:
    register("image.psnr_ssim", PairedMetrics, paper="Wang et al. 2004; Heusel et al. 2017")


def register_writers(register) -> None:
    register(
        "image.pairs",
        PairStripWriter,
        about="input | output | target strips; generate --input IMAGE_OR_FOLDER [--strip]",
    )
