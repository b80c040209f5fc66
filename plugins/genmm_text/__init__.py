"""genmm_text: SeqGAN (Yu et al., AAAI 2017) with batched Monte Carlo rollouts, the synthetic
oracle benchmark, text corpora with trained tokenizers, and text generation."""
