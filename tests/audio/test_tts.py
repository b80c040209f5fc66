"""Text to speech: the text front end, durations from the corpus, monotonic alignment search,
FastSpeech 2's length regulator, the acoustic trainer, and recipes/speech.yaml through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch

from genmm.errors import DataError, RecipeError
from genmm.losses import FeatureMatchingLoss, LSGANLoss
from genmm.testing import MiniRun
from genmm_audio.acoustic import (
    FastSpeech2,
    MelDiscriminator,
    durations_at_speed,
    length_regulate,
)
from genmm_audio.alignment import (
    AlignmentModule,
    alignment_loss,
    durations_from_path,
    monotonic_alignment_search,
    segment_means,
)
from genmm_audio.text import PhonemeVocabulary, normalise_text, phonemise
from genmm_audio.tts_data import TTSDataset, durations_from_starts
from genmm_audio.tts_losses import FastSpeech2Loss
from genmm_audio.tts_trainer import AcousticTrainer

pytest.importorskip("espeakng_loader")

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "speech.yaml"
TINY = [
    "data.sentences=8",
    "data.held_out=0.25",
    "models.acoustic.hidden=32",
    "models.acoustic.filters=64",
    "models.acoustic.predictor_filters=32",
    "models.acoustic.encoder_layers=1",
    "models.acoustic.decoder_layers=1",
    "models.mel_discriminator.channels=[8, 8]",
    "models.generator.dim=16",
    "models.generator.intermediate_dim=32",
    "models.generator.num_layers=1",
    "models.discriminator.period_channels=[4, 4, 4, 4, 4]",
    "models.discriminator.resolution_channels=4",
    "phases.acoustic.max_steps=4",
    "phases.acoustic.batch_size=2",
    "phases.pretrain.max_steps=1",
    "phases.pretrain.batch_size=2",
    "runtime.progress=false",
]


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    "written, spoken",
    [
        ("I have 3 cats.", "I have three cats."),
        ("It is 3.14 metres.", "It is three point one four metres."),
        ("It costs $3.50.", "It costs three dollars fifty cents."),
        ("More than $10 million.", "More than ten million dollars."),
        ("It cost £1.5bn.", "It cost one point five billion pounds."),
        ("Just £1 or €2.", "Just one pound or two euros."),
        ("The 1st, 2nd, 3rd and 21st.", "The first, second, third and twenty-first."),
        ("He was 112th.", "He was one hundred twelfth."),
        (
            "In 1999, 1,250 people.",
            "In nineteen ninety-nine, one thousand two hundred fifty people.",
        ),
        ("Mr. Smith met Dr. Jones.", "mister Smith met doctor Jones."),
        ("St. Paul is on Baker St. now.", "saint Paul is on Baker street now."),
        ("Apples, pears, etc.", "Apples, pears, et cetera."),
        ("“Well” (she said) - yes!", '"Well" (she said) - yes!'),
        ("50% & café", "fifty percent and cafe"),
    ],
)
def test_normalisation(written, spoken):
    assert normalise_text(written) == spoken


def test_unknown_characters_are_named():
    with pytest.raises(DataError, match=r"'☃' \(SNOWMAN\).*'日' \(CJK UNIFIED IDEOGRAPH-65E5\)"):
        normalise_text("snow ☃ 日")


def test_phonemes_of_known_words():
    assert phonemise("hello") == ["h", "@", "l", "'oU", "_:", "_"]
    assert phonemise("Hello world", "en-gb")[4:8] == ["w", "'3:", "l", "d"]
    with pytest.raises(DataError, match="the text is empty"):
        phonemise("   ")
    with pytest.raises(DataError, match="nothing to pronounce"):
        phonemise("?! ...")


def test_inference_phonemes_are_the_corpus_phonemes(espeak_folder):
    """A sentence typed at generate time gets the names the corpus's .phonemes.tsv holds."""
    rows = [line.split("|") for line in (espeak_folder / "metadata.csv").read_text().splitlines()]
    name, text = next((r[0], r[1]) for r in rows if not any(c.isdigit() for c in r[1]))
    table = (espeak_folder / "wavs" / f"{name}.phonemes.tsv").read_text().splitlines()
    assert phonemise(text, "en-us") == [line.split("\t")[1] for line in table]


