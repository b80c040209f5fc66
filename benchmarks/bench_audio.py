"""Audio-plugin benchmarks: one JSON line per figure.

    python benchmarks/bench_audio.py synthesis   # 10 s mel: Vocos (recipe and paper widths)
                                                 # against MelGAN (ngf 32, folded), interleaved
    python benchmarks/bench_audio.py step        # one step of each phase of recipes/vocoder.yaml,
                                                 # and the MelGAN paper step, interleaved
    python benchmarks/bench_audio.py melgan      # our MelGAN against melgan-neurips rebuilt:
                                                 # 10 s synthesis and the batch-16 training step
                                                 # (and ours with planar=false beside them)
    python benchmarks/bench_audio.py polyphase   # the polyphase upsampling against the transposed
                                                 # convolutions, then planar against 1-D layers
    python benchmarks/bench_audio.py memory      # peak RSS of a MelGAN training step at batch 16
    python benchmarks/bench_audio.py quality --recipe recipes/vocoder.yaml   # train, then eval
    python benchmarks/bench_audio.py curve --designs vocos vocos_gan melgan --minutes 30
                                                 # learning curves against Griffin-Lim + png
    python benchmarks/bench_audio.py all         # synthesis, step and memory

Speed figures are ratios measured in the same run (``benchmarks/harness.py``: warm-up, the
candidates interleaved A B A B, at least 7 repeats, median and minimum, the load average).
Quality figures are always beside Griffin-Lim-32's on the same held-out utterances.

``curve`` trains each design for ``--minutes`` of wall time (SIGTERM at the limit: genmm saves
a checkpoint and stops), then scores every checkpoint it kept in this process, so evaluation
does not count as training time; the x axis is minutes since the training process started.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

# the authors' weight norm, kept on purpose in the rebuilt reference
warnings.filterwarnings("ignore", message=".*torch.nn.utils.weight_norm. is deprecated")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import emit, interleaved, report  # noqa: E402

from genmm import recipe as recipes  # noqa: E402
from genmm.losses import FeatureMatchingLoss, HingeLoss  # noqa: E402
from genmm.plugins import get_manager  # noqa: E402
from genmm.testing import MiniRun  # noqa: E402
from genmm.training import GANTrainer  # noqa: E402
from genmm_audio.discriminator import MultiScaleDiscriminator  # noqa: E402
from genmm_audio.generator import MelGANGenerator, fold_weight_norm  # noqa: E402
from genmm_audio.trainer import GeneratorPretraining  # noqa: E402
from genmm_audio.vocos import VocosGenerator  # noqa: E402

SPEECH = ROOT / "recipes" / "vocoder.yaml"
#: what the built-in corpus describes (22,050 Hz, the MelGAN analysis): for models built here
DESCRIPTION = {"sample_rate": 22050, "n_fft": 1024, "hop": 256, "win": 1024, "n_mels": 80}


def recipe_models(path: Path = SPEECH) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The recipe's models and losses built from its own specs (no data), and the recipe."""
    recipe = recipes.resolve(path)
    registry = get_manager().registry
    models = {
        role: registry.build("models", spec, description=DESCRIPTION)
        for role, spec in recipe["models"].items()
    }
    losses = {
        role: registry.build("losses", spec, description=DESCRIPTION)
        for role, spec in recipe["losses"].items()
    }
    return models, losses, recipe


