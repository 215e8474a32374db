"""Issue 8's jobs: tuning maps through ``optimizers.sweep``, side by side with JAX.

``adam 64×64``
    A 64 × 64 grid of (lr, β₁), 4,096 settings, × 500 Adam steps on Rosenbrock
    from one start, through ``optimizers.sweep`` (one batch of 4,096 runs with
    per-run hyperparameters, compiled backend), against the same job in JAX:
    ``vmap`` over both hyperparameters, ``jit``, ``lax.scan``, float64. Compile
    times (numba's first load, JAX's trace) are shown apart and excluded.
``four maps``
    The surfaces page's case: a 64 × 64 map for each of gd, momentum, rmsprop and
    adam, 500 steps. GD has no second knob, so its map is 64 lrs × 16 starts.
``networks``
    An lr sweep of 16 values × 5 seeds of the Iris 4-16-3 tanh net × 200 full-batch
    epochs (numpy loop: 80 networks as one batch).

Same-work checks: the sweep's final values against single runs of a few cells
(bit for bit) and against JAX on every run that neither stopped early nor diverged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import landscapes
import nets
import optimizers
from benchmarks._timing import Goal, best_of, interleaved
from benchmarks.bench_core import jax_adam

STEPS = 500
START = (-1.2, 1.0)
LRS = np.geomspace(1e-4, 1.0, 64)
BETA1 = np.linspace(0.0, 0.99, 64)
KNOBS = {"gd": None, "momentum": ("momentum", np.linspace(0.0, 0.99, 64)), "rmsprop": ("alpha", np.linspace(0.5, 0.999, 64)),
         "adam": ("beta1", BETA1)}


def ours(f: Any) -> optimizers.Sweep:
    """The Adam map through the public API."""
    return optimizers.sweep(f, "adam", {"lr": LRS, "beta1": BETA1}, np.array([START]), STEPS)


def jax_job(steps: int, a: float = 1.0, b: float = 100.0) -> Any:
    """A jitted ``(lrs (n1,), beta1s (n2,), start (2,)) -> (n1, n2) final values`` for the same Adam job."""
    import jax
    import jax.numpy as jnp

    final, rosen = jax_adam(steps, a, b)

    def one(lr, b1, p0):
        return rosen(final(lr, b1, p0))

    compiled = jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, 0, None)), in_axes=(0, None, None)))

    def call(lrs: np.ndarray, b1s: np.ndarray, start: np.ndarray) -> np.ndarray:
        out = compiled(jnp.asarray(lrs), jnp.asarray(b1s), jnp.asarray(start, dtype=jnp.float64))
        out.block_until_ready()
        return np.asarray(out)

    return call


def four_maps(f: Any) -> dict[str, optimizers.Sweep]:
    """A 64 × 64 map per optimizer (GD: 64 lrs × 16 starts), as the surfaces page would ask for them."""
    out = {}
    for name, knob in KNOBS.items():
        if knob is None:
            (x0, x1), (y0, y1) = f.bounds
            X, Y = np.meshgrid(np.linspace(x0, x1, 4), np.linspace(y0, y1, 4))
            starts = np.stack([X.ravel(), Y.ravel()], 1)
            out[name] = optimizers.sweep(f, name, {"lr": LRS}, starts, STEPS)
        else:
            out[name] = optimizers.sweep(f, name, {"lr": LRS, knob[0]: knob[1]}, np.array([START]), STEPS)
    return out


def nets_job() -> tuple[Any, Any]:
    """The networks lr sweep: ``(call, problem)``."""
    prob = nets.problem("iris", hidden=(16,), activation="tanh")
    theta = prob.init_seeds(list(range(5)))
    lrs = np.geomspace(1e-3, 1.0, 16)
    return (lambda: optimizers.sweep(prob, "adam", {"lr": lrs}, theta, 200)), prob


def run(quick: bool = False) -> dict[str, Any]:
    """Time the three sweep jobs; return figures, checks and goals."""
    f = landscapes.get("rosenbrock")
    repeats = 3 if quick else 7
    jax_call = jax_job(STEPS)
    start = np.array(START)
    t_jax_compile, _ = best_of(lambda: jax_call(LRS, BETA1, start), 1)
    t_first, _ = best_of(lambda: four_maps(f), 1)  # compiles or loads every kernel signature
    times, results = interleaved({"ours": lambda: ours(f), "jax": lambda: jax_call(LRS, BETA1, start)}, repeats)
    sw, jx = results["ours"], results["jax"]
    t_maps, maps = best_of(lambda: four_maps(f), max(1, repeats // 2))
    nets_call, _ = nets_job()
    nets_call()
    t_nets, nsw = best_of(nets_call, 2 if quick else 3)

    # Same work: a few cells against single runs (bit for bit), and every comparable run against JAX.
    cells = [(0, 0), (10, 40), (32, 32), (50, 5), (63, 63)]
    singles_equal = all(
        np.array_equal(
            optimizers.run(f, optimizers.get("adam", lr=float(LRS[i]), beta1=float(BETA1[j])), start[None], STEPS,
                           record_end_only=True, grad_tol=sw.tol, x_tol=sw.tol).final_values,
            sw.final_values[i, j])
        for i, j in cells)
    ran_through = (sw.status[..., 0] == "max steps") & np.isfinite(jx)
    rel = np.abs(sw.final_values[..., 0] - jx) / np.maximum(np.abs(jx), 1e-300)
    checks = {
        "cells_equal_single_runs": bool(singles_equal),
        "runs_compared_with_jax": int(ran_through.sum()),
        "runs_within_1e-9_rel_of_jax": int((rel[ran_through] <= 1e-9).sum()),
        "max_rel_diff_jax": float(rel[ran_through].max()) if ran_through.any() else float("nan"),
        "adam_status_counts": {s: int(c) for s, c in zip(*np.unique(sw.status, return_counts=True), strict=True)},
        "map_runs": {n: int(m.status.size) for n, m in maps.items()},
        "nets_final_loss_median_by_lr": [round(float(x), 4) for x in np.median(nsw.final_values, axis=1)],
    }
    ratio = times["ours"] / times["jax"]
    return {
        "rows": [
            {"name": "adam 64×64 (lr × β₁) × 500 steps, optimizers.sweep", "seconds": times["ours"]},
            {"name": "adam 64×64 × 500 steps, jax (vmap², jit, scan, f64)", "seconds": times["jax"]},
            {"name": "jax trace + compile (excluded)", "seconds": t_jax_compile},
            {"name": "first four maps, kernels compiled or loaded (excluded)", "seconds": t_first},
            {"name": "four 64×64 maps (gd 64 lr × 16 starts, momentum, rmsprop, adam)", "seconds": t_maps},
            {"name": "networks: Iris 4-16-3, 16 lrs × 5 seeds × 200 epochs", "seconds": t_nets},
        ],
        "ratios": [{"name": "adam 64×64 map: ours / jax", "value": ratio}],
        "checks": checks,
        "goals": [
            Goal("adam 64×64 × 500 map: within 1.5× of JAX", ratio, 1.5, "<=").as_dict(),
            Goal("four 64×64 maps, total", t_maps, 2.0, "<=", unit=" s").as_dict(),
            Goal("networks lr sweep 16 × 5 seeds × 200 epochs", t_nets, 2.0, "<=", unit=" s").as_dict(),
        ],
    }
