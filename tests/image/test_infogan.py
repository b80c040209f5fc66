"""InfoGAN (Chen et al. 2016): the Q head shares D's trunk, code shapes, the mutual-information
loss against a hand-computed value, MI falling under training, the traversal grid, and the
recipe through the real CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from genmm.errors import RecipeError
from genmm.losses import NonSaturatingLoss
from genmm_image.infogan.losses import MutualInformationLoss, gaussian_nll
from genmm_image.infogan.models import InfoGANDiscriminator, InfoGANGenerator
from genmm_image.infogan.trainer import InfoGANTrainer
from genmm_image.infogan.writer import traversal_latents

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_q_head_shares_the_discriminator_trunk():
    torch.manual_seed(0)
    D = InfoGANDiscriminator(resolution=16)
    images = torch.randn(6, 1, 16, 16)
    logit, q = D.infer(images)
    # one trunk pass gives D's logit (identical to D(x)) and Q's output
    assert torch.allclose(logit, D(images), atol=1e-6)
    # Q adds only its own head (paper: FC 128 - BN - lReLU - FC): 1024*128 + 128 + 2*128
    # + 128*12 + 12, the rest of D's parameters are the shared trunk and D's FC 1
    assert count(D.q_head) == 1024 * 128 + 128 + 2 * 128 + 128 * 12 + 12
    assert count(D) == count(D.trunk) + count(D.d_head) + count(D.q_head)
    assert count(D.d_head) == 1024 + 1
    # the MI loss trains the shared trunk (and Q), never D's real/fake head
    loss = MutualInformationLoss().parts(q, torch.randint(10, (6,)), torch.rand(6, 2) * 2 - 1)[0]
    loss.backward()
    assert D.trunk[0].weight.grad is not None and D.trunk[0].weight.grad.abs().sum() > 0
    assert D.q_head[-1].weight.grad.abs().sum() > 0
    assert D.d_head.weight.grad is None


def test_code_shapes_and_split():
    torch.manual_seed(0)
    G = InfoGANGenerator(resolution=16)
    assert G.latent_dim == 62 + 10 + 2  # the paper's MNIST latent: 74 values
    latent = G.sample_latent(500, "cpu")
    assert latent.shape == (500, 74)
    one_hot = latent[:, 62:72]
    assert torch.equal(one_hot.sum(1), torch.ones(500))
    assert set(one_hot.unique().tolist()) == {0.0, 1.0}
    assert len(one_hot.argmax(1).unique()) == 10  # every class drawn
    continuous = latent[:, 72:]
    assert continuous.min() >= -1 and continuous.max() <= 1 and continuous.std() > 0.4
    noise, category, code = G.split(latent)
    assert noise.shape == (500, 62) and category.shape == (500,) and code.shape == (500, 2)
    assert torch.equal(G.compose(noise, category, code), latent)
    assert G(latent[:4]).shape == (4, 1, 16, 16)
    D = InfoGANDiscriminator(resolution=16)
    logit, q = D.infer(G(latent[:4]))
    assert logit.shape == (4, 1) and q["logits"].shape == (4, 10)
    assert q["mean"].shape == (4, 2) and torch.equal(q["log_std"], torch.zeros(4, 2))
    learned = InfoGANDiscriminator(resolution=16, learn_std=True)
    _, q = learned.infer(G(latent[:4]))
    assert q["log_std"].shape == (4, 2) and q["log_std"].abs().sum() > 0
    assert learned.q_head[-1].out_features == 10 + 2 + 2


def test_mutual_information_loss_matches_hand_computation():
    """CE of c1 plus the Gaussian NLL of c2, c3: the variational lower bound of sec. 5."""
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 1.5]])
    category = torch.tensor([0, 1])
    code = torch.tensor([[0.5, -1.0], [0.0, 0.25]])
    mean = torch.tensor([[0.0, -0.5], [0.5, 0.0]])
    log_std = torch.tensor([[0.0, math.log(0.5)], [math.log(2.0), 0.0]])

    def log_softmax(row, k):
        return row[k] - math.log(sum(math.exp(v) for v in row))

    ce = -(log_softmax([2.0, 0.0, -1.0], 0) + log_softmax([0.5, 0.5, 1.5], 1)) / 2

    def normal_nll(x, mu, sigma):
        return 0.5 * math.log(2 * math.pi) + math.log(sigma) + (x - mu) ** 2 / (2 * sigma**2)

    nll = (
        normal_nll(0.5, 0.0, 1.0)
        + normal_nll(-1.0, -0.5, 0.5)
        + normal_nll(0.0, 0.5, 2.0)
        + normal_nll(0.25, 0.0, 1.0)
    ) / 2
    assert gaussian_nll(code, mean, log_std).item() == pytest.approx(nll, rel=1e-6)
    loss_fn = MutualInformationLoss(lambda_discrete=1.0, lambda_continuous=0.5)
    q = {"logits": logits, "mean": mean, "log_std": log_std}
    loss, logs = loss_fn.parts(q, category, code)
    assert loss.item() == pytest.approx(ce + 0.5 * nll, rel=1e-6)
    # logged MI estimate of c1: H(c1) - CE = log K - CE (K = 3 here)
    assert logs["mi_categorical"].item() == pytest.approx(math.log(3) - ce, rel=1e-6)
    assert logs["q_accuracy"].item() == pytest.approx(0.5)  # row 0 right, row 1 wrong
    assert logs["q_continuous_nll"].item() == pytest.approx(nll, rel=1e-6)


def test_loss_through_the_context_uses_the_generators_codes():
    torch.manual_seed(0)
    G, D = InfoGANGenerator(resolution=16), InfoGANDiscriminator(resolution=16)
    latent = G.sample_latent(8, "cpu")

    class Ctx:
        generator, discriminator, fake = G, D, G(latent)

    Ctx.latent = latent
    _, category, code = G.split(latent)
    expected = MutualInformationLoss().parts(D.infer(Ctx.fake)[1], category, code)[0]
    assert MutualInformationLoss()(Ctx).item() == pytest.approx(expected.item(), rel=1e-5)


def bars(batch: int = 16, resolution: int = 16) -> torch.Tensor:
    """Noisy images of one bar: something fixed for D to learn."""
    digits = torch.zeros(batch, 1, resolution, resolution)
    digits[:, :, 4:12, 6:10] = 1.0
    return digits * 2 - 1 + 0.1 * torch.randn_like(digits)


def test_training_steps_lower_the_mutual_information_loss(stub_run):
    """Q learns to read the codes back from G's images (and G to make them readable): the MI
    loss on a fixed batch of codes falls from about log 10 + 2 x 1.2 nats at initialisation."""
    torch.manual_seed(0)
    G, D = InfoGANGenerator(resolution=8), InfoGANDiscriminator(resolution=8)
    information = MutualInformationLoss()
    losses = {"adversarial": NonSaturatingLoss(), "information": information}
    assert InfoGANTrainer.default_optimizers["discriminator"]["lr"] == pytest.approx(2e-4)
    assert InfoGANTrainer.default_optimizers["generator"]["lr"] == pytest.approx(1e-3)
    faster = {"generator": {"lr": 2e-3}, "discriminator": {"lr": 2e-3}}
    run = stub_run(G, D, losses, lambda: bars(batch=32, resolution=8), optimizers=faster)
    trainer = InfoGANTrainer()
    trainer.setup(run)
    # the paper's Adam betas are kept; D's optimiser holds the shared trunk and both heads
    optimizers = run.optimization.optimizers
    assert optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)
    assert optimizers["generator"].param_groups[0]["lr"] == pytest.approx(2e-3)
    d_params = {id(p) for g in optimizers["discriminator"].param_groups for p in g["params"]}
    assert {id(p) for p in D.q_head.parameters()} <= d_params
    assert {id(p) for p in D.parameters()} == d_params
    # the information term is the trainer's own (both players), not a plain generator term
    assert all(t is not information for _, t in trainer.g_terms + trainer.g_lazy)
    latent = G.sample_latent(64, "cpu")
    _, category, code = G.split(latent)

    def held_out() -> tuple[float, float]:
        with torch.no_grad():
            loss, logs = information.parts(D.infer(G(latent))[1], category, code)
        return float(loss), float(logs["mi_categorical"])

    before, mi_before = held_out()
    assert before == pytest.approx(
        math.log(10) + 2 * (0.5 * math.log(2 * math.pi) + 1 / 6), abs=0.6
    )
    logs = [run.step_once(trainer) for _ in range(100)]
    after, mi_after = held_out()
    assert all(math.isfinite(float(log["mi_loss"])) for log in logs)
    # both players' losses hold the information term: d_loss = adversarial + lambda L_I
    first = logs[0]
    assert float(first["d_loss"]) == pytest.approx(
        float(first["d_adversarial"]) + float(first["d_information"]), rel=1e-5
    )
    assert float(first["g_loss"]) == pytest.approx(
        float(first["g_adversarial"]) + float(first["mi_loss"]), rel=1e-5
    )
    assert after < before - 1.2
    assert mi_before < 0.2 and mi_after > 0.8  # nats of I(c1; G(z, c)) out of log 10 = 2.30
    assert trainer.state_dict() == {"d_steps": 100, "g_steps": 100}


def test_the_information_weight_scales_both_players_terms(stub_run):
    torch.manual_seed(0)
    G, D = InfoGANGenerator(resolution=8), InfoGANDiscriminator(resolution=8)
    losses = {"adversarial": NonSaturatingLoss(), "information": MutualInformationLoss(weight=0.5)}
    run = stub_run(G, D, losses, lambda: bars(batch=8, resolution=8))
    trainer = InfoGANTrainer()
    trainer.setup(run)
    log = run.step_once(trainer)
    assert float(log["d_loss"]) == pytest.approx(
        float(log["d_adversarial"]) + 0.5 * float(log["d_information"]), rel=1e-5
    )
    assert float(log["g_loss"]) == pytest.approx(
        float(log["g_adversarial"]) + 0.5 * float(log["mi_loss"]), rel=1e-5
    )


def test_trainer_without_the_information_loss_is_a_recipe_error(stub_run):
    G, D = InfoGANGenerator(resolution=16), InfoGANDiscriminator(resolution=16)
    run = stub_run(G, D, {"adversarial": NonSaturatingLoss()}, bars)
    with pytest.raises(RecipeError, match="losses.information"):
        InfoGANTrainer().setup(run)
    run.losses = {"information": MutualInformationLoss()}
    with pytest.raises(RecipeError, match="losses.adversarial"):
        InfoGANTrainer().setup(run)


def test_traversal_latents_sweep_one_code_per_row_of_categories():
    torch.manual_seed(0)
    G = InfoGANGenerator(resolution=16)
    latent = traversal_latents(G, code=2, steps=5, span=2.0, device="cpu")
    assert latent.shape == (10 * 5, 74)
    noise, category, code = G.split(latent)
    assert torch.equal(category, torch.arange(10).repeat_interleave(5))
    assert torch.allclose(code[:5, 1], torch.linspace(-2, 2, 5))
    assert torch.equal(code[:, 0], torch.zeros(50))  # the other code stays at 0
    rows = noise.view(10, 5, 62)
    assert torch.equal(rows, rows[:, :1].expand(-1, 5, -1))  # noise fixed along a row


TINY_OVERRIDES = [
    "data.size=16",
    "phases.gan.batch_size=8",
    "eval.every=0",
    "samples.every=2",
    "samples.n=16",
    "runtime.progress=false",
]


def test_recipe_smoke_and_traversal_through_the_cli(tmp_path, cli):
    from PIL import Image

    out = tmp_path / "run"
    recipe = str(RECIPES / "infogan_digits.yaml")
    result = cli("run", recipe, "--out", str(out), "--max-steps", "2", *TINY_OVERRIDES)
    assert result.returncode == 0, result.stderr[-2000:]
    cell = 16 * 2 + 2  # scale 2, padding 2
    with Image.open(out / "samples" / "step-000002.png") as image:
        image.verify()
    with Image.open(out / "samples" / "step-000002.png") as image:
        assert image.size == (4 * cell + 2, 4 * cell + 2)
    for code in (1, 2):  # one traversal per continuous code: 10 rows x `steps` (10) columns
        with Image.open(out / "samples" / f"step-000002-traverse-c{code}.png") as image:
            assert image.size == (10 * cell + 2, 10 * cell + 2)
    traversal = tmp_path / "trav.png"
    result = cli("generate", str(out), "-o", str(traversal), "--traverse", "--code", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(traversal) as image:
        image.verify()
    with Image.open(traversal) as image:
        assert image.size == (10 * cell + 2, 10 * cell + 2)
        assert len(np.unique(np.asarray(image.convert("L")))) > 2  # not a blank grid
    grid = tmp_path / "grid.png"
    result = cli("generate", str(out), "--n", "9", "-o", str(grid))
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(grid) as image:
        assert image.size == (3 * cell + 2, 3 * cell + 2)
    result = cli("generate", str(out), "-o", str(traversal), "--traverse", "--code", "3")
    assert result.returncode != 0 and "--code 3" in (result.stderr + result.stdout)
