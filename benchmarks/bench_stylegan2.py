"""StyleGAN2 speed at the widths of the official stylegan2-ada-pytorch ``cifar`` configuration
(32x32, z = w = 512, 2 mapping layers, 512 channels at every resolution), batch 16, CPU.

Prints one JSON line per figure: G parameters, the seconds of one full training step that
includes the lazy R1 pass (D main + D reg + G main + G reg), one step without regularisation,
and the amortised step under the lazy schedule (R1 every 16, path length every 4).

    python benchmarks/bench_stylegan2.py [--steps 2] [--batch 16]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from genmm.losses import NonSaturatingLoss, R1Penalty
from genmm.testing import MiniRun
from genmm_image.stylegan2.discriminator import StyleGAN2Discriminator
from genmm_image.stylegan2.generator import StyleGAN2Generator
from genmm_image.stylegan2.losses import PathLengthPenalty
from genmm_image.stylegan2.trainer import StyleGAN2Trainer


def timed_step(trainer, run, d_steps: int, g_steps: int) -> float:
    """One step (and the EMA update after it); the counters choose which lazy terms run."""
    trainer.d_steps, trainer.g_steps = d_steps, g_steps
    started = time.perf_counter()
    run.step_once(trainer)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    G = StyleGAN2Generator(resolution=32, channels=3, mapping_layers=2)
    D = StyleGAN2Discriminator(resolution=32, channels=3)
    losses = {
        "adversarial": NonSaturatingLoss(),
        "r1": R1Penalty(gamma=0.01, every=16),
        "path_length": PathLengthPenalty(weight=2.0, every=4),
    }
    run = MiniRun(
        {"generator": G, "discriminator": D},
        losses,
        lambda: {"real": torch.rand(args.batch, 3, 32, 32) * 2 - 1},
        batch_size=args.batch,
        phase_name="bench",
    )
    trainer = StyleGAN2Trainer(style_mixing=0.9)
    trainer.setup(run)
    common = {"resolution": 32, "batch": args.batch, "threads": torch.get_num_threads()}
    print(json.dumps({"figure": "G parameters (cifar widths)", "value": G_count(G), **common}))
    timed_step(trainer, run, 0, 0)  # warm-up with R1 and PL: oneDNN primitives, allocator
    r1 = [timed_step(trainer, run, 0, 1) for _ in range(args.steps)]  # R1, no PL
    plain = [timed_step(trainer, run, 1, 1) for _ in range(args.steps)]
    full = [timed_step(trainer, run, 0, 0) for _ in range(args.steps)]  # R1 and PL
    pl = [timed_step(trainer, run, 1, 0) for _ in range(args.steps)]
    best = {k: min(v) for k, v in {"r1": r1, "plain": plain, "full": full, "pl": pl}.items()}
    print(json.dumps({"figure": "G+D step with R1 (s)", "value": round(best["r1"], 2), **common}))
    print(
        json.dumps({"figure": "G+D step, no reg (s)", "value": round(best["plain"], 2), **common})
    )
    print(json.dumps({"figure": "G+D step, R1+PL (s)", "value": round(best["full"], 2), **common}))
    # lazy schedule over 16 steps: R1 once, PL 4 times (once together with R1)
    amortised = (best["full"] + 3 * best["pl"] + 12 * best["plain"]) / 16
    print(json.dumps({"figure": "amortised step (s)", "value": round(amortised, 2), **common}))


def G_count(G) -> int:  # noqa: N802
    return sum(p.numel() for p in G.parameters())


if __name__ == "__main__":
    main()
