"""genmm_image: image GANs (DCGAN, cGAN, InfoGAN, WGAN-GP/LSGAN, StyleGAN2) and image metrics."""