def synthesis(seconds: float = 10.0, repeats: int = 7) -> None:
    """Vocode a ``seconds``-long mel: the recipe's Vocos and the paper-width Vocos against the
    MelGAN generator (ngf 32, weight norm folded, polyphase upsampling), interleaved."""
    torch.manual_seed(0)
    frames = round(seconds * 22050 / 256)  # 861 frames for 10 s
    mel = torch.randn(1, 80, frames) - 2.0  # (1, 80, N): log10 mel values of speech
    models, _, _ = recipe_models()
    candidates = {
        "vocos_recipe": fold_weight_norm(models["generator"]),
        "vocos_paper": fold_weight_norm(VocosGenerator()),
        "melgan": fold_weight_norm(MelGANGenerator(ngf=32)),
    }
    calls = {}
    for name, model in candidates.items():
        calls[name] = (lambda m: lambda: m(mel))(model)
    with torch.inference_mode():
        stats = interleaved(calls, repeats=repeats)
    samples = frames * 256
    for name in ("vocos_recipe", "vocos_paper"):
        parameters = sum(p.numel() for p in candidates[name].parameters())
        report(
            f"synthesis_10s_{name}_vs_melgan",
            {"ours": stats[name], "melgan": stats["melgan"]},
            "ours",
            "melgan",
            target=3.0,
            real_time_factor=round(samples / 22050 / stats[name]["median"], 1),
            melgan_real_time_factor=round(samples / 22050 / stats["melgan"]["median"], 1),
            parameters=parameters,
            threads=torch.get_num_threads(),
        )


def melgan_step(batch: int, segment: int = 8192, ngf: int = 32, ndf: int = 16, planar=True):
    """The MelGAN paper's step (Kumar et al. 2019, sec. 3) through the core's path: a D step on
    the hinge loss of three scales, then a G step on hinge + 10 x feature matching, Adam 1e-4,
    betas (0.5, 0.9)."""
    torch.manual_seed(0)
    generator = MelGANGenerator(ngf=ngf, planar=planar)
    discriminator = MultiScaleDiscriminator(ndf=ndf, planar=planar)
    real = 0.3 * torch.randn(batch, 1, segment)  # (B, 1, T)
    mel = torch.randn(batch, 80, segment // 256) - 2.0  # (B, 80, T / 256)
    melgan = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]}
    run = MiniRun(
        {"generator": generator, "discriminator": discriminator},
        {"adversarial": HingeLoss(), "feature_matching": FeatureMatchingLoss(weight=10.0)},
        lambda: {"real": real, "condition": mel},
        batch_size=batch,
        optimizers={"generator": melgan, "discriminator": melgan},
    )
    trainer = GANTrainer()
    trainer.setup(run)
    return lambda: run.step_once(trainer)


