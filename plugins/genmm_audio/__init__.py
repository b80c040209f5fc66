"""genmm_audio: MelGAN speech vocoder, the built-in espeak-ng speech corpus, metrics."""
