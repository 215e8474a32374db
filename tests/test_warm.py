"""The warm-up that fills numba's disk cache before the first visitor (optimizers.warm).

Reference: numba's own record of what it compiled (each kernel dispatcher's signatures), and the fused backend's
own answer to which jobs it can run (``fused.unsupported``) over the two registries.
"""

from __future__ import annotations

import landscapes
import optimizers
from optimizers import fused
from optimizers.warm import warm


def test_warm_compiles_every_compiled_path_the_registries_have():
    """After warm(), every optimizer and surface the fused loop can run has its kernel compiled in this process."""
    done = warm()
    rosen, adam = landscapes.get("rosenbrock"), optimizers.get("adam")
    want = [f"optimizer:{n}" for n in optimizers.names() if fused.unsupported(rosen, optimizers.get(n)) is None]
    want += [f"surface:{n}" for n in landscapes.names() if fused.unsupported(landscapes.get(n), adam) is None]
    assert done == want
    for name in optimizers.names():
        if f"optimizer:{name}" in done:
            assert type(optimizers.get(name)).kernel.compiled().signatures, name
    for name in landscapes.names():
        if f"surface:{name}" in done:
            assert type(landscapes.get(name)).kernel.compiled().signatures, name
