"""genmm-swissroll: an outside genmm plugin."""
