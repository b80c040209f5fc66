"""genmm video plugin: temporal GANs (TGAN, MoCoGAN) on moving-shapes clips."""