def test_vocabulary_round_trip_and_unknown():
    vocabulary = PhonemeVocabulary.build([["h", "@"], ["l", "_:"]])
    assert vocabulary.tokens == ["<pad>", "<unk>", "@", "_:", "h", "l"]
    assert vocabulary.decode(vocabulary.encode(["h", "@", "l"])) == ["h", "@", "l"]
    assert vocabulary.encode(["zz"]) == [1]
    assert PhonemeVocabulary.from_description({"phonemes": vocabulary.tokens}).tokens == (
        vocabulary.tokens
    )


# ----------------------------------------------------------------------------- durations


def test_durations_from_start_samples():
    # starts at 300, 1000, 1000 (zero length), 2600 samples; hop 256; 12 frames
    assert durations_from_starts([300, 1000, 1000, 2600], 256, 12).tolist() == [4, 0, 6, 2]
    assert durations_from_starts([0, 5000], 256, 12).tolist() == [12, 0]  # past the end: 0


@pytest.fixture(scope="module")
def corpus(espeak_folder):
    return TTSDataset(str(espeak_folder), held_out=0.17)


def test_dataset_durations_sum_to_the_frames(corpus):
    description = corpus.describe()
    assert description["voices"] == ["en-us", "en-us+f3", "en-us+m3", "en-us+f2"]
    assert description["phonemes"][:2] == ["<pad>", "<unk>"] and "_:" in description["phonemes"]
    for index in range(len(corpus.audio)):
        item = corpus.utterance(index)
        assert int(item["durations"].sum()) == item["mel"].shape[-1]
        assert len(item["durations"]) == len(item["phonemes"]) == len(item["pitch"])
        assert int(item["speaker"]) == index % 4  # the corpus speaks its voices in turn
    batch = corpus.get_batch([0, 1, 2])
    assert torch.equal(batch["durations"].sum(1), batch["mel_lengths"])
    assert batch["real"].shape == (3, 1, 8192) and batch["condition"].shape == (3, 80, 32)
    pitch = torch.cat(corpus.pitch[: corpus.train_count])
    assert abs(float(pitch.mean())) < 0.2 and float(pitch.std()) > 0.5  # normalised


def test_alignment_search_recovers_a_monotonic_path():
    generator = torch.Generator().manual_seed(0)
    durations = [torch.tensor([3, 1, 4, 2, 5]), torch.tensor([2, 6, 1])]
    lengths, frames = torch.tensor([5, 3]), torch.tensor([15, 9])
    log_p = torch.full((2, 5, 15), -50.0)
    for b, duration in enumerate(durations):
        means = torch.randn(len(duration), 8, generator=generator) * 3
        x = means.repeat_interleave(duration, 0) + 0.1 * torch.randn(
            int(duration.sum()), 8, generator=generator
        )
        log_p[b, : len(duration), : x.shape[0]] = -0.5 * torch.cdist(means, x).pow(2)
    path = monotonic_alignment_search(log_p, lengths, frames)
    found = durations_from_path(path)
    assert found[0].tolist() == durations[0].tolist()
    assert found[1].tolist() == durations[1].tolist() + [0, 0]
    assert path[1, :, 9:].sum() == 0  # nothing past an item's frames
    # each frame to exactly one phoneme, in order
    assert torch.all(path[0].sum(0) == 1) and torch.all(path[0].argmax(0).diff() >= 0)


def test_length_regulator_and_speed():
    x = torch.arange(6.0).reshape(1, 3, 2)  # phonemes [0, 1], [2, 3], [4, 5]
    expanded, totals = length_regulate(x, torch.tensor([[2, 0, 3]]))
    assert totals.tolist() == [5]
    assert expanded[0, :, 0].tolist() == [0, 0, 4, 4, 4]
    batch, totals = length_regulate(torch.ones(2, 2, 1), torch.tensor([[1, 1], [2, 2]]))
    assert totals.tolist() == [2, 4] and batch[0, 2:].abs().sum() == 0  # padded frames are 0
    log_durations = torch.log(torch.tensor([[3.2, 5.7, 0.4, 9.1]]) + 1)
    mask = torch.tensor([[False, False, False, True]])  # the last phoneme is padding
    at_one = durations_at_speed(log_durations, mask, 1.0)
    at_two = durations_at_speed(log_durations, mask, 2.0)
    assert int(at_one.sum()) == round(3.2 + 5.7 + 0.4) and int(at_one[0, 3]) == 0
    assert int(at_two.sum()) == round((3.2 + 5.7 + 0.4) / 2)


