"""Which slices of a flat parameter vector are which tensors: the layout a problem may declare.

Most optimizers treat θ ``(k, P)`` as P independent coordinates. A few need to
know what the coordinates are: Muon orthogonalizes each hidden weight *matrix*
and hands biases and the output layer to AdamW, as torch's documentation
prescribes. For them a problem declares a :class:`Layout` through a method
``layout()``, and :func:`optimizers.run` passes it to the optimizer's
``bind(layout)`` (:meth:`Optimizer.bind <optimizers.base.Optimizer.bind>`),
which returns the optimizer to run. Optimizers that do not care return
themselves. The step interface stays ``step(params, grads, state)`` on
``(k, P)`` arrays; a bound optimizer reshapes the slices it needs, per run.

A landscape declares no layout: to Muon a 2-D point is then one 1×2 matrix
(see :mod:`optimizers.muon`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HIDDEN_WEIGHT = "hidden weight"
OUTPUT_WEIGHT = "output weight"
BIAS = "bias"
NORM = "norm"
#: What a block is, as per-group optimizers read it.
ROLES: dict[str, str] = {
    HIDDEN_WEIGHT: "The weight matrix of a layer that feeds a hidden layer.",
    OUTPUT_WEIGHT: "The weight matrix of the output layer.",
    BIAS: "A bias vector.",
    NORM: "A batch-normalization scale γ or shift β.",
}
MATRIX_ROLES = (HIDDEN_WEIGHT, OUTPUT_WEIGHT)


@dataclass(frozen=True)
class Block:
    """One named piece of the flat parameter vector.

    Attributes
    ----------
    name : str
        E.g. ``"W1"``, ``"b2"``.
    index : slice
        Where it sits in a row of θ (step 1).
    shape : tuple of int
        Its shape as stored there, row-major: ``(n_in, n_out)`` for a weight matrix
        (the networks compute ``z = a W``), ``(n,)`` for a vector.
    role : str
        A key of :data:`ROLES`.
    out_in : tuple of int, optional
        For a weight matrix, its shape as ``torch.nn.Linear`` stores the same matrix,
        ``(fan_out, fan_in)``: what torch's per-shape rules (Muon's learning-rate
        adjustment) read. ``None`` for a vector.
    """

    name: str
    index: slice
    shape: tuple[int, ...]
    role: str
    out_in: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"block {self.name}: unknown role {self.role!r}; choose one of {', '.join(ROLES)}")
        start, stop, step = self.index.start, self.index.stop, self.index.step
        if start is None or stop is None or step not in (None, 1) or not 0 <= start <= stop:
            raise ValueError(f"block {self.name}: index must be a slice(start, stop) with 0 <= start <= stop")
        if math.prod(self.shape) != stop - start:
            raise ValueError(f"block {self.name}: shape {self.shape} holds {math.prod(self.shape)} numbers, "
                             f"its slice {stop - start}")
        if (self.role in MATRIX_ROLES) != (len(self.shape) == 2):
            raise ValueError(f"block {self.name}: a {self.role} must be {'a matrix' if self.role in MATRIX_ROLES else 'a vector'}, "
                             f"got shape {self.shape}")
        if self.out_in is not None and math.prod(self.out_in) != math.prod(self.shape):
            raise ValueError(f"block {self.name}: out_in {self.out_in} does not match shape {self.shape}")

    @property
    def size(self) -> int:
        """How many numbers it holds."""
        return self.index.stop - self.index.start


@dataclass(frozen=True)
class Layout:
    """The blocks of a flat parameter vector of length ``n_params``, each coordinate in exactly one block.

    Raises
    ------
    ValueError
        When the blocks overlap, leave a coordinate out or run past ``n_params``.
    """

    blocks: tuple[Block, ...]
    n_params: int

    def __post_init__(self) -> None:
        seen = np.zeros(self.n_params, dtype=np.int64)
        for b in self.blocks:
            if b.index.stop > self.n_params:
                raise ValueError(f"block {b.name} ends at {b.index.stop}, past the {self.n_params} parameters")
            seen[b.index] += 1
        if self.n_params and (seen != 1).any():
            where = int(np.flatnonzero(seen != 1)[0])
            raise ValueError(f"every parameter must be in exactly one block; parameter {where} is in {int(seen[where])}")

    def of_role(self, *roles: str) -> tuple[Block, ...]:
        """The blocks with one of ``roles``, in order."""
        return tuple(b for b in self.blocks if b.role in roles)

    def indices(self, blocks: Sequence[Block]) -> np.ndarray:
        """The positions ``(n,)`` of ``blocks`` in a row of θ, in order."""
        parts = [np.arange(b.index.start, b.index.stop) for b in blocks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def describe(self) -> str:
        """One line, e.g. ``"W1 4×8 hidden weight, b1 8 bias, …"``."""
        return ", ".join(f"{b.name} {'×'.join(map(str, b.shape))} {b.role}" for b in self.blocks)


def bind(optimizer: object, layout: Layout | None) -> object:
    """``optimizer.bind(layout)`` when both exist, else the optimizer unchanged.

    Raises
    ------
    ValueError
        From ``bind``, e.g. when the layout does not fit the optimizer.
    """
    method = getattr(optimizer, "bind", None)
    return optimizer if layout is None or method is None else method(layout)
