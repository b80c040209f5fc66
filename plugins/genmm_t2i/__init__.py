"""genmm text-to-image plugin: DF-GAN and AttnGAN's DAMSM on captioned shapes."""
