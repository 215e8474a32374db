"""Tiny neural networks as problems for the shared optimizers and runner.

>>> import nets, optimizers
>>> prob = nets.problem("xor", hidden=(4,), activation="tanh")
>>> traj = nets.train(prob, optimizers.get("adam", lr=0.05), epochs=500, k=20)
>>> nets.diagnose(traj, prob)  # doctest: +SKIP

Regression: ``nets.problem("sine", hidden=(8,))`` fits float targets with an
identity output and MSE and records R² (``train_r2``) where classification
records accuracy; :func:`fit_grid` gives the fitted curve for a page.
``batch_norm=True`` batch-normalizes the hidden layers.

Add a dataset: one function returning a :class:`~nets.datasets.Dataset` and
one line in ``nets.datasets.DATASETS``; the page lists it from the registry.
"""

from __future__ import annotations

from nets.boundary import BoundaryGrid, FitGrid, boundary_grid, fit_grid
from nets.datasets import DATASETS, Dataset, DatasetEntry, Split, load
from nets.datasets import make as make_dataset
from nets.mlp import ACTIVATIONS, BN_EPS, INITS, LOSSES, MAX_LAYERS, MAX_WIDTH, MLP, OUTPUTS, SATURATION_MARGIN
from nets.problem import MAX_EPOCHS, MAX_SEEDS, MAX_STEPS, OUTPUT_CHOICES, SPECS, NetProblem, problem, r2_scores
from nets.sharpness import hessian_vector_products, sharpness, sharpness_along
from nets.slices import Slice2D, interpolate_1d, slice_2d
from nets.train import diagnose, epochs_of, train


def datasets() -> list[str]:
    """Registered dataset names, in display order."""
    return list(DATASETS)


__all__ = [
    "ACTIVATIONS",
    "BN_EPS",
    "DATASETS",
    "INITS",
    "LOSSES",
    "MAX_EPOCHS",
    "MAX_LAYERS",
    "MAX_SEEDS",
    "MAX_STEPS",
    "MAX_WIDTH",
    "MLP",
    "OUTPUTS",
    "OUTPUT_CHOICES",
    "SATURATION_MARGIN",
    "SPECS",
    "BoundaryGrid",
    "Dataset",
    "DatasetEntry",
    "FitGrid",
    "NetProblem",
    "Slice2D",
    "Split",
    "boundary_grid",
    "datasets",
    "diagnose",
    "epochs_of",
    "fit_grid",
    "hessian_vector_products",
    "interpolate_1d",
    "load",
    "make_dataset",
    "problem",
    "r2_scores",
    "sharpness",
    "sharpness_along",
    "slice_2d",
    "train",
]
