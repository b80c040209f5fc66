"""The shipped recipes made tiny by overrides, through the real CLI (DAMSM phase, then the GAN
phase); `genmm generate --text` from the checkpoint alone: a png that opens, the unknown-word
warning, the empty-text error, and the `--attention` png."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

#: what makes either shipped recipe tiny: 16² scenes, narrow networks, batches of 8
TINY = [
    "data.size=16", "data.count=160", "data.held_out=0.25",
    "models.text_encoder.embedding_dim=16", "models.text_encoder.hidden_per_direction=16",
    "models.image_encoder.feature_dim=32", "models.image_encoder.width=8",
    "models.image_encoder.input_size=16", "models.generator.latent_dim=16",
    "models.generator.text_dim=32", "models.discriminator.text_dim=32",
    "phases.damsm.batch_size=8", "phases.gan.batch_size=8",
    "samples.every=2", "samples.n=8", "writer.per_caption=2", "eval.every=2",
    "eval.metrics=[{name: t2i.r_precision, samples: 8, candidates: 10}]",
    "checkpoint.every=100", "runtime.threads=1", "runtime.progress=false", "runtime.log_every=1",
]  # fmt: skip


def run_cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genmm.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=timeout,
    )


def train_tiny(name: str, tmp_path: Path, *extra: str) -> Path:
    run = tmp_path / name
    recipe = str(ROOT / "recipes" / f"{name}.yaml")
    done = run_cli("run", recipe, *TINY, *extra, "--max-steps", "2", "--out", str(run),
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    damsm = [r for r in records if r.get("phase") == "damsm" and "damsm_loss" in r]
    gan = [r for r in records if r.get("phase") == "gan" and "d_loss" in r]
    assert len(damsm) == 2 and len(gan) == 2
    evaluation = [r["eval"] for r in records if "eval" in r]
    assert evaluation and 0.0 <= evaluation[-1]["t2i.r_precision"] <= 1.0
    assert evaluation[-1]["t2i.r_precision_chance"] == 0.1
    assert len((run / "samples" / "step-000004.txt").read_text().splitlines()) == 4
    return run


def test_dfgan_recipe_trains_and_generates_from_a_sentence(tmp_path: Path):
    run = train_tiny("dfgan_shapes", tmp_path, "models.generator.ngf=8",
                     "models.discriminator.ndf=8")  # fmt: skip
    records = (run / "metrics.jsonl").read_text()
    assert '"ma_gp"' in records and '"d_mismatch"' in records
    with Image.open(run / "samples" / "step-000004.png") as image:
        assert image.size == (2 * 18 + 2, 4 * 18 + 2)  # 4 captions x 2 images of 16²

    out = tmp_path / "out.png"
    done = run_cli(
        "generate", str(run), "--text", "a big green glittering triangle above a small blue circle",
        "-o", str(out), "--n", "3", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'glittering'" in done.stderr and "<unk>" in done.stderr  # named in the warning
    with Image.open(out) as image:
        assert image.size == (2 * 18 + 2, 2 * 18 + 2) and image.mode == "RGB"
    assert str(out) in done.stdout

    done = run_cli("generate", str(run), "--text", "  ", "-o", str(tmp_path / "x.png"),
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "caption is empty" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.png").exists()


def test_attngan_recipe_trains_and_draws_attention(tmp_path: Path):
    pytest.importorskip("matplotlib")
    import genmm

    run = train_tiny("attngan_shapes", tmp_path, "models.generator.gf=4",
                     "models.generator.condition_dim=8", "models.discriminator.ndf=4")  # fmt: skip
    records = (run / "metrics.jsonl").read_text()
    assert '"g_damsm"' in records and '"g_kl"' in records
    trained = genmm.load(run, build_data=False)  # what `genmm generate` does
    trained.generate_seed = 0
    out = tmp_path / "a.png"
    written = trained.writer.generate(trained, 2, out, text="a small red circle", attention=True)
    assert written == [out, tmp_path / "a_attention.png"]
    with Image.open(out) as image:
        assert image.size == (2 * 18 + 2, 18 + 2)  # the last stage, 16²
    with Image.open(written[1]) as image:  # 2 samples x (stage 2, DAMSM) rows, 5 word panels
        width, height = image.size
        assert width > 600 and height > 500