def test_fastspeech2_parameters_and_speakers():
    description = {"phonemes": ["<pad>", "<unk>"] + [f"p{i}" for i in range(48)], "n_mels": 80}
    description["voices"] = ["a", "b"]
    assert sum(p.numel() for p in FastSpeech2(description).parameters()) == 24_445_267
    tiny = dict(hidden=16, encoder_layers=1, decoder_layers=1, filters=32, predictor_filters=16)
    model = FastSpeech2(description, **tiny).eval()
    phonemes = torch.tensor([[2, 3, 4, 5]])
    durations = torch.tensor([[2, 3, 1, 4]])
    out = model(phonemes, speaker=torch.tensor([1]), durations=durations)
    assert out["mel"].shape == (1, 80, 10) and out["log_durations"].shape == (1, 4)
    other = model(phonemes, speaker=torch.tensor([0]), durations=durations)
    assert not torch.allclose(out["mel"], other["mel"])  # the speaker embedding matters
    with pytest.raises(ValueError, match="unknown voice 'c'.*a, b"):
        model.speaker_index("c")


# ----------------------------------------------------------------------------- training


def _mini_run(corpus, weight: float):
    torch.manual_seed(0)
    description = corpus.describe()
    tiny = dict(hidden=16, encoder_layers=1, decoder_layers=1, filters=32, predictor_filters=16)
    models = {
        "acoustic": FastSpeech2(description, **tiny),
        "mel_discriminator": MelDiscriminator(description, channels=[8, 8]),
    }
    losses = {
        "mel_adversarial": LSGANLoss(weight=weight),
        "variance": FastSpeech2Loss(),
        "mel_feature_matching": FeatureMatchingLoss(weight=2.0),
    }
    run = MiniRun(
        models,
        losses,
        lambda: corpus.get_batch([0, 1]),
        batch_size=2,
        optimizers={"acoustic": {"lr": 3e-3}},
    )
    trainer = AcousticTrainer(losses=["variance", "mel_feature_matching"], segment=16)
    trainer.setup(run)
    return run, trainer, models


def test_acoustic_trainer_learns_with_and_without_the_gan(corpus):
    run, trainer, models = _mini_run(corpus, weight=1.0)
    logs = [run.step_once(trainer) for _ in range(8)]
    assert {"d_loss", "g_adversarial", "mel_feature_matching", "variance.duration"} <= set(logs[0])
    assert float(logs[-1]["variance"]) < float(logs[0]["variance"])
    run, trainer, models = _mini_run(corpus, weight=0.0)  # losses.mel_adversarial.weight=0
    before = [p.detach().clone() for p in models["mel_discriminator"].parameters()]
    logs = run.step_once(trainer)
    assert "d_loss" not in logs and "mel_feature_matching" not in logs
    after = list(models["mel_discriminator"].parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after))


# ----------------------------------------------------------------------------- no timings


def test_segment_means_and_alignment_losses_by_hand():
    path = torch.tensor([[[1, 1, 0, 0], [0, 0, 1, 1]]])  # (1, 2 phonemes, 4 frames)
    values = torch.tensor([[1.0, 3.0, 5.0, 9.0]])
    assert segment_means(values, path).tolist() == [[2.0, 7.0]]
    # scores that put all of each frame's probability on its path phoneme: both losses near
    # their least; the reverse path costs more on each
    sharp = torch.tensor([[[20.0, 20.0, -20.0, -20.0], [-20.0, -20.0, 20.0, 20.0]]])
    lengths, frames = torch.tensor([2]), torch.tensor([4])
    good = alignment_loss(sharp, path, lengths, frames)
    bad = alignment_loss(-sharp, path, lengths, frames)
    assert float(good["binarisation"]) < 1e-6 < 10 < float(bad["binarisation"])
    assert float(good["forward_sum"]) < float(bad["forward_sum"])
    module = AlignmentModule(text_channels=8, n_mels=6)
    scores = module(
        torch.randn(2, 3, 8), torch.randn(2, 6, 5), torch.tensor([[0, 0, 1]] * 2).bool()
    )
    assert scores.shape == (2, 3, 5) and bool((scores[:, 2] == -1e4).all())
    assert bool((scores[:, :2] <= 0).all())  # minus a scaled squared distance


