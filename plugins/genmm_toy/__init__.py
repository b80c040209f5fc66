"""genmm_toy: 2-D Gaussian mixtures and an MLP GAN, the core's own end-to-end proof."""
