"""Training objectives and the shared training loop."""
