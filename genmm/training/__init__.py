"""Training: the run, trainers, the generic GAN trainer, optimisation, checkpoints, the loop."""

from genmm.training.gan import GANTrainer, fetch_batch, unpack
from genmm.training.optim import Optimization, lazy_adjusted
from genmm.training.run import Run, generate, sample_latent
from genmm.training.trainer import Trainer

__all__ = [
    "GANTrainer",
    "Optimization",
    "Run",
    "Trainer",
    "fetch_batch",
    "generate",
    "lazy_adjusted",
    "sample_latent",
    "unpack",
]
