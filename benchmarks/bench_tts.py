"""Text-to-speech quality and speed of a trained run (``recipes/speech.yaml``), one JSON line each.

    python benchmarks/bench_tts.py quality --runs runs/speech runs/speech_nogan [--png P]
    python benchmarks/bench_tts.py speed --runs runs/speech

``quality``: on the run's held-out utterances of the built-in corpus (espeak-ng's rendering of
each sentence in its voice, never trained on), each acoustic model speaks the sentence's
phonemes in the utterance's voice with its own predicted durations, pitch and energy; the
vocoder (``--vocoder``'s run, default the first run) turns the mel into a waveform, which is
compared with espeak-ng's along the dynamic-time-warping path of their mel-cepstra
(:func:`genmm_audio.measures.aligned_figures`): MCD with DTW (dB), F0 RMSE (Hz and cents) and
V/UV error (``--png``: the log-mels of the first held-out sentence, the recording's above each
model's). Beside them, measured the same way:

* ``ceiling``: the same vocoder on the recording's own mel (the best the acoustic model can get
  through this vocoder: the issue's target is an MCD within 1.5 dB of it);
* the same acoustic model given the recording's durations, pitch and energy (teacher forcing,
  as in training): how much of the distance the variance predictors add;
* ``duration_error_ms``: mean absolute error of the predicted frames per phoneme against the
  corpus's own phoneme timings (one frame is 256 / 22,050 s = 11.6 ms), beside the non-learned
  baseline that gives every phoneme its mean training duration (per phoneme symbol).

``speed``: text to waveform end to end (normalisation, espeak-ng phonemes, acoustic model,
vocoder) of a text whose speech lasts about ``--seconds`` (10), timed with the interleaved
harness (warm-up, ``--repeats`` runs, median and minimum): the real-time factor.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from harness import emit, interleaved, load_warning


def load_run(folder: str, build_data: bool = True):
    import genmm

    return genmm.load(folder, build_data=build_data)


def speaker_for(run):
    from genmm_audio.writers import _Speaker

    return _Speaker(run, run.writer.frontend, "model")


def mean_duration_baseline(dataset) -> dict[int, float]:
    """Frames per phoneme symbol, averaged over the training utterances."""
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for index in range(dataset.train_count):
        for phoneme, frames in zip(dataset.phonemes[index].tolist(), dataset.durations[index]):
            sums[phoneme] = sums.get(phoneme, 0.0) + float(frames)
            counts[phoneme] = counts.get(phoneme, 0) + 1
    return {phoneme: sums[phoneme] / counts[phoneme] for phoneme in sums}


def quality(folders: list[str], vocoder_folder: str | None, png: str | None = None) -> None:
    from genmm_audio.measures import aligned_figures

    vocoder_run = load_run(vocoder_folder or folders[0])
    speaker = speaker_for(vocoder_run)
    dataset = vocoder_run.dataset
    rate, hop = dataset.frontend.sample_rate, dataset.frontend.hop
    frame_ms = 1000.0 * hop / rate
    held_out = range(dataset.train_count, len(dataset.audio))
    references = {i: dataset.audio[i][: dataset.mels[i].shape[-1] * hop].numpy() for i in held_out}
    ceiling = [
        aligned_figures(references[i], speaker(dataset.mels[i]).numpy(), rate) for i in held_out
    ]
    emit_figures("ceiling (vocoder on the recording's mel)", vocoder_folder or folders[0], ceiling)
    means = mean_duration_baseline(dataset)
    overall = statistics.fmean(means.values())
    errors = [
        abs(means.get(p, overall) - float(d))
        for i in held_out
        for p, d in zip(dataset.phonemes[i].tolist(), dataset.durations[i])
    ]
    emit(
        figure="duration_error_ms",
        system="mean training duration per phoneme (non-learned baseline)",
        value=round(frame_ms * statistics.fmean(errors), 2),
        one_frame_ms=round(frame_ms, 2),
        phonemes=len(errors),
    )
    first = held_out[0]
    panels = [(f"espeak-ng's recording (held-out {dataset.ids[first]})", dataset.mels[first])]
    for folder in folders:
        same = folder == (vocoder_folder or folders[0])
        run = vocoder_run if same else load_run(folder, build_data=False)
        model = run.sampling_model("acoustic").eval()
        rows, forced, errors = [], [], []
        with torch.inference_mode():
            for i in held_out:
                item = dataset.utterance(i)
                phonemes, voice = item["phonemes"][None], item["speaker"][None]
                outputs = model(phonemes, speaker=voice)
                predicted = outputs["durations"][0].float()
                errors += (predicted - item["durations"].float()).abs().tolist()
                audio = speaker(outputs["mel"][0].float()).numpy()
                rows.append(aligned_figures(references[i], audio, rate))
                if png and i == held_out[0]:
                    panels.append((f"{Path(folder).name}: predicted", outputs["mel"][0].float()))
                truth = {k: item[k][None] for k in ("durations", "pitch", "energy")}
                audio = speaker(model(phonemes, speaker=voice, **truth)["mel"][0].float()).numpy()
                forced.append(aligned_figures(references[i], audio, rate))
        weight = run.recipe["losses"].get("mel_adversarial", {}).get("weight")
        emit(
            figure="duration_error_ms",
            system=f"{folder} (mel_adversarial weight {weight})",
            value=round(frame_ms * statistics.fmean(errors), 2),
            one_frame_ms=round(frame_ms, 2),
            phonemes=len(errors),
            step=run.step,
        )
        emit_figures(f"{folder} (mel_adversarial weight {weight})", folder, rows, step=run.step)
        system = f"{folder} (mel_adversarial weight {weight}), the true durations, pitch, energy"
        emit_figures(system, folder, forced, step=run.step)
    if png:
        written = vocoder_run.writer.spectrogram(panels, Path(png), dataset.frontend)
        emit(figure="spectrogram_png", path=png if written or Path(png).exists() else None)


def emit_figures(system: str, folder: str, rows: list[dict[str, float]], **extra) -> None:
    for key in rows[0]:
        values = [row[key] for row in rows if np.isfinite(row[key])]
        emit(
            figure=key,
            system=system,
            value=round(statistics.fmean(values), 3) if values else None,
            utterances=len(values),
            run=folder,
            **extra,
        )


def long_text(root: Path, words: int) -> str:
    """Held-out-like prose: the corpus's sentences joined until ``words`` words."""
    with open(root / "metadata.csv", encoding="utf-8") as handle:
        sentences = [row[1] for row in csv.reader(handle, delimiter="|") if len(row) > 1]
    text: list[str] = []
    for sentence in reversed(sentences):  # the last ones are the held-out ones
        if sum(len(s.split()) for s in text) >= words:
            break
        text.append(sentence)
    return " ".join(text)


