"""The one optimisation path: accumulation, clipping, weights, lazy terms, non-finite losses,
schedules and the recipe keys every phase shares."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genmm.errors import RecipeError
from genmm.losses import Context, Loss, NonSaturatingLoss, R1Penalty, WGANGPLoss, WGANLoss
from genmm.testing import MiniRun
from genmm.training import GANTrainer, lazy_adjusted
from genmm.training.optim import NonFiniteLoss, Optimization


def models(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    generator.latent_dim = 2
    return {
        "generator": generator,
        "discriminator": nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)),
    }


def batches(size: int, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return lambda: {"real": torch.randn(size, 2, generator=generator) + 3.0}


def test_accumulation_equals_one_big_batch():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    copy = nn.Linear(3, 1)
    copy.load_state_dict(model.state_dict())
    x = torch.randn(8, 3)
    big = Optimization(specs={"m": {"name": "sgd", "lr": 0.1}})
    big.add("m", model.parameters())
    big.update("m", lambda: model(x).pow(2).mean())
    small = Optimization(specs={"m": {"name": "sgd", "lr": 0.1}}, accumulate=2)
    small.add("m", copy.parameters())
    halves = iter([x[:4], x[4:]])
    small.update("m", lambda: copy(next(halves)).pow(2).mean())
    for a, b in zip(model.parameters(), copy.parameters()):
        assert torch.allclose(a, b, atol=1e-7)


def test_clipping_bounds_the_step():
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    path = Optimization(specs={"m": {"name": "sgd", "lr": 1.0}}, clip_grad_norm=0.5)
    path.add("m", model.parameters())
    path.update("m", lambda: 1000 * model(torch.ones(1, 3)).sum())
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert abs(float(step.norm()) - 0.5) < 1e-5


def test_a_non_finite_loss_steps_nothing():
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    path = Optimization()
    path.add("m", model.parameters())
    with pytest.raises(NonFiniteLoss):
        path.update("m", lambda: model(torch.ones(1, 3)).sum() * float("nan"))
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_lazy_correction_of_rate_and_betas():
    spec = lazy_adjusted({"name": "adam", "lr": 0.0025, "betas": [0.0, 0.99]}, 16)
    c = 16 / 17
    assert spec["lr"] == pytest.approx(0.0025 * c) and spec["betas"][1] == pytest.approx(0.99**c)


def test_recipe_optimizer_updates_the_trainer_default():
    path = Optimization(specs={"generator": {"lr": 1e-3}})
    optimizer = path.add(
        "generator",
        nn.Linear(2, 2).parameters(),
        default={"name": "adam", "lr": 2e-4, "betas": [0.5, 0.9]},
    )
    assert optimizer.defaults["lr"] == 1e-3 and optimizer.defaults["betas"] == (0.5, 0.9)
    path = Optimization(specs={"discriminator": {"lr": 1e-3}})
    path.add("generator", nn.Linear(2, 2).parameters())
    with pytest.raises(RecipeError, match="updates no role 'discriminator'"):
        path.check_roles()


class Counting(Loss):
    """A discriminator term that counts its calls and is worth 1."""

    role = "discriminator"

    def __init__(self, weight: float = 1.0, every: int = 1) -> None:
        super().__init__(weight, every)
        self.calls = 0

    def __call__(self, context: Context) -> torch.Tensor:
        self.calls += 1
        scores, _ = context.discriminate(context.real)
        return scores[0].mean() * 0 + 1.0


def test_gan_honours_weight_penalty_clipping_and_lazy_terms():
    lazy = Counting(every=4)
    losses = {"adversarial": WGANGPLoss(weight=0.5), "count": lazy}
    run = MiniRun(models(), losses, batches(16), batch_size=16)
    trainer = GANTrainer()
    trainer.setup(run)
    c = 4 / 5  # the D optimiser is corrected for the lazy interval
    assert run.optimization.optimizers["discriminator"].defaults["lr"] == pytest.approx(2e-4 * c)
    logs = [run.step_once(trainer) for _ in range(8)]
    assert lazy.calls == 2 and "count" in logs[0] and "count" in logs[4] and "count" not in logs[1]
    assert all("d_penalty" in entry for entry in logs)
    entry = logs[-1]
    assert float(entry["d_loss"]) == pytest.approx(
        0.5 * float(entry["d_adversarial"]) + float(entry["d_penalty"]), rel=1e-5
    )
    clipped = MiniRun(models(), {"adversarial": WGANLoss(clip=0.01)}, batches(16), batch_size=16)
    trainer = GANTrainer()
    trainer.setup(clipped)
    clipped.step_once(trainer)
    assert all(
        float(p.abs().max()) <= 0.01 + 1e-9 for p in clipped.models["discriminator"].parameters()
    )


def test_r1_every_16_runs_on_every_sixteenth_update():
    r1 = R1Penalty(gamma=1.0, every=16)
    run = MiniRun(
        models(), {"adversarial": NonSaturatingLoss(), "r1": r1}, batches(8), batch_size=8
    )
    trainer = GANTrainer()
    trainer.setup(run)
    due = [i for i in range(33) if "r1" in run.step_once(trainer)]
    assert due == [0, 16, 32]
    assert run.optimization.updates["discriminator"] == 33 + 3


def test_lazy_term_with_several_critic_updates_uses_each_updates_batch():
    r1 = R1Penalty(gamma=1.0, every=2)
    run = MiniRun(
        models(), {"adversarial": NonSaturatingLoss(), "r1": r1}, batches(8), batch_size=8
    )
    trainer = GANTrainer(n_critic=3)
    trainer.setup(run)
    logs = [run.step_once(trainer) for _ in range(2)]
    # D updates 0..5: R1 is due at 0, 2 and 4 (its own steps), G updates twice
    assert run.optimization.updates == {"discriminator": 6 + 3, "generator": 2}
    assert "r1" in logs[0] and "r1" in logs[1]


def test_fresh_fakes_gives_the_generator_its_own_latents():
    class Fresh(GANTrainer):
        fresh_fakes = True

    drawn = []
    run = MiniRun(models(), {"adversarial": NonSaturatingLoss()}, batches(8), batch_size=8)
    original = run.models["generator"].forward
    run.models["generator"].forward = lambda z: drawn.append(z) or original(z)
    trainer = Fresh()
    trainer.setup(run)
    run.step_once(trainer)
    assert len(drawn) == 2 and not torch.equal(drawn[0], drawn[1])


def test_bf16_runs_the_forward_in_bf16_and_keeps_fp32_weights_and_gradients():
    """runtime.precision=bf16 on a CPU: autocast inside ``update`` (the matmul in bf16), the
    weights, their gradients and the optimiser's state in fp32, the step taken."""
    torch.manual_seed(0)
    model, seen = nn.Linear(4, 3), []
    run = MiniRun({"m": model}, {}, lambda: None, precision="bf16")
    run.add_optimizer("m", default={"name": "adam", "lr": 0.1})
    before = model.weight.detach().clone()

    def compute():
        out = model(torch.randn(8, 4))
        seen.append(out.dtype)
        return out.float().pow(2).mean()

    loss = run.update("m", compute)
    assert seen == [torch.bfloat16] and loss > 0
    assert model.weight.dtype == model.weight.grad.dtype == torch.float32
    assert not torch.equal(model.weight.detach(), before)
    state = run.optimization.optimizers["m"].state[model.weight]
    assert state["exp_avg"].dtype == torch.float32
    fp32, out = MiniRun({"m": model}, {}, lambda: None), []
    fp32.add_optimizer("m", default={"name": "adam", "lr": 0.1})
    fp32.update("m", lambda: out.append(model(torch.randn(2, 4)).dtype) or model.weight.sum())
    assert out == [torch.float32]  # the default: no autocast on a CPU
