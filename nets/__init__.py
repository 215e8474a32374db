"""Tiny neural networks as problems for the shared optimizers and runner.

>>> import nets, optimizers
>>> prob = nets.problem("xor", hidden=(4,), activation="tanh")
>>> traj = nets.train(prob, optimizers.get("adam", lr=0.05), epochs=500, k=20)
>>> nets.diagnose(traj, prob)  # doctest: +SKIP

Add a dataset: one function returning a :class:`~nets.datasets.Dataset` and
one line in ``nets.datasets.DATASETS``; the page lists it from the registry.
"""

from __future__ import annotations

from nets.boundary import BoundaryGrid, boundary_grid
from nets.datasets import DATASETS, Dataset, DatasetEntry, Split, load
from nets.datasets import make as make_dataset
from nets.mlp import ACTIVATIONS, INITS, LOSSES, MAX_LAYERS, MAX_WIDTH, MLP, OUTPUTS, SATURATION_MARGIN
from nets.problem import MAX_EPOCHS, MAX_SEEDS, MAX_STEPS, SPECS, NetProblem, problem
from nets.sharpness import hessian_vector_products, sharpness, sharpness_along
from nets.slices import Slice2D, interpolate_1d, slice_2d
from nets.train import diagnose, epochs_of, train


def datasets() -> list[str]:
    """Registered dataset names, in display order."""
    return list(DATASETS)


__all__ = [
    "ACTIVATIONS",
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
    "SATURATION_MARGIN",
    "SPECS",
    "BoundaryGrid",
    "Dataset",
    "DatasetEntry",
    "NetProblem",
    "Slice2D",
    "Split",
    "boundary_grid",
    "datasets",
    "diagnose",
    "epochs_of",
    "hessian_vector_products",
    "interpolate_1d",
    "load",
    "make_dataset",
    "problem",
    "sharpness",
    "sharpness_along",
    "slice_2d",
    "train",
]