def speed(folder: str, seconds: float, repeats: int) -> None:
    from genmm_audio.writers import text_to_mel

    run = load_run(folder)
    speaker = speaker_for(run)
    rate = run.writer.frontend.sample_rate
    root = Path(run.recipe["data"]["root"])
    words = 25
    while True:  # about 2.5 words a second: lengthen the text until it speaks for `seconds`
        text = long_text(root, words)
        mel, _ = text_to_mel(run, text)
        spoken = mel.shape[-1] * run.writer.frontend.hop / rate
        if spoken >= seconds or words > 400:
            break
        words = int(words * seconds / max(spoken, 0.5)) + 1

    def end_to_end() -> None:
        with torch.inference_mode():
            speaker(text_to_mel(run, text)[0])

    stats = interleaved({"text_to_wav": end_to_end}, repeats=repeats)["text_to_wav"]
    emit(
        figure="tts_real_time_factor",
        run=folder,
        audio_s=round(spoken, 2),
        words=len(text.split()),
        median_s=round(stats["median"], 3),
        min_s=round(stats["min"], 3),
        real_time_median=round(spoken / stats["median"], 1),
        real_time_best=round(spoken / stats["min"], 1),
        repeats=repeats,
        threads=torch.get_num_threads(),
        warning=load_warning(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["quality", "speed"])
    parser.add_argument(
        "--runs", nargs="+", default=["runs/speech"], help="trained text-to-speech runs"
    )
    parser.add_argument("--vocoder", default=None, help="quality: the run whose vocoder speaks")
    parser.add_argument("--png", default=None, help="quality: log-mels of one held-out sentence")
    parser.add_argument("--seconds", type=float, default=10.0, help="speed: utterance length")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    if args.what == "quality":
        quality(args.runs, args.vocoder, args.png)
    else:
        speed(args.runs[0], args.seconds, args.repeats)
    emit(figure="bench_tts_wall_s", value=round(time.perf_counter() - started, 1))


if __name__ == "__main__":
    sys.exit(main())
