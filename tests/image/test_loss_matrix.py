"""Every GAN trainer of the image plugin with every adversarial loss of the core, through the
real recipe path (``genmm.train`` on a recipe mapping), three steps on tiny models.

Each pair trains with the loss's terms in its logs: the adversarial loss scaled by its
``weight`` in both players' losses, WGAN-GP's penalty as ``d_penalty`` (and in ``d_loss``),
WGAN's weight clipping actually clamping the discriminator. What a trainer must refuse (an
adversarial loss with ``every``, a second adversarial loss) is refused with a RecipeError
naming the key. So no trainer can drop a term of the recipe's objective (rule 4 of the v2
contract: GAN trainers override GANTrainer's hooks, never its step).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
import torch

import genmm
from genmm.errors import RecipeError

LOSSES = ["core.bce", "core.nonsaturating", "core.lsgan", "core.wgan", "core.wgan_gp", "core.hinge"]
WEIGHT = 0.5  # the adversarial weight: both players' losses must carry it
STEPS = 3

SHAPES = {"name": "image.shapes", "size": 8, "count": 32, "held_out": 0.0}
DCGAN = {"width": 4, "kernel_size": 5}
STYLEGAN2 = {"channel_base": 32, "channel_max": 8}

#: trainer label -> the recipe parts that make it (image size and channels from the data)
TRAINERS: dict[str, dict[str, Any]] = {
    "core.gan/mlp": {
        "data": SHAPES,
        "models": {
            "generator": {"name": "image.mlp_generator", "latent_dim": 8, "hidden": [16]},
            "discriminator": {"name": "image.mlp_discriminator", "units": [8], "pieces": 2},
        },
        "trainer": "core.gan",
    },
    "core.gan/dcgan": {
        "data": SHAPES,
        "models": {
            "generator": {"name": "image.dcgan_generator", "latent_dim": 8, **DCGAN},
            "discriminator": {"name": "image.dcgan_discriminator", **DCGAN},
        },
        "trainer": "core.gan",
    },
    "core.gan/cgan": {
        "data": {**SHAPES, "conditional": True},
        "models": {
            "generator": {
                "name": "image.cgan_generator",
                "latent_dim": 8,
                "embedding_dim": 4,
                **DCGAN,
            },
            "discriminator": {"name": "image.projection_discriminator", **DCGAN},
        },
        "trainer": "core.gan",
    },
    "image.stylegan2": {
        "data": SHAPES,
        "models": {
            "generator": {
                "name": "image.stylegan2_generator",
                "z_dim": 8,
                "w_dim": 8,
                "mapping_layers": 1,
                **STYLEGAN2,
            },
            "discriminator": {"name": "image.stylegan2_discriminator", **STYLEGAN2},
        },
        # the paper's regularisers, lazy every 2 so that three steps see them run
        "losses": {
            "r1": {"name": "core.r1", "gamma": 1.0, "every": 2},
            "path_length": {"name": "image.path_length", "every": 2},
        },
        "trainer": "image.stylegan2",
    },
    "image.infogan": {
        "data": SHAPES,
        "models": {
            "generator": {"name": "image.infogan_generator", "noise_dim": 8},
            "discriminator": {"name": "image.infogan_discriminator"},
        },
        "losses": {"information": {"name": "image.mutual_information"}},
        "trainer": "image.infogan",
    },
}


def recipe(trainer: str, adversarial: dict[str, Any], out: str) -> dict[str, Any]:
    parts = copy.deepcopy(TRAINERS[trainer])
    return {
        "out": out,
        "data": parts["data"],
        "models": parts["models"],
        "losses": {"adversarial": adversarial, **parts.get("losses", {})},
        "phases": {"gan": {"trainer": parts["trainer"], "max_steps": STEPS, "batch_size": 4}},
        "checkpoint": {"every": 0, "keep": 1},
        "runtime": {"progress": False, "log_every": 1, "device": "cpu"},
    }


def logged(run) -> list[dict[str, Any]]:
    lines = (run.out / "metrics.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if "d_loss" in record]


#: (trainer, loss) pairs a trainer refuses, with the recipe key its error must name (none
#: today: every image trainer takes every adversarial loss of the core)
REFUSED: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("trainer", list(TRAINERS))
def test_every_trainer_trains_with_every_adversarial_loss(trainer, loss, manager, tmp_path):
    torch.manual_seed(0)
    spec = {"name": loss, "weight": WEIGHT}
    built = recipe(trainer, spec, str(tmp_path / "run"))
    if (trainer, loss) in REFUSED:
        with pytest.raises(RecipeError, match=REFUSED[trainer, loss]):
            genmm.train(built, manager=manager)
        return
    run = genmm.train(built, manager=manager)
    assert run.status == "completed" and run.step == STEPS
    records = logged(run)
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    for record in records:
        for key in ("d_loss", "g_loss", "d_adversarial", "g_adversarial"):
            assert math.isfinite(record[key]), (key, record)
        # the recipe's objective, term by term: weight x adversarial, WGAN-GP's penalty and
        # the trainer's own terms (InfoGAN's information, weight 1), nothing dropped
        penalty = record.get("d_penalty", 0.0)
        d_expected = WEIGHT * record["d_adversarial"] + penalty + record.get("d_information", 0)
        g_expected = WEIGHT * record["g_adversarial"] + record.get("mi_loss", 0.0)
        assert record["d_loss"] == pytest.approx(d_expected, rel=1e-4, abs=1e-6), record
        assert record["g_loss"] == pytest.approx(g_expected, rel=1e-4, abs=1e-6), record
        assert ("d_penalty" in record) == (loss == "core.wgan_gp"), record
        if loss == "core.wgan_gp":
            assert record["d_penalty"] > 0
    if trainer == "image.stylegan2":  # the lazy regularisers ran through the core's path
        assert [r["step"] for r in records if "r1" in r] == [1, 3]
        assert [r["step"] for r in records if "path_length" in r] == [1, 3]
    if trainer == "image.infogan":
        assert all(math.isfinite(r["mi_loss"]) for r in records)
    D = run.models["discriminator"]
    largest = max(float(p.detach().abs().max()) for p in D.parameters())
    if loss == "core.wgan":  # weight clipping to [-0.01, 0.01] after every D update
        fresh = manager.registry.build(
            "models", built["models"]["discriminator"], description=run.description
        )
        before = max(float(p.detach().abs().max()) for p in fresh.parameters())
        assert before > 0.02  # the initial weights lie well outside: clipping had work to do
        assert largest <= 0.01 + 1e-9
    else:
        assert largest > 0.01


@pytest.mark.parametrize("trainer", list(TRAINERS))
def test_every_trainer_refuses_what_the_objective_cannot_take(trainer, manager, tmp_path):
    """An adversarial loss is the game itself (no ``every``); a trainer takes one of them."""
    out = str(tmp_path / "run")
    lazy = recipe(trainer, {"name": "core.hinge", "every": 2}, out)
    with pytest.raises(RecipeError, match="every") as error:
        genmm.train(lazy, manager=manager)
    assert "losses.adversarial" in str(error.value)
    second = recipe(trainer, {"name": "core.nonsaturating"}, out)
    second["losses"]["other"] = {"name": "core.hinge"}
    with pytest.raises(RecipeError, match="one adversarial loss") as error:
        genmm.train(second, manager=manager)
    assert "losses.other" in str(error.value)
