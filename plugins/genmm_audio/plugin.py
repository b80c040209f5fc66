"""Hook implementations of the audio plugin (vocoders, the text-to-mel model, speech data,
metrics, writer)."""

from __future__ import annotations

from pathlib import Path

import genmm
from genmm_audio import metrics
from genmm_audio.acoustic import FastSpeech2, MelDiscriminator
from genmm_audio.data import SpeechDataset, espeak_corpus
from genmm_audio.discriminator import MultiScaleDiscriminator, PeriodResolutionDiscriminator
from genmm_audio.generator import MelGANGenerator
from genmm_audio.losses import MelL1Loss, MultiResolutionSTFTLoss
from genmm_audio.trainer import GeneratorPretraining
from genmm_audio.tts_data import TTSDataset, tts_corpus
from genmm_audio.tts_losses import FastSpeech2Loss
from genmm_audio.tts_trainer import AcousticTrainer
from genmm_audio.vocos import VocosGenerator
from genmm_audio.writers import WavWriter

MELGAN = "Kumar et al. 2019, MelGAN (NeurIPS)"
VOCOS = "Siuzdak 2024, Vocos (ICLR)"
FASTSPEECH2 = "Ren et al. 2021, FastSpeech 2 (ICLR)"


@genmm.hookimpl
def genmm_register_datasets(register):
    register("audio.speech", SpeechDataset, about="LJSpeech-layout folder or folder of wav/flac")
    register("audio.espeak_corpus", espeak_corpus, about="built-in corpus rendered by espeak-ng")
    register("audio.tts", TTSDataset, about="speech with per-phoneme timings, for text to speech")
    register("audio.tts_corpus", tts_corpus, about="built-in espeak-ng corpus, several voices, TTS")


@genmm.hookimpl
def genmm_register_models(register):
    register("audio.melgan_generator", MelGANGenerator, paper=MELGAN)
    register("audio.melgan_msd", MultiScaleDiscriminator, paper=MELGAN)
    register("audio.vocos_generator", VocosGenerator, paper=VOCOS)
    register(
        "audio.mpd_mrd",
        PeriodResolutionDiscriminator,
        paper="Kong et al. 2020 (HiFi-GAN MPD); Jang et al. 2021 (UnivNet MRD)",
    )
    register("audio.fastspeech2", FastSpeech2, paper=FASTSPEECH2)
    register("audio.mel_discriminator", MelDiscriminator, paper="Yang et al. 2021 (GANSpeech)")


@genmm.hookimpl
def genmm_register_losses(register):
    register("audio.mrstft", MultiResolutionSTFTLoss, paper="Yamamoto et al. 2020")
    register("audio.mel_l1", MelL1Loss, paper="Kong et al. 2020 (HiFi-GAN)")
    register("audio.fastspeech2_loss", FastSpeech2Loss, paper=FASTSPEECH2)


@genmm.hookimpl
def genmm_register_trainers(register):
    register("audio.pretrain", GeneratorPretraining, paper="Yang et al. 2021; Yamamoto 2020")
    register("audio.acoustic", AcousticTrainer, paper=f"{FASTSPEECH2}; Yang et al. 2021")


@genmm.hookimpl
def genmm_register_metrics(register):
    register("audio.quality", metrics.VocoderQuality)
    register("audio.mel_l1", metrics.MelL1)
    register("audio.mrstft", metrics.MRSTFTDistance)
    register("audio.stoi", metrics.STOI, paper="Taal et al. 2011")
    register("audio.pesq", metrics.PESQ, paper="ITU-T P.862.2")
    register("audio.speed", metrics.Speed)
    register("audio.mcd", metrics.MCD, paper="Kubichek 1993")
    register("audio.f0", metrics.F0, paper="de Cheveigné & Kawahara 2002 (YIN)")
    register("audio.mrstft_off", metrics.MRSTFTOff, paper="Yamamoto et al. 2020")


@genmm.hookimpl
def genmm_register_writers(register):
    register("audio.wav", WavWriter)


@genmm.hookimpl
def genmm_recipe_folders():
    return [Path(__file__).resolve().parent / "recipes"]
