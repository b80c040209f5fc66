"""The generic trainer, losses, schedules, EMA, non-finite losses and the metric maths."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from genmm import losses
from genmm import recipe as recipes
from genmm.errors import DataError, RecipeError, TrainingError
from genmm.metrics import frechet_distance, gaussian_statistics, kernel_inception_distance
from genmm.plugins import PluginManager
from genmm.training.data import BatchStream
from genmm.training.ema import EMA
from genmm.training.loop import Loop
from genmm.training.run import Run

NAN_PLUGIN = '''
import genmm
import torch

class Explode(genmm.losses.Loss):
    """Returns NaN at the given steps (counted by calls)."""
    role = "generator"

    def __init__(self, at: list = (3,), weight: float = 1.0):
        super().__init__(weight)
        self.at, self.calls = set(at), 0

    def __call__(self, context):
        self.calls += 1
        value = context.fake.sum() * 0
        return value + float("nan") if self.calls in self.at else value

@genmm.hookimpl
def genmm_register_losses(register):
    register("boom.explode", Explode)
'''


def build(tiny_recipe, tmp_path, overrides=(), plugin_text=None):
    files = []
    if plugin_text:
        file = tmp_path / "boom.py"
        file.write_text(plugin_text)
        files.append(file)
    manager = PluginManager()
    manager.load_default(files)
    path = tiny_recipe(steps=8, every=4)
    resolved = recipes.resolve(path, list(overrides))
    recipes.validate(resolved, manager.registry, str(path))
    return Run(resolved, manager, recipe_file=str(path), out=tmp_path / "run")


def test_non_finite_loss_stops_naming_step_and_loss(tiny_recipe, tmp_path):
    run = build(tiny_recipe, tmp_path, ["losses.boom={name: boom.explode}"], NAN_PLUGIN)
    with pytest.raises(TrainingError) as error:
        Loop(run).fit()
    assert "non-finite loss at step 3 of phase 'gan'" in str(error.value)
    assert "boom=nan" in str(error.value) and "on_nan=rollback" in str(error.value)


def test_rollback_reloads_last_checkpoint_and_lowers_lr(tiny_recipe, tmp_path):
    run = build(
        tiny_recipe,
        tmp_path,
        ["losses.boom={name: boom.explode, at: [6]}", "runtime.on_nan=rollback"],
        NAN_PLUGIN,
    )
    assert Loop(run).fit() == "completed"
    assert run.step == 8
    lines = [json.loads(x) for x in (run.out / "metrics.jsonl").read_text().splitlines()]
    rollback = [x for x in lines if "rollback" in x]
    assert rollback == [{**rollback[0], "step": 4, "rollback": "step-000004", "lr_scale": 0.5}]
    for optimizer in run.optimization.optimizers.values():
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.5)


def test_n_critic_updates_discriminator_more_often(tiny_recipe, tmp_path):
    run = build(tiny_recipe, tmp_path, ["phases.gan.n_critic=3", "phases.gan.max_steps=4"])
    Loop(run).fit()
    d_state = run.optimization.optimizers["discriminator"].state_dict()["state"][0]["step"]
    g_state = run.optimization.optimizers["generator"].state_dict()["state"][0]["step"]
    assert (float(d_state), float(g_state)) == (12.0, 4.0)
    assert run.stream.state_dict()["index"] == (12 * 32) % 2048


def test_accumulation_draws_micro_batches(tiny_recipe, tmp_path):
    run = build(tiny_recipe, tmp_path, ["phases.gan.accumulate=2", "phases.gan.max_steps=3"])
    Loop(run).fit()
    assert run.stream.state_dict()["index"] == 6 * 32
    assert float(run.optimization.optimizers["generator"].state_dict()["state"][0]["step"]) == 3.0


def test_linear_schedule_reaches_zero(tiny_recipe, tmp_path):
    run = build(
        tiny_recipe,
        tmp_path,
        ["phases.gan.schedules={generator: {name: linear}, discriminator: {name: cosine}}"],
    )
    Loop(run).fit()
    assert run.optimization.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(0.0)
    assert run.optimization.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(0.0)


def test_ema_generator_is_used_for_samples(tiny_recipe, tmp_path):
    run = build(tiny_recipe, tmp_path, ["phases.gan.ema=0.5"])
    Loop(run).fit()
    assert run.sampling_model() is run.ema["generator"].shadow
    live = dict(run.models["generator"].named_parameters())
    shadow = dict(run.ema["generator"].shadow.named_parameters())
    assert not torch.equal(live["net.0.weight"], shadow["net.0.weight"])


def test_ema_update_rule():
    model = nn.Linear(1, 1, bias=False)
    nn.init.constant_(model.weight, 0.0)
    ema = EMA(model, decay=0.75)
    nn.init.constant_(model.weight, 4.0)
    ema.update(model, step=1)
    assert float(ema.shadow.weight) == pytest.approx(1.0)  # 0.75 * 0 + 0.25 * 4


def test_clip_grad_norm_is_applied(tiny_recipe, tmp_path, monkeypatch):
    seen = []
    original = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(
        torch.nn.utils,
        "clip_grad_norm_",
        lambda params, norm: seen.append(norm) or original(params, norm),
    )
    run = build(tiny_recipe, tmp_path, ["phases.gan.clip_grad_norm=0.5", "phases.gan.max_steps=2"])
    Loop(run).fit()
    assert seen == [0.5] * 4
    seen.clear()
    run = build(
        tiny_recipe,
        tmp_path / "per_role",
        ["phases.gan.clip_grad_norm={generator: 0.25}", "phases.gan.max_steps=2"],
    )
    Loop(run).fit()
    assert seen == [0.25] * 2  # the generator's updates only


# ---------------------------------------------------------------- losses, by hand
def test_adversarial_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    hinge = losses.HingeLoss()
    assert float(hinge.discriminator_loss([real], [fake])) == pytest.approx((0 + 0.5) / 2 + 0.5)
    assert float(hinge.generator_loss([fake])) == pytest.approx(1.0)
    bce = losses.MinimaxLoss()
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-0.5))) / 2 + (
        math.log(1 + math.exp(-2)) + math.log(2)
    ) / 2
    assert float(bce.discriminator_loss([real], [fake])) == pytest.approx(expected)
    ns = losses.NonSaturatingLoss()
    assert float(ns.generator_loss([fake])) == pytest.approx(
        (math.log(1 + math.exp(2)) + math.log(2)) / 2
    )
    ls = losses.LSGANLoss()
    assert float(ls.discriminator_loss([real], [fake])) == pytest.approx(
        0.5 * (1 + 0.25) / 2 + 0.5 * (4 + 0) / 2
    )
    wgan = losses.WGANLoss()
    assert float(wgan.discriminator_loss([real], [fake])) == pytest.approx(-1.0 - 1.25)
    two_scales = hinge.discriminator_loss([real, real], [fake, fake])
    assert float(two_scales) == pytest.approx(2 * float(hinge.discriminator_loss([real], [fake])))


def test_wgan_clipping():
    critic = nn.Linear(2, 1)
    nn.init.constant_(critic.weight, 3.0)
    losses.WGANLoss(clip=0.01).after_discriminator_step(critic)
    assert float(critic.weight.detach().abs().max()) == pytest.approx(0.01)


def linear_context(weight: list[float]) -> losses.Context:
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weight]))
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    return losses.Context(nn.Identity(), critic, real, fake)


def test_r1_and_gradient_penalty_by_hand():
    context = linear_context([3.0, 4.0])  # grad of D is w everywhere, |w| = 5
    assert float(losses.R1Penalty(gamma=10)(context).detach()) == pytest.approx(0.5 * 10 * 25)
    assert float(losses.WGANGPLoss(penalty=10).regularize(context).detach()) == pytest.approx(
        10 * 16
    )
    unit = linear_context([0.6, 0.8])
    assert float(losses.WGANGPLoss().regularize(unit).detach()) == pytest.approx(0.0, abs=1e-10)


def test_feature_matching_by_hand():
    context = linear_context([1.0, 1.0])
    context.real_features = [torch.ones(2, 3), torch.zeros(2, 1)]
    context.fake_features = [torch.zeros(2, 3), torch.full((2, 1), 2.0)]
    assert float(losses.FeatureMatchingLoss()(context)) == pytest.approx(1.0 + 2.0)


# ---------------------------------------------------------------- metric maths
def test_frechet_distance_of_two_gaussians_by_hand():
    # N(0, I) vs N((1, 1), 4 I) in 2-D: |m|^2 = 2, Tr(I + 4I - 2 * 2I) = 2
    assert frechet_distance(
        torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2)
    ) == pytest.approx(4.0)
    # non-commuting covariances: closed form for 1-D generalises as Tr via eigenvalues
    a = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    root_a = torch.linalg.cholesky(a)  # any factor works: Tr sqrt(A B) = Tr sqrt(L^T B L)
    middle = root_a.T @ b @ root_a
    expected = float(a.trace() + b.trace() - 2 * torch.linalg.eigvalsh(middle).sqrt().sum())
    assert frechet_distance(torch.zeros(2), a, torch.zeros(2), b) == pytest.approx(expected)


def test_gaussian_statistics_and_kid():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 3, generator=generator)
    mean, covariance = gaussian_statistics(x * 2 + 1)
    assert torch.allclose(mean, torch.ones(3, dtype=torch.float64), atol=0.1)
    assert torch.allclose(covariance, 4 * torch.eye(3, dtype=torch.float64), atol=0.3)
    same = kernel_inception_distance(x[:2000], x[2000:], subsets=3, subset_size=500)
    shifted = kernel_inception_distance(x[:2000], x[2000:] + 1, subsets=3, subset_size=500)
    assert abs(same) < 0.01 and shifted > 0.1


# ---------------------------------------------------------------- data stream
def test_batch_stream_is_deterministic_and_resumable():
    data = list(range(10))
    stream = BatchStream(data, 4, seed=3)
    first = [stream.next().tolist() for _ in range(4)]
    assert sorted(first[0] + first[1] + first[2][:2]) == list(range(10))  # one epoch
    again = BatchStream(data, 4, seed=3)
    again.next()
    state = again.state_dict()
    resumed = BatchStream(data, 4, seed=3)
    resumed.load_state_dict(state)
    assert [resumed.next().tolist() for _ in range(3)] == first[1:]


def test_empty_dataset_is_a_data_error():
    with pytest.raises(DataError, match="data \\(x.y\\): the dataset is empty"):
        BatchStream([], 4, seed=0, name="data (x.y)")


def test_core_gan_steps_on_a_mini_run_and_learns_a_shifted_gaussian():
    from genmm.testing import MiniRun
    from genmm.training.gan import GANTrainer

    torch.manual_seed(0)

    class Shift(nn.Module):  # G(z) = a z + b
        latent_dim = 1

        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(1, 1)

        def forward(self, z):
            return self.net(z)

    D = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    run = MiniRun(
        {"generator": Shift(), "discriminator": D},
        {"adversarial": losses.LSGANLoss()},
        lambda: {"real": 3.0 + 0.5 * torch.randn(256, 1)},
    )
    run = MiniRun(
        run.models,
        run.losses,
        run.make_batch,
        batch_size=256,
        optimizers={"generator": {"lr": 1e-2}, "discriminator": {"lr": 1e-2}},
    )
    trainer = GANTrainer()
    trainer.setup(run)
    for _ in range(200):
        logs = run.step_once(trainer)
    assert set(logs) >= {"d_loss", "g_loss"}
    with torch.no_grad():
        fake = run.models["generator"](torch.randn(4096, 1))
    assert abs(float(fake.mean()) - 3.0) < 0.3  # from about 0 at the start


def test_trainer_threads_sets_torchs_thread_count(tiny_recipe, tmp_path):
    build(tiny_recipe, tmp_path, ["runtime.threads=2"])
    assert torch.get_num_threads() == 2  # the autouse fixture restores its own count after
    build(tiny_recipe, tmp_path / "again", ["runtime.threads=1"])
    assert torch.get_num_threads() == 1


def test_runtime_compile_gives_the_losses_of_eager(tiny_recipe, tmp_path):
    """runtime.compile: the trainer steps torch.compile'd models (the aot_eager backend here:
    the same graph capture and autograd as inductor without its C++ build, seconds not
    minutes) and logs the same losses as eager; checkpoints keep the plain modules."""

    def losses(folder, overrides):
        run = build(tiny_recipe, folder, overrides)
        Loop(run).fit()
        lines = [json.loads(x) for x in (run.out / "metrics.jsonl").read_text().splitlines()]
        return run, [x[k] for x in lines if "d_loss" in x for k in ("d_loss", "g_loss")]

    _, eager = losses(tmp_path / "eager", [])
    run, compiled = losses(tmp_path / "compiled", ["runtime.compile=aot_eager"])
    assert len(compiled) == len(eager) == 16
    assert compiled == pytest.approx(eager, rel=1e-4, abs=1e-5)
    assert type(run.model("generator")).__name__ == "OptimizedModule"
    assert run.models["generator"] is run.model("generator")._orig_mod
    state = run.weight_modules()["generator"].state_dict()
    assert not any(key.startswith("_orig_mod") for key in state)


@pytest.mark.parametrize("value", ["turbo", 3])
def test_runtime_compile_refuses_an_unknown_backend(tiny_recipe, tmp_path, value):
    with pytest.raises(RecipeError) as error:
        build(tiny_recipe, tmp_path, [f"runtime.compile={value}"])
    assert "runtime.compile" in str(error.value)


def test_runtime_compile_with_a_double_backward_penalty_is_a_clear_error(tiny_recipe, tmp_path):
    run = build(tiny_recipe, tmp_path, ["runtime.compile=aot_eager", "losses.r1={name: core.r1}"])
    with pytest.raises(RecipeError) as error:
        Loop(run).fit()
    assert "runtime.compile" in str(error.value) and "differentiates twice" in str(error.value)


def test_bf16_on_a_cpu_without_native_bf16_warns_and_auto_is_fp32(
    tiny_recipe, manager, monkeypatch, caplog
):
    path = tiny_recipe()

    def build(*overrides):
        resolved = recipes.resolve(path, list(overrides))
        recipes.validate(resolved, manager.registry, str(path))
        return Run(resolved, manager, recipe_file=str(path))

    assert build().precision == "fp32"  # auto on a CPU
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    with caplog.at_level("WARNING", logger="genmm"):
        run = build("runtime.precision=bf16")
    assert run.precision == "bf16"
    assert "no native bf16" in caplog.text and "runtime.precision=fp32" in caplog.text
