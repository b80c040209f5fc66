"""Video plugin benchmarks; one JSON line per figure.

    python benchmarks/bench_video.py speed [--repeats 7] [--batches 10x3,16x16]
    python benchmarks/bench_video.py quality [--recipes video_mocogan,video_tgan] [--steps N]

speed: one MoCoGAN training step at 16 x 64 x 64 (the authors' widths, ngf = ndf = 64, six
action categories), image batch x video batch 10 x 3 (the authors' code's defaults) and
16 x 16: ours (``video.mocogan`` through the core's optimisation path) against the authors'
loop rebuilt here from their code's settings (three Adam optimisers lr 2e-4, betas (0.5,
0.999), weight decay 1e-5; D_I step on frames picked from freshly generated whole clips, D_V
step on freshly generated clips with the real clips' action cross-entropy, then a G step on
new fakes for both), on the same architecture (parameter counts checked equal). Interleaved
step by step through ``benchmarks/harness.py``, ``--repeats`` times after a warm-up; median and
minimum seconds, the ratios, the load average.

quality: trains each shipped recipe (``--steps`` caps its length) through ``genmm.train`` and
evaluates its metrics: motion accuracy (MCS), ACD of generated and real clips, Fréchet distance
on the motion classifier beside the real-vs-real floor; the classifier's weights hash with
every figure.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import emit, interleaved, report  # noqa: E402


def manager():
    """The process-wide plugin manager (the video plugin loads through its entry point)."""
    from genmm.plugins import get_manager

    return get_manager()


# ====================================================================== speed
def authors_step(G, DI, DV, optimizers, real, categories, image_batch: int, video_batch: int):
    """One iteration of the authors' training loop, written from their code's description."""
    opt_g, opt_i, opt_v = optimizers
    bce = F.binary_cross_entropy_with_logits
    frames = G.frames

    def fake_videos(n: int):
        labels = torch.randint(G.categories, (n,))
        return G(G.sample_latent(n, "cpu"), labels), labels

    def fake_images(n: int):
        clips, labels = fake_videos(n)  # a whole clip per image, one frame kept
        return clips[torch.arange(n), :, torch.randint(frames, (n,))], labels

    # D_I on single frames
    opt_i.zero_grad()
    real_images = real[torch.arange(image_batch), :, torch.randint(frames, (image_batch,))]
    fake, _ = fake_images(image_batch)
    real_score, fake_score = DI(real_images), DI(fake.detach())
    loss = bce(real_score, torch.ones_like(real_score)) + bce(
        fake_score, torch.zeros_like(fake_score)
    )
    loss.backward()
    opt_i.step()
    # D_V on clips, with the real clips' action
    opt_v.zero_grad()
    fake, _ = fake_videos(video_batch)
    (real_score, real_logits), (fake_score, _) = DV(real[:video_batch]), DV(fake.detach())
    loss = bce(real_score, torch.ones_like(real_score)) + bce(
        fake_score, torch.zeros_like(fake_score)
    )
    loss = loss + F.cross_entropy(real_logits, categories[:video_batch])
    loss.backward()
    opt_v.step()
    # G on new fakes for both
    opt_g.zero_grad()
    fake, _ = fake_images(image_batch)
    score = DI(fake)
    loss = bce(score, torch.ones_like(score))
    fake, labels = fake_videos(video_batch)
    score, logits = DV(fake)
    loss = loss + bce(score, torch.ones_like(score)) + F.cross_entropy(logits, labels)
    loss.backward()
    opt_g.step()


def speed(repeats: int, batches: list[tuple[int, int]], warmup: int = 1) -> None:
    from genmm.losses import NonSaturatingLoss
    from genmm.testing import MiniRun
    from genmm_video.mocogan import (
        MOCOGAN_ADAM,
        ImageDiscriminator,
        MoCoGANDiscriminator,
        MoCoGANGenerator,
        MoCoGANTrainer,
        VideoDiscriminator,
    )

    frames, size, categories = 16, 64, 6
    for image_batch, video_batch in batches:
        torch.manual_seed(0)
        G = MoCoGANGenerator(frames=frames, size=size, categories=categories)
        D = MoCoGANDiscriminator(frames=frames, size=size, categories=categories)
        # the reference: the authors' three networks, same architecture, separate modules
        G_ref = copy.deepcopy(G)
        DI = ImageDiscriminator(size, 3, 64)
        DV = VideoDiscriminator(frames, size, 3, categories, 64)
        DI.load_state_dict(D.image.state_dict())
        DV.load_state_dict(D.video.state_dict())
        count = lambda m: sum(p.numel() for p in m.parameters())
        assert count(G_ref) == count(G) and count(DI) + count(DV) == count(D)
        adam = {k: v for k, v in MOCOGAN_ADAM.items() if k != "name"}
        adam["betas"] = tuple(adam["betas"])
        optimizers = [torch.optim.Adam(m.parameters(), **adam) for m in (G_ref, DI, DV)]
        data = torch.rand(max(image_batch, video_batch), 3, frames, size, size) * 2 - 1
        labels = torch.randint(categories, (len(data),))
        run = MiniRun(
            {"generator": G, "discriminator": D},
            {"adversarial": NonSaturatingLoss()},
            lambda d=data, y=labels, n=image_batch: {"real": d[:n], "condition": y[:n]},
            batch_size=image_batch,
            description={"conditional": True, "num_classes": categories},
        )
        trainer = MoCoGANTrainer(video_batch=video_batch)
        trainer.setup(run)
        calls = {
            "ours": lambda r=run, t=trainer: r.step_once(t),
            "authors_loop": functools.partial(
                authors_step, G_ref, DI, DV, optimizers, data, labels, image_batch, video_batch
            ),
        }
        stats = interleaved(calls, repeats=repeats, warmup=warmup, flops=True)
        report(
            f"mocogan_step_{image_batch}x{video_batch}",
            stats,
            "ours",
            "authors_loop",
            target=1.35,
            clips=f"{frames}x{size}x{size}",
            image_batch=image_batch,
            video_batch=video_batch,
            threads=torch.get_num_threads(),
            parameters={"generator": count(G), "discriminators": count(D)},
        )


# ====================================================================== quality
def quality(recipes: list[str], steps: int | None, overrides: list[str]) -> None:
    import genmm
    from genmm.api import resolve
    from genmm_video import metrics

    plugins = manager()
    for name in recipes:
        resolved, _ = resolve(name, overrides, manager=plugins)
        out = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=os.environ.get("BENCH_OUT")))
        started = time.perf_counter()
        run = genmm.train(
            name,
            ["eval.every=0", "samples.every=0", "runtime.progress=false", *overrides],
            out=out,
            max_steps=steps,
            manager=plugins,
        )
        seconds = time.perf_counter() - started
        results: dict[str, float] = {}
        for figures in plugins.hook.genmm_evaluate(run=run, step=run.step):
            results.update(figures or {})
        classifier = metrics.motion_classifier(run.dataset)
        base = {
            "recipe": name,
            "steps": run.step,
            "train_seconds": round(seconds, 1),
            "run_folder": str(out),
            "classifier_hash": classifier.hash,
            "data": resolved["data"],
        }
        for key, value in sorted(results.items()):
            record = {"figure": key, "value": round(value, 4), **base}
            if key == "fd":
                record["fd_floor"] = round(results.get("fd_floor", float("nan")), 4)
                record["ratio_to_floor"] = round(
                    value / max(results.get("fd_floor", 1e-9), 1e-9), 3
                )
            if key == "acd":
                record["acd_real"] = round(results.get("acd_real", float("nan")), 4)
            emit(**record)
        if run.writer is not None:  # a picture for the docs: generated clips as a frame strip
            with run.evaluating(seed=0):
                samples = run.sample(6)
            run.writer.write(samples, out / "bench_frames.mp4")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "quality", "all"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", default="10x3,16x16", help="image x video batches")
    parser.add_argument("--recipes", default="video_mocogan,video_tgan")
    parser.add_argument("--steps", type=int, default=None, help="cap each recipe's steps")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("overrides", nargs="*", help="dotted recipe overrides")
    arguments = parser.parse_intermixed_args()  # overrides may follow the options
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    if arguments.what in ("speed", "all"):
        batches = [tuple(int(x) for x in item.split("x")) for item in arguments.batches.split(",")]
        speed(arguments.repeats, batches)
    if arguments.what in ("quality", "all"):
        quality(arguments.recipes.split(","), arguments.steps, arguments.overrides)


if __name__ == "__main__":
    main()
