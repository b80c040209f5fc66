"""recipes/vocoder.yaml through the real CLI, tiny; then `genmm generate --wav/--mel` and
`genmm eval` on the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

pytest.importorskip("espeakng_loader")

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
RECIPE = RECIPES / "vocoder.yaml"
ENV = {"OMP_NUM_THREADS": "1"}


#: the models of each speech recipe made tiny
TINY_MODELS = {
    "speech": [
        "models.generator.dim=16",
        "models.generator.intermediate_dim=32",
        "models.generator.num_layers=1",
        "models.discriminator.period_channels=[4, 4, 4, 4, 4]",
        "models.discriminator.resolution_channels=4",
        "phases.vocoder.max_steps=2",  # the adversarial phase is off by default on a CPU
    ],
    "speech_melgan": ["models.generator.ngf=4", "models.discriminator.ndf=4"],
}


def tiny(root: Path, recipe: str = "speech") -> list[str]:
    return [
        f"data.root={root}",
        "data.sentences=6",
        "data.held_out=0.34",  # 2 of the 6 utterances
        *TINY_MODELS[recipe],
        "phases.pretrain.batch_size=2",
        "phases.vocoder.batch_size=2",
        "eval.metrics=[{name: audio.quality, utterances: 1, max_seconds: 1.0}]",
        "samples.n=1",
        "writer.utterances=1",
        "writer.max_seconds=1.0",
        "runtime.progress=false",
    ]


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    """One tiny run of the shipped recipe (2 steps per phase), shared by the tests below."""
    base = tmp_path_factory.mktemp("speech_cli")
    out = base / "run"
    command = ["run", str(RECIPE), "--out", str(out), "--max-steps", "2", *tiny(base / "speech")]
    result = _cli(*command)
    assert result.returncode == 0, result.stderr
    return base, out, result


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m genmm.cli ARGS`` in a subprocess (the real CLI, as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "genmm.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=600,
    )


def test_speech_recipe_smoke(speech_run):
    base, out, _ = speech_run
    assert (base / "speech" / "metadata.csv").read_text().count("\n") == 6
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["phase"] for r in records if "phase_step" in r} == {"pretrain", "vocoder"}
    evaluations = [r["eval"] for r in records if "eval" in r]
    assert evaluations, records
    last = evaluations[-1]
    for key in ("mel_l1", "mrstft", "stoi", "mel_l1_griffin_lim", "stoi_griffin_lim"):
        assert np.isfinite(last[key]), key
    samples = sorted((out / "samples").glob("*.wav"))
    assert samples
    data, rate = soundfile.read(str(samples[-1]))
    assert rate == 22050 and len(data) == 22016  # 1 s cut to a multiple of the hop
    with Image.open(samples[-1].with_suffix(".png")) as image:  # its input/output log-mels
        assert image.format == "PNG" and image.size[0] == 800


def test_speech_melgan_recipe_smoke(tmp_path, chirp):
    """The paper-faithful MelGAN recipe trains both phases and resynthesises a wav."""
    out = tmp_path / "run"
    arguments = tiny(tmp_path / "speech", "speech_melgan")
    result = _cli(
        "run",
        str(RECIPES / "speech_melgan.yaml"),
        "--out",
        str(out),
        "--max-steps",
        "2",
        *arguments,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["phase"] for r in records if "phase_step" in r} == {"pretrain", "vocoder"}
    source, target = tmp_path / "in.wav", tmp_path / "out.wav"
    soundfile.write(str(source), chirp(0.5, 22050), 22050)
    result = _cli("generate", str(out), "--wav", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(str(target))
    assert rate == 22050 and len(data) == 11025 // 256 * 256 and np.isfinite(data).all()


def test_generate_resynthesises_a_wav(speech_run, tmp_path, chirp):
    _, out, _ = speech_run
    source = tmp_path / "in.wav"
    soundfile.write(str(source), chirp(0.7, 22050), 22050)  # 15,435 samples
    target = tmp_path / "out.wav"
    result = _cli("generate", str(out), "--wav", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(str(target))
    assert rate == 22050 and len(data) == 15435 // 256 * 256
    with Image.open(target.with_suffix(".png")) as image:
        assert image.format == "PNG" and image.size[0] == 800
    # a recording at 16 kHz is resampled first: 16,000 samples -> 22,050, cut to the hop
    slow = tmp_path / "in16k.wav"
    soundfile.write(str(slow), chirp(1.0, 16000), 16000)
    result = _cli("generate", str(out), "--wav", str(slow), "-o", str(tmp_path / "o16.wav"))
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(str(tmp_path / "o16.wav"))
    assert rate == 22050 and len(data) == 22050 // 256 * 256


def test_generate_needs_no_data(speech_run, tmp_path, chirp):
    """The front end comes from the checkpoint's data description: with the corpus folder gone,
    generate still resynthesises a recording."""
    base, out, _ = speech_run
    folder = base / "speech"
    hidden = base / "speech-hidden"
    source = tmp_path / "in.wav"
    soundfile.write(str(source), chirp(0.5, 22050), 22050)
    folder.rename(hidden)
    try:
        result = _cli("generate", str(out), "--wav", str(source), "-o", str(tmp_path / "o.wav"))
    finally:
        hidden.rename(folder)
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(str(tmp_path / "o.wav"))
    assert rate == 22050 and len(data) == 11025 // 256 * 256
    assert np.isfinite(data).all() and np.abs(data).max() <= 1.0
    description = json.loads(next(out.glob("checkpoints/*/description.json")).read_text())
    assert (description["sample_rate"], description["n_mels"]) == (22050, 80)
    assert description["held_out_utterances"] == 2


def test_generate_vocodes_a_mel_file(speech_run, tmp_path):
    _, out, _ = speech_run
    mel = tmp_path / "mel.npy"
    np.save(mel, np.full((80, 20), -2.0, np.float32))
    target = tmp_path / "mel.wav"
    result = _cli("generate", str(out), "--mel", str(mel), "-o", str(target))
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(str(target))
    assert rate == 22050 and len(data) == 20 * 256
    # without -o: under the run folder, named by the step
    result = _cli("generate", str(out), "--mel", str(mel))
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(str(out / "generated" / "step-000004.wav"))
    assert rate == 22050 and len(data) == 20 * 256


def test_generate_names_a_bad_input(speech_run, tmp_path):
    _, out, _ = speech_run
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    result = _cli("generate", str(out), "--wav", str(broken), "-o", str(tmp_path / "x.wav"))
    assert result.returncode != 0
    assert "broken.wav" in result.stderr and "cannot decode audio" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("generate", str(out), "-o", str(tmp_path / "x.wav"))
    assert result.returncode != 0 and "exactly one of --wav or --mel" in result.stderr


def test_eval_prints_model_beside_griffin_lim(speech_run):
    _, out, _ = speech_run
    result = _cli("eval", str(out))
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["step"] == 4  # 2 pretrain + 2 vocoder steps
    for key in ("mel_l1", "mrstft", "stoi"):
        assert figures[key] > 0 and figures[f"{key}_griffin_lim"] > 0
    assert figures["synthesis_khz"] > 0