def recipe_steps() -> dict[str, Any]:
    """One step of each phase of recipes/vocoder.yaml at its batch and segment, by its own
    trainers, optimisers and losses, on random audio (the data's cost is not included)."""
    models, losses, recipe = recipe_models()
    segment = recipe["data"]["segment"]
    steps = {}
    for name, phase in recipe["phases"].items():
        batch = phase["batch_size"]
        real = 0.3 * torch.randn(batch, 1, segment)
        mel = torch.randn(batch, 80, segment // 256) - 2.0
        arguments = {k: v for k, v in phase.items() if k not in recipes.PHASE_KEYS}
        trainer = (GeneratorPretraining if phase["trainer"] == "audio.pretrain" else GANTrainer)(
            **arguments
        )
        run = MiniRun(
            models,
            losses,
            (lambda r, m: lambda: {"real": r, "condition": m})(real, mel),
            batch_size=batch,
            optimizers=phase.get("optimizers"),
            description=DESCRIPTION,
        )
        trainer.setup(run)
        steps[f"{name}_b{batch}"] = (lambda r, t: lambda: r.step_once(t))(run, trainer)
    return steps


#: the authors' sizes (descriptinc/melgan-neurips, ``scripts/train.py`` defaults): G ngf 32 with
#: 3 residual layers per stage and ratios 8, 8, 2, 2; 3 discriminators of ndf 16, 4 layers,
#: downsampling 4; lambda_feat 10; Adam 1e-4, betas (0.5, 0.9); batch 16 x 8,192 samples
REFERENCE_PARAMETERS = {"generator": 4266050, "discriminator": 16924086}


class ReferenceMelGANGenerator(torch.nn.Module):
    """melgan-neurips' ``Generator`` rebuilt from its published configuration: weight-normed
    (``torch.nn.utils.weight_norm``, recomputed every call, as the authors run it) reflection-
    padded convolutions, transposed convolutions of kernel 2r, residual stacks of dilation
    1, 3, 9, a tanh output."""

    def __init__(self, n_mels: int = 80, ngf: int = 32, ratios=(8, 8, 2, 2)) -> None:
        super().__init__()
        wn, nn = torch.nn.utils.weight_norm, torch.nn
        channels = ngf * 2 ** len(ratios)
        layers: list[nn.Module] = [nn.ReflectionPad1d(3), wn(nn.Conv1d(n_mels, channels, 7))]
        for r in ratios:
            up = nn.ConvTranspose1d(
                channels, channels // 2, 2 * r, stride=r, padding=r // 2 + r % 2,
                output_padding=r % 2,
            )  # fmt: skip
            layers += [nn.LeakyReLU(0.2), wn(up)]
            channels //= 2
            layers += [ReferenceResnetBlock(channels, 3**j) for j in range(3)]
        layers += [nn.LeakyReLU(0.2), nn.ReflectionPad1d(3), wn(nn.Conv1d(channels, 1, 7))]
        self.model = nn.Sequential(*layers, nn.Tanh())

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # (B, 80, N) -> (B, 1, 256 N)
        return self.model(mel)


class ReferenceResnetBlock(torch.nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        wn, nn = torch.nn.utils.weight_norm, torch.nn
        self.block = nn.Sequential(
            nn.LeakyReLU(0.2), nn.ReflectionPad1d(dilation),
            wn(nn.Conv1d(channels, channels, 3, dilation=dilation)),
            nn.LeakyReLU(0.2), wn(nn.Conv1d(channels, channels, 1)),
        )  # fmt: skip
        self.shortcut = wn(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class ReferenceMelGANDiscriminator(torch.nn.Module):
    """melgan-neurips' ``Discriminator``: 3 ``NLayerDiscriminator`` (ndf 16, 4 grouped strided
    layers, downsampling 4) on the audio average-pooled by 1, 2 and 4; each returns its
    feature maps, the last one its score."""

    def __init__(self, scales: int = 3, ndf: int = 16, n_layers: int = 4, down: int = 4) -> None:
        super().__init__()
        wn, nn = torch.nn.utils.weight_norm, torch.nn
        self.scales = nn.ModuleList()
        for _ in range(scales):
            blocks = [nn.Sequential(nn.ReflectionPad1d(7), wn(nn.Conv1d(1, ndf, 15)),
                                    nn.LeakyReLU(0.2))]  # fmt: skip
            width = ndf
            for _ in range(n_layers):
                previous, width = width, min(width * down, 1024)
                conv = nn.Conv1d(previous, width, down * 10 + 1, stride=down, padding=down * 5,
                                 groups=previous // 4)  # fmt: skip
                blocks.append(nn.Sequential(wn(conv), nn.LeakyReLU(0.2)))
            previous, width = width, min(width * 2, 1024)
            blocks.append(nn.Sequential(wn(nn.Conv1d(previous, width, 5, padding=2)),
                                        nn.LeakyReLU(0.2)))  # fmt: skip
            blocks.append(wn(nn.Conv1d(width, 1, 3, padding=1)))
            self.scales.append(nn.ModuleList(blocks))
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for blocks in self.scales:
            features = []
            h = x
            for block in blocks:
                h = block(h)
                features.append(h)
            results.append(features)
            x = self.pool(x)
        return results


def reference_melgan_step(batch: int, segment: int = 8192, freeze_d: bool = False):
    """melgan-neurips' ``train.py`` step on given mels (their in-loop ``Audio2Mel`` of the real
    audio is left out, as our data's mel is): D on ``G(s).detach()`` and the real audio with
    the hinge loss, then G on the hinge loss + 10 x the feature L1 against the D step's real
    features (weight 4 / (layers + 1) / scales), D's weights receiving gradients too unless
    ``freeze_d`` (our trick, to attribute its gain)."""
    torch.manual_seed(0)
    generator, discriminator = ReferenceMelGANGenerator(), ReferenceMelGANDiscriminator()
    adam = {"lr": 1e-4, "betas": (0.5, 0.9)}
    opt_g = torch.optim.Adam(generator.parameters(), **adam)
    opt_d = torch.optim.Adam(discriminator.parameters(), **adam)
    real = 0.3 * torch.randn(batch, 1, segment)
    mel = torch.randn(batch, 80, segment // 256) - 2.0
    weight = 4.0 / (4 + 1) / 3

    def step() -> None:
        fake = generator(mel)
        fake_scores = discriminator(fake.detach())
        real_scores = discriminator(real)
        loss_d = sum(
            torch.relu(1 - r[-1]).mean() + torch.relu(1 + f[-1]).mean()
            for r, f in zip(real_scores, fake_scores)
        )
        discriminator.zero_grad()
        loss_d.backward()
        opt_d.step()
        if freeze_d:
            discriminator.requires_grad_(False)
        scores = discriminator(fake)
        loss_g = sum(-s[-1].mean() for s in scores)
        loss_feat = sum(
            weight * torch.nn.functional.l1_loss(f, r.detach())
            for fs, rs in zip(scores, real_scores)
            for f, r in zip(fs[:-1], rs[:-1])
        )
        generator.zero_grad()
        (loss_g + 10.0 * loss_feat).backward()
        opt_g.step()
        discriminator.requires_grad_(True)

    counts = {
        "generator": sum(p.numel() for p in generator.parameters()),
        "discriminator": sum(p.numel() for p in discriminator.parameters()),
    }
    return step, counts


def melgan_against_reference(repeats: int = 7, batch: int = 16, seconds: float = 10.0) -> None:
    """Our MelGAN (ngf 32) against melgan-neurips rebuilt, interleaved: synthesis of a
    ``seconds`` mel (ours folded with polyphase upsampling under ``inference_mode``; theirs as
    they run it, weight norm live under ``no_grad``, and with weight norm removed) and one
    training step at ``batch`` (theirs as they run it, and with D frozen in the G update)."""
    torch.manual_seed(0)
    reference = ReferenceMelGANGenerator()
    ours = MelGANGenerator(ngf=32)
    counts = {
        "ours": sum(p.numel() for p in ours.parameters()),
        "reference": sum(p.numel() for p in reference.parameters()),
    }
    if not counts["ours"] == counts["reference"] == REFERENCE_PARAMETERS["generator"]:
        raise SystemExit(f"generator parameters {counts}: not the authors' count")
    emit(figure="melgan_reference_parameters", generator=counts["reference"],
         expected=REFERENCE_PARAMETERS)  # fmt: skip
    torch.manual_seed(0)
    folded = ReferenceMelGANGenerator()  # the same weights (a weight-normed module has no
    for module in folded.modules():  # deepcopy), weight norm removed
        if hasattr(module, "weight_g"):
            torch.nn.utils.remove_weight_norm(module)
    ours_1d = fold_weight_norm(ours, planar=False)
    ours = fold_weight_norm(ours)
    frames = round(seconds * 22050 / 256)
    mel = torch.randn(1, 80, frames) - 2.0

    def run_in(mode, model):
        def call():
            with mode():
                return model(mel)

        return call

    calls = {
        "ours": run_in(torch.inference_mode, ours),
        "ours_1d": run_in(torch.inference_mode, ours_1d),
        "melgan_neurips": run_in(torch.no_grad, reference),
        "melgan_neurips_folded": run_in(torch.no_grad, folded),
    }
    stats = interleaved(calls, repeats=repeats, flops=True)
    for name in ("melgan_neurips", "melgan_neurips_folded"):
        report(f"melgan_synthesis_10s_vs_{name}", stats, "ours", name, target=1.5,
               samples_per_second=round(frames * 256 / stats["ours"]["median"]),
               threads=torch.get_num_threads())  # fmt: skip
    report("melgan_synthesis_10s_planar_vs_1d", stats, "ours", "ours_1d",
           note="the planar lever alone: the same folded weights as 1-D layers")  # fmt: skip
    if not batch:  # --batch 0: synthesis only
        return
    theirs, counts = reference_melgan_step(batch)
    if counts != REFERENCE_PARAMETERS:
        raise SystemExit(f"the rebuilt networks have {counts} parameters, not the authors'")
    frozen, _ = reference_melgan_step(batch, freeze_d=True)
    calls = {
        "ours": melgan_step(batch),
        "ours_1d": melgan_step(batch, planar=False),
        "melgan_neurips": theirs,
        "melgan_neurips_frozen_d": frozen,
    }
    stats = interleaved(calls, repeats=repeats, flops=True)
    for name in ("melgan_neurips", "melgan_neurips_frozen_d"):
        report(f"melgan_train_step_b{batch}_vs_{name}", stats, "ours", name, target=1.3,
               segment=8192, threads=torch.get_num_threads())  # fmt: skip
    report(f"melgan_train_step_b{batch}_planar_vs_1d", stats, "ours", "ours_1d",
           note="the planar lever alone: planar=false on both networks")  # fmt: skip


def polyphase(repeats: int = 7, seconds: float = 10.0) -> None:
    """The inference levers one at a time, on the same folded weights, interleaved: the
    polyphase upsampling (:class:`PolyphaseUpsample`: one k2 convolution, phases interleaved)
    against the transposed convolutions left as they are, then the planar form (every layer
    2-D of height 1 on channels-last tensors, :func:`make_planar`) against the 1-D polyphase
    generator."""
    torch.manual_seed(0)
    generator = MelGANGenerator(ngf=32)
    mel = torch.randn(1, 80, round(seconds * 22050 / 256)) - 2.0
    candidates = {
        "planar": fold_weight_norm(generator),
        "polyphase": fold_weight_norm(generator, planar=False),
        "transposed": fold_weight_norm(generator, polyphase=False),
    }
    with torch.inference_mode():
        outputs = {name: model(mel) for name, model in candidates.items()}
        calls = {name: (lambda m: lambda: m(mel))(model) for name, model in candidates.items()}
        stats = interleaved(calls, repeats=repeats, flops=True)
    for ours, reference in (("polyphase", "transposed"), ("planar", "polyphase")):
        difference = float((outputs[ours] - outputs[reference]).abs().max())
        report(f"melgan_{ours}_vs_{reference}_10s", stats, ours, reference,
               largest_difference=difference, threads=torch.get_num_threads())  # fmt: skip


def training_step(repeats: int = 7) -> None:
    """The default recipe's steps and the MelGAN paper step (batch 4), interleaved."""
    calls = {**recipe_steps(), "melgan_paper_b4": melgan_step(4)}
    stats = interleaved(calls, repeats=repeats)
    for name, figures in stats.items():
        emit(
            figure=f"train_step_seconds_{name}",
            median=round(figures["median"], 3),
            min=round(figures["min"], 3),
            unit="s",
            segment=8192,
            repeats=repeats,
            threads=torch.get_num_threads(),
        )


def memory(batch: int = 16) -> None:
    """Run one step at ``batch`` in a fresh process (so the peak is this step's alone)."""
    code = (
        "import resource, sys, json; sys.argv = ['x']; "
        f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import bench_audio as b; "
        f"step = b.melgan_step({batch}); "
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; step(); "
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "print(json.dumps([before, after]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    before, after = json.loads(output.strip().splitlines()[-1])
    emit(
        figure="train_peak_rss_mb",
        value=round(after / 1024, 1),
        step_growth_mb=round((after - before) / 1024, 1),
        unit="MB",
        batch=batch,
        segment=8192,
        method="resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh process, one G+D step",
    )


def train_for(recipe: Path, out: Path, overrides: list[str], limit: float) -> tuple[float, bool]:
    """``genmm run`` in a subprocess, stopped by SIGTERM after ``limit`` seconds (genmm saves a
    checkpoint and stops); returns the start time and whether the limit stopped it."""
    command = [sys.executable, "-m", "genmm.cli", "run", str(recipe), "--out", str(out)]
    started = time.time()
    process = subprocess.Popen([*command, "runtime.progress=false", *overrides])
    try:
        process.wait(timeout=limit)
        stopped = False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait()
        stopped = True
    if process.returncode not in (0, None) and not stopped:
        raise SystemExit(f"training {recipe} failed with exit status {process.returncode}")
    return started, stopped


#: figure -> (axis label, higher is better)
FIGURES = {
    "pesq": ("PESQ wide-band", True),
    "stoi": ("STOI", True),
    "mcd": ("mel-cepstral distortion (dB)", False),
    "mrstft_off": ("MR-STFT distance, off-resolution", False),
    "mel_l1": ("log10-mel L1", False),
    "f0_rmse": ("F0 RMSE (Hz)", False),
    "vuv_error": ("voiced/unvoiced error", False),
    "mrstft": ("MR-STFT distance", False),
}


def compare(figures: dict[str, float]) -> None:
    """One line per measure: the model's figure beside Griffin-Lim-32's."""
    for key, (_, higher) in FIGURES.items():
        if key in figures:
            model, baseline = figures[key], figures.get(f"{key}_griffin_lim")
            better = None
            if baseline is not None:
                better = model > baseline if higher else model < baseline
            emit(figure=f"heldout_{key}", model=model, griffin_lim_32=baseline, model_better=better)


def quality(recipe: Path, out: Path, overrides: list[str], limit: float) -> None:
    """Train ``recipe`` with its defaults (plus ``overrides``), then ``genmm eval``."""
    started, stopped = train_for(recipe, out, overrides, limit)
    emit(
        figure="train_wall_seconds",
        value=round(time.time() - started, 1),
        unit="s",
        stopped_at_limit=stopped,
        limit_s=limit,
    )
    result = subprocess.run(
        [sys.executable, "-m", "genmm.cli", "eval", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    emit(figure="trained_steps", value=figures.get("step"), checkpoint=figures.get("checkpoint"))
    compare(figures)
    emit(figure="synthesis_khz_eval", value=figures.get("synthesis_khz"), unit="kHz")


#: design -> (recipe, overrides, checkpoint interval in steps)
DESIGNS: dict[str, tuple[str, list[str], int]] = {
    # the default recipe: Vocos with FreeV's prior, the reconstruction-only start
    "vocos": ("vocoder.yaml", [], 500),
    # a shorter start, then the discriminators join until the time limit
    "vocos_gan": (
        "vocoder.yaml",
        ["phases.pretrain.max_steps=3000", "phases.vocoder.max_steps=400"],
        250,
    ),
    # the default without FreeV's amplitude prior
    "vocos_noprior": ("vocoder.yaml", ["models.generator.amplitude_prior=false"], 500),
    # the paper-faithful MelGAN recipe; its adversarial phase continues to the time limit
    "melgan": ("speech_melgan.yaml", ["phases.vocoder.max_steps=100000"], 400),
}


def score_checkpoints(out: Path, started: float, metric: Any) -> list[tuple[float, dict]]:
    """Every checkpoint of a run, scored by ``metric`` (model and Griffin-Lim figures)."""
    import genmm

    points = []
    for folder in sorted((out / "checkpoints").glob("step-*")):
        meta = json.loads((folder / "meta.json").read_text())
        run = genmm.load(folder, build_data=True)
        figures = metric(run)
        minutes = (meta["time"] - started) / 60
        points.append((minutes, figures))
        emit(figure="curve_point", run=str(out), step=meta["step"], phase=meta.get("phase"),
             minutes=round(minutes, 2), **{k: round(v, 4) for k, v in figures.items()})  # fmt: skip
    return points


def curve(designs: list[str], minutes: float, root: Path, png: Path | None) -> None:
    """Train each design for ``minutes``, score its checkpoints, draw the curves."""
    from genmm_audio.metrics import VocoderQuality

    metric = VocoderQuality(description=DESCRIPTION)  # one Griffin-Lim cache for every point
    results_file = root / "curves.json"
    curves = json.loads(results_file.read_text()) if results_file.exists() else {}
    for entry in designs:  # NAME or NAME:MINUTES
        design, _, own = entry.partition(":")
        recipe, overrides, every = DESIGNS[design]
        out = root / design
        settings = [f"checkpoint.every={every}", "checkpoint.keep=1000", "eval.every=0",
                    "samples.every=0"]  # fmt: skip
        limit = float(own or minutes) * 60
        started, _ = train_for(ROOT / "recipes" / recipe, out, [*overrides, *settings], limit)
        curves[design] = score_checkpoints(out, started, metric)
        root.mkdir(parents=True, exist_ok=True)
        results_file.write_text(json.dumps(curves, indent=1))
    draw(curves, png)


def draw(curves: dict[str, list], png: Path | None) -> None:
    if png is None or not curves:
        return
    from genmm_audio.plots import learning_curve_figure

    points = [figures for design in curves.values() for _, figures in design]
    baseline = {
        k: points[0][f"{k}_griffin_lim"] for k in FIGURES if f"{k}_griffin_lim" in points[0]
    }
    shown = [(k, label, higher) for k, (label, higher) in FIGURES.items() if k in baseline]
    learning_curve_figure(
        {name: [(m, f) for m, f in design] for name, design in curves.items()},
        baseline,
        shown,
        png,
        title="Held-out speech (8 utterances) against training time on a 2-core CPU",
    )
    emit(figure="curve_png", path=str(png))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "what",
        choices=[
            "synthesis",
            "step",
            "melgan",
            "polyphase",
            "memory",
            "quality",
            "curve",
            "draw",
            "all",
        ],
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 cores here)")
    parser.add_argument("--repeats", type=int, default=7, help="speed: interleaved repeats")
    parser.add_argument(
        "--batch", type=int, default=16, help="melgan: the step's batch (0: synthesis only)"
    )
    parser.add_argument("--recipe", default=str(SPEECH), help="quality: the recipe to train")
    parser.add_argument("--out", default="runs/vocoder_quality", help="quality/curve: folder")
    parser.add_argument("--limit", type=float, default=1800.0, help="quality: training seconds")
    parser.add_argument(
        "--designs",
        nargs="+",
        default=["vocos", "vocos_gan", "melgan", "vocos_noprior:10"],
        help=f"curve: NAME or NAME:MINUTES, of {', '.join(DESIGNS)}",
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="curve: minutes per design")
    parser.add_argument("--png", default=None, help="curve: where to draw the learning curves")
    parser.add_argument("overrides", nargs="*", help="quality: recipe overrides (k.p=v)")
    args = parser.parse_intermixed_args()  # overrides may follow the options
    torch.set_num_threads(args.threads)
    if args.what in ("synthesis", "all"):
        synthesis(repeats=args.repeats)
    if args.what in ("step", "all"):
        training_step(repeats=args.repeats)
    if args.what in ("polyphase", "all"):
        polyphase(repeats=args.repeats)
    if args.what in ("melgan", "all"):
        melgan_against_reference(repeats=args.repeats, batch=args.batch)
    if args.what in ("memory", "all"):
        memory()
    if args.what == "quality":
        quality(Path(args.recipe), Path(args.out), args.overrides, args.limit)
    png = Path(args.png) if args.png else None
    if args.what == "curve":
        curve(args.designs, args.minutes, Path(args.out), png)
    if args.what == "draw":
        draw(json.loads((Path(args.out) / "curves.json").read_text()), png)
    emit(figure="max_rss_this_process_mb", value=round(resource_mb(), 1), unit="MB")


def resource_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