@pytest.fixture(scope="module")
def untimed_folder(espeak_folder, tmp_path_factory):
    """The rendered corpus without its phoneme tables: an LJSpeech folder as a user has it."""
    import shutil

    root = tmp_path_factory.mktemp("untimed") / "corpus"
    shutil.copytree(espeak_folder, root)
    for table in root.glob("wavs/*.phonemes.tsv"):
        table.unlink()
    return root


def test_a_corpus_without_timings_trains_by_alignment_search(untimed_folder, corpus):
    with pytest.raises(DataError, match=r"no phoneme timings .*durations=search"):
        TTSDataset(str(untimed_folder), held_out=0.17)
    data = TTSDataset(str(untimed_folder), held_out=0.17, durations="search")
    item = data.utterance(0)
    assert set(item) == {"phonemes", "durations", "pitch_frames", "energy_frames", "mel", "speaker"}
    assert len(item["pitch_frames"]) == item["mel"].shape[-1] and int(item["durations"].sum()) == 0

    # the transcript's phonemes are the ones espeak-ng spoke (the timed corpus's)
    def names(dataset, index):
        return dataset.vocabulary.decode(dataset.phonemes[index].tolist())

    # (numerals aside: espeak-ng reads "1999" in the corpus as a number, the front end as a year)
    rows = [line.split("|") for line in (untimed_folder / "metadata.csv").read_text().splitlines()]
    plain = [i for i, row in enumerate(rows) if not any(c.isdigit() for c in row[1])]
    assert len(plain) >= 6 and all(names(data, i) == names(corpus, i) for i in plain)
    torch.manual_seed(0)
    description = data.describe()
    tiny = dict(hidden=16, encoder_layers=1, decoder_layers=1, filters=32, predictor_filters=16)
    losses = {"mel_adversarial": LSGANLoss(weight=0.0), "variance": FastSpeech2Loss()}
    batches = lambda: data.get_batch([0, 1, 2, 3])  # noqa: E731
    plain = MiniRun(
        {
            "acoustic": FastSpeech2(description, **tiny),
            "mel_discriminator": MelDiscriminator(description, channels=[8, 8]),
        },
        losses,
        batches,
        batch_size=4,
    )
    plain.dataset = data
    with pytest.raises(RecipeError, match="aligner: true") as refused:
        AcousticTrainer().setup(plain)
    assert refused.value.key == "models.acoustic.aligner"
    models = {
        "acoustic": FastSpeech2(description, aligner=True, **tiny),
        "mel_discriminator": MelDiscriminator(description, channels=[8, 8]),
    }
    run = MiniRun(models, losses, batches, batch_size=4, optimizers={"acoustic": {"lr": 3e-3}})
    run.dataset = data
    trainer = AcousticTrainer()
    trainer.setup(run)
    context = trainer.context(run)
    batch = context.batch
    assert torch.equal(batch["durations"].sum(1), batch["mel_lengths"])  # a whole alignment
    assert bool((batch["durations"].gather(1, (batch["phoneme_lengths"] - 1)[:, None]) >= 1).all())
    logs = [run.step_once(trainer) for _ in range(25)]
    assert {"variance.forward_sum", "variance.binarisation", "variance.mel"} <= set(logs[0])
    first = sum(float(log["variance.forward_sum"]) for log in logs[:3])
    last = sum(float(log["variance.forward_sum"]) for log in logs[-3:])
    assert last < first  # the alignment module learns


# ----------------------------------------------------------------------------- the CLI


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genmm.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )


@pytest.fixture(scope="module")
def tts_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("tts_cli")
    out = base / "run"
    result = _cli("run", str(RECIPE), "--out", str(out), f"data.root={base / 'data'}", *TINY)
    assert result.returncode == 0, result.stderr
    return base, out


