"""Compile the kernels the pages run, into numba's disk cache, before a visitor needs them.

On a fresh install an optimizer's compiled path is built the first time a page
runs it: 1-5 s, most of it Python holding the server's interpreter lock, so
every session waits. ``bash scripts/app.sh`` starts ``python -m optimizers.warm``
in its own process beside the server; the server then only loads what it
finds on disk (about 0.5 s for the step loop, milliseconds for each kernel).
Once the cache is full a second start takes a second or two here.

Nothing here imports streamlit.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import landscapes
import optimizers
from common import jit
from optimizers import fused


def warm(*, log: bool = False) -> list[str]:
    """Run every optimizer and every surface that the compiled loop can run, for two steps, on it.

    Each optimizer runs on Rosenbrock and Adam runs on each surface, with one start, as a page's runs do
    (a page's runs and the basin map share these kernels and loop types).

    Parameters
    ----------
    log : bool
        Print one line per job with its time.

    Returns
    -------
    list of str
        ``"optimizer:<name>"`` and ``"surface:<name>"`` for each job compiled (or loaded); empty without numba.
    """
    if not jit.available():
        return []
    done: list[str] = []
    start = np.array([[-1.2, 1.0]])
    rosen = landscapes.get("rosenbrock")
    jobs = [(f"optimizer:{name}", rosen, optimizers.get(name)) for name in optimizers.names()]
    adam = optimizers.get("adam")
    jobs += [(f"surface:{name}", landscapes.get(name), adam) for name in landscapes.names()]
    for what, problem, opt in jobs:
        if fused.unsupported(problem, opt) is not None:
            continue
        t0 = time.perf_counter()
        x0 = np.asarray(getattr(problem, "start", start[0]), dtype=np.float64).reshape(1, 2)
        optimizers.run(problem, opt, x0, 2, backend="fused")
        done.append(what)
        if log:
            print(f"{what}: {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return done


if __name__ == "__main__":
    t = time.perf_counter()
    names = warm(log="-v" in sys.argv[1:])
    print(f"descent-lab: {len(names)} compiled paths ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
