"""Tiny neural networks as problems for the shared optimizers and runner."""
