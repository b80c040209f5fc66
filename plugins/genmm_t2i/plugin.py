"""Hook implementations of the text-to-image plugin."""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm_t2i.attngan import (
    AttnGANDiscriminators,
    AttnGANGenerator,
    AttnGANTrainer,
    MatchingBCELoss,
)
from genmm_t2i.attributes import AttributeAccuracy
from genmm_t2i.damsm import DAMSMTrainer, ImageEncoder
from genmm_t2i.data import CaptionedFolder, CaptionedShapes
from genmm_t2i.dfgan import (
    DFGANDiscriminator,
    DFGANGenerator,
    DFGANTrainer,
    MatchingAwareGradientPenalty,
    MatchingHingeLoss,
)
from genmm_t2i.metrics import RPrecision
from genmm_t2i.text_encoder import TextEncoder
from genmm_t2i.writers import ImageWriter

ATTNGAN = "Xu et al., CVPR 2018"
DFGAN = "Tao et al., CVPR 2022"


@genmm.hookimpl
def genmm_register_datasets(register):
    register("t2i.captioned_shapes", CaptionedShapes, about="procedural captioned scenes")
    register("t2i.folder", CaptionedFolder, about="the user's images with .txt / JSONL captions")


@genmm.hookimpl
def genmm_register_models(register):
    register("t2i.text_encoder", TextEncoder, paper=f"{ATTNGAN}, DAMSM bi-LSTM")
    register("t2i.damsm_image_encoder", ImageEncoder, paper=f"{ATTNGAN}, DAMSM (small CNN)")
    register("t2i.attngan_generator", AttnGANGenerator, paper=f"{ATTNGAN}, CA + attention stages")
    register("t2i.attngan_discriminators", AttnGANDiscriminators, paper=f"{ATTNGAN}, per stage")
    register("t2i.dfgan_generator", DFGANGenerator, paper=DFGAN)
    register("t2i.dfgan_discriminator", DFGANDiscriminator, paper=DFGAN)


@genmm.hookimpl
def genmm_register_losses(register):
    register("t2i.matching_bce", MatchingBCELoss, paper=f"{ATTNGAN}, eq. 3-5")
    register("t2i.matching_hinge", MatchingHingeLoss, paper=f"{DFGAN}, eq. 1-2")
    register("t2i.ma_gp", MatchingAwareGradientPenalty, paper=f"{DFGAN}, MA-GP")


@genmm.hookimpl
def genmm_register_trainers(register):
    register("t2i.damsm", DAMSMTrainer, paper=f"{ATTNGAN}, sec. 3.2")
    register("t2i.attngan", AttnGANTrainer, paper=f"{ATTNGAN}, + DAMSM loss, lambda 5")
    register("t2i.dfgan", DFGANTrainer, paper=DFGAN)


@genmm.hookimpl
def genmm_register_metrics(register):
    register("t2i.r_precision", RPrecision, paper=f"{ATTNGAN}, R-precision")
    register(
        "t2i.attributes",
        AttributeAccuracy,
        about="attribute accuracy by a scene classifier, and FD on its features with the floor",
    )


@genmm.hookimpl
def genmm_register_writers(register):
    register("t2i.images", ImageWriter, about="png grids from --text, --attention maps")


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