def test_tts_recipe_text_to_wav(tts_run):
    from genmm.api import load
    from genmm_audio.writers import text_to_mel

    base, out = tts_run
    wav, fast = base / "hello.wav", base / "fast.wav"
    text = "Good morning, this is genmm."
    result = _cli("generate", str(out), "--text", text, "-o", str(wav), "--spectrogram")
    assert result.returncode == 0, result.stderr
    assert "the run's vocoder (audio.vocos_generator)" in result.stderr
    assert wav.with_suffix(".png").stat().st_size > 1000
    # the wav is as long as the predicted durations say; --speed 2 halves it (to a frame)
    run = load(out, build_data=False)
    run.generate_seed = 0
    assert run.writer.generate(run, 1, fast, text=text, speed=2) == [fast]  # as the CLI calls it
    with run.evaluating(seed=0):
        _, durations = text_to_mel(run, text)
        _, fast_durations = text_to_mel(run, text, speed=2.0)
    frames = soundfile.info(str(wav)).frames
    assert frames == int(durations.sum()) * 256
    assert soundfile.info(str(fast)).frames == int(fast_durations.sum()) * 256
    assert abs(2 * int(fast_durations.sum()) - int(durations.sum())) <= 1
    # --voice chooses the speaker embedding's row
    chosen = []
    embedding = run.sampling_model("acoustic").speaker_embedding
    handle = embedding.register_forward_hook(lambda m, i, o: chosen.append(i[0].tolist()))
    with run.evaluating(seed=0):
        text_to_mel(run, text, voice="en-us+f3")
        text_to_mel(run, text, voice="en-gb")
    handle.remove()
    voices = run.description["voices"]
    assert voices == ["en-us", "en-gb", "en-us+f3", "en-gb+m3"]
    assert chosen == [[voices.index("en-us+f3")], [voices.index("en-gb")]]


def test_tts_generate_errors_and_voices(tts_run):
    from genmm.api import load

    base, out = tts_run
    result = _cli("generate", str(out), "--text", "hi", "--voice", "fr", "-o", str(base / "x.wav"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: unknown voice 'fr' (this run has: en-us, en-gb, en-us+f3, en-gb+m3)"
    )
    run = load(out, build_data=False)
    writer = run.writer
    with pytest.raises(DataError, match="the text is empty"):
        writer.generate(run, 1, base / "x.wav", text="")
    with pytest.raises(DataError, match="nothing to pronounce"):
        writer.generate(run, 1, base / "x.wav", text="?! ...")
    lines = base / "lines.txt"
    lines.write_text("Hello there.\n\nIt costs $3.50.\n", encoding="utf-8")
    written = writer.generate(run, 1, base / "many", text_file=str(lines), vocoder="griffin_lim")
    assert [p.name for p in written] == ["001.wav", "002.wav"]
    assert all(soundfile.info(str(p)).frames > 0 for p in written)
    (listed,) = writer.generate(run, 1, base / "voices.txt", list_voices=True)
    assert listed.read_text().split() == ["en-us", "en-gb", "en-us+f3", "en-gb+m3"]


# ----------------------------------------------------------------------------- benchmark

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> list[dict]:
    import json

    script = ROOT / "benchmarks" / "bench_tts.py"
    result = subprocess.run(
        [sys.executable, str(script), *args, "--threads", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_mean_duration_baseline_is_the_per_phoneme_training_mean():
    import importlib.util
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_tts", ROOT / "benchmarks" / "bench_tts.py")
    bench_tts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_tts)
    dataset = SimpleNamespace(
        train_count=2,
        phonemes=[torch.tensor([1, 2, 1]), torch.tensor([2]), torch.tensor([7])],
        durations=[torch.tensor([2, 4, 4]), torch.tensor([6]), torch.tensor([100])],
    )  # the third utterance is held out: it does not count
    assert bench_tts.mean_duration_baseline(dataset) == {1: 3.0, 2: 5.0}


def test_bench_tts_reports_quality_beside_its_ceiling_and_the_speed(tts_run):
    _, out = tts_run
    figures = _bench("quality", "--runs", str(out))
    by = {(f["figure"], f.get("system", "")[:7]): f for f in figures}
    ceiling, model = by[("mcd_dtw", "ceiling")], by[("mcd_dtw", str(out)[:7])]
    assert ceiling["utterances"] == model["utterances"] == 2  # 8 sentences, held_out 0.25
    assert 0 < ceiling["value"] < 100 and 0 < model["value"] < 100
    durations = [f for f in figures if f["figure"] == "duration_error_ms"]
    assert [d["system"].startswith("mean training duration") for d in durations] == [True, False]
    assert durations[0]["phonemes"] == durations[1]["phonemes"] > 10
    assert all(d["one_frame_ms"] == pytest.approx(1000 * 256 / 22050, abs=0.01) for d in durations)
    assert "mel_adversarial weight 0.0" in durations[1]["system"]  # the recipe: no mel GAN
    (speed,) = [
        f
        for f in _bench("speed", "--runs", str(out), "--seconds", "1", "--repeats", "1")
        if f["figure"] == "tts_real_time_factor"
    ]
    assert speed["audio_s"] > 0 and speed["real_time_median"] > 0 and speed["repeats"] == 1
