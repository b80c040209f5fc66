"""Registrations of the image-to-image models (called from plugin.py's hooks)."""

from __future__ import annotations

from genmm_image.img2img.cyclegan import ResNetGenerator
from genmm_image.img2img.data import (
    MaskedImages,
    PairsFolder,
    SketchPairs,
    SRPairs,
    TwoDomains,
    UnpairedFolder,
)
from genmm_image.img2img.inpaint import CompletionNetwork, GlobalLocalDiscriminator
from genmm_image.img2img.losses import FeatureContent, L1Reconstruction, MSEReconstruction
from genmm_image.img2img.metrics import CycleMetrics, InpaintMetrics, PairedMetrics, SRMetrics
from genmm_image.img2img.patchgan import PatchGANDiscriminator
from genmm_image.img2img.srgan import SRGANDiscriminator, SRResNet
from genmm_image.img2img.trainer import (
    CycleGANTrainer,
    InpaintTrainer,
    Pix2PixTrainer,
    SRGANTrainer,
    SupervisedTrainer,
)
from genmm_image.img2img.unet import UNetGenerator
from genmm_image.img2img.writer import PairStripWriter

PIX2PIX = "Isola et al. 2017"
CYCLEGAN = "Zhu et al. 2017"
SRGAN = "Ledig et al. 2017"
COMPLETION = "Iizuka et al. 2017"


def register_datasets(register) -> None:
    register(
        "image.sketch_pairs",
        SketchPairs,
        about="procedural hand-drawn sketch -> shaded image pairs (shapes and real digits)",
    )
    register(
        "image.pairs_folder", PairsFolder, about="your own aligned pairs: A|B images or A/ and B/"
    )
    register(
        "image.two_domains",
        TwoDomains,
        about="procedural unpaired domains: flat-coloured <-> outlined, striped objects",
    )
    register(
        "image.unpaired_folder", UnpairedFolder, about="your own two domains: trainA/ and trainB/"
    )
    register(
        "image.sr_pairs",
        SRPairs,
        about="high-resolution images and their x4 bicubic down-sampling (procedural or a folder)",
    )
    register(
        "image.masked",
        MaskedImages,
        about="images with rectangular or free-form holes and their masks (procedural or a folder)",
    )


def register_models(register) -> None:
    register("image.unet", UNetGenerator, paper=PIX2PIX)
    register("image.patchgan", PatchGANDiscriminator, paper=PIX2PIX)
    register("image.resnet_generator", ResNetGenerator, paper=CYCLEGAN)
    register("image.srresnet", SRResNet, paper=SRGAN)
    register("image.srgan_discriminator", SRGANDiscriminator, paper=SRGAN)
    register("image.completion_network", CompletionNetwork, paper=COMPLETION)
    register("image.global_local_discriminator", GlobalLocalDiscriminator, paper=COMPLETION)


def register_losses(register) -> None:
    register("image.l1", L1Reconstruction, paper=PIX2PIX)
    register("image.mse", MSEReconstruction, paper=f"{SRGAN}; {COMPLETION}")
    register(
        "image.feature_content",
        FeatureContent,
        paper=SRGAN,
        about="SRGAN's feature content loss on the plugin's own feature network (no VGG offline)",
    )


def register_trainers(register) -> None:
    register("image.pix2pix", Pix2PixTrainer, paper=PIX2PIX)
    register("image.supervised", SupervisedTrainer, about="the generator alone on its L1 term")
    register("image.cyclegan", CycleGANTrainer, paper=CYCLEGAN)
    register("image.srgan", SRGANTrainer, paper=SRGAN)
    register("image.inpaint", InpaintTrainer, paper=COMPLETION)


def register_metrics(register) -> None:
    register("image.psnr_ssim", PairedMetrics, paper="Wang et al. 2004; Heusel et al. 2017")
    register(
        "image.cycle_metrics",
        CycleMetrics,
        about="domain-classifier share, cycle PSNR, FD vs the untranslated inputs",
    )
    register("image.sr_metrics", SRMetrics, about="PSNR, SSIM, FD against bicubic upsampling")
    register(
        "image.inpaint_metrics", InpaintMetrics, about="PSNR in the hole, FD vs a diffusion fill"
    )


def register_writers(register) -> None:
    register(
        "image.pairs",
        PairStripWriter,
        about="input | output | target strips; generate --input IMAGE_OR_FOLDER [--strip]",
    )
