"""The reference architectures the speed benchmarks rebuild: their parameter counts are the
authors' (a reference of another size would make every ratio meaningless)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pytorch_examples_dcgan_has_its_printed_parameter_counts():
    bench_image = load("bench_image")
    _, counts = bench_image.reference_step(2)
    assert counts == bench_image.PYTORCH_EXAMPLES_PARAMETERS == {"G": 3576704, "D": 2765568}


def test_melgan_neurips_rebuilt_has_the_authors_counts_and_our_generator_matches():
    from genmm_audio.generator import MelGANGenerator

    bench_audio = load("bench_audio")
    step, counts = bench_audio.reference_melgan_step(1, segment=1024)
    assert counts == bench_audio.REFERENCE_PARAMETERS
    assert counts["generator"] == sum(p.numel() for p in MelGANGenerator(ngf=32).parameters())
    generator = bench_audio.ReferenceMelGANGenerator()
    assert generator(torch.randn(1, 80, 5)).shape == (1, 1, 5 * 256)  # hop 8 * 8 * 2 * 2
    scores = bench_audio.ReferenceMelGANDiscriminator()(torch.randn(1, 1, 1024))
    assert len(scores) == 3 and all(len(scale) == 7 for scale in scores)  # 6 maps + a score
    assert [s[-1].shape[1] for s in scores] == [1, 1, 1]
