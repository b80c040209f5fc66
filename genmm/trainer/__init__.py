"""Training: the run, phases, the generic GAN trainer, checkpoints and the loop."""

from genmm.trainer.gan import GANTrainer, generate, sample_latent, unpack
from genmm.trainer.phase import Phase
from genmm.trainer.run import Run

__all__ = ["GANTrainer", "Phase", "Run", "generate", "sample_latent", "unpack"]
