"""Issue 2's job: a basin map of 10,000 starts × 500 Adam steps on Rosenbrock.

Four ways of doing the same work, timed side by side in one process:

``ours``
    ``optimizers.run`` with all 10,000 starts as one ``(k, 2)`` batch (end-only
    recording, which is what a basin map needs). At this size ``run`` takes its
    fused backend (``optimizers.fused``: numba kernels, one thread per block of
    runs); the first call compiles or loads the kernels, and that time is shown
    apart and excluded, as JAX's compile is.
``ours, numpy backend``
    The same call with ``backend="numpy"``: the array loop every problem can use.
``python loop``
    The same ``Adam.step`` and ``Rosenbrock.value_and_grad`` driven one start
    at a time on ``(1, 2)`` arrays. Timed on an evenly spread subset of starts
    and scaled linearly to 10,000 (each start is the same amount of work).
``torch, one start at a time``
    ``torch.optim.Adam`` on one 2-vector per start, the way existing optimizer
    visualizers loop. Also a scaled subset.
``jax``
    The job compiled with ``jit`` + ``vmap`` + ``lax.scan`` in float64
    (``jax_enable_x64``). Compile time is excluded and reported apart.

Before timing counts, the final points are compared: the numpy backend and the
loop must equal ours bit for bit, torch and JAX must agree to ~1e-9, so all
did the same work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import landscapes
import optimizers
from benchmarks._timing import Goal, best_of, interleaved

N_GRID = 100  # 100 × 100 = 10,000 starts
STEPS = 500
LR = 0.01
SMALL_K = 3  # the app's case: a few starts, every step recorded


def grid_starts(landscape: Any, n: int = N_GRID) -> np.ndarray:
    """``(n*n, 2)`` starts on a regular grid over the landscape's view window."""
    (x0, x1), (y0, y1) = landscape.bounds
    X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def ours(landscape: Any, starts: np.ndarray, steps: int, backend: str = "auto") -> optimizers.Trajectory:
    """The basin map through the shared runner."""
    return optimizers.run(landscape, optimizers.get("adam", lr=LR), starts, steps, record_end_only=True,
                          backend=backend)


def python_loop(landscape: Any, starts: np.ndarray, steps: int) -> np.ndarray:
    """The same step code, one start at a time on ``(1, 2)`` arrays; ``(n, 2)`` final points."""
    opt = optimizers.get("adam", lr=LR)
    out = np.empty_like(starts)
    with np.errstate(all="ignore"):
        for i, start in enumerate(starts):
            p = start[None, :]
            state = opt.init(p)
            _, g = landscape.value_and_grad(p)
            for _ in range(steps):
                p, state = opt.step(p, g, state)
                _, g = landscape.value_and_grad(p)
            out[i] = p[0]
    return out


def torch_loop(starts: np.ndarray, steps: int, a: float = 1.0, b: float = 100.0) -> np.ndarray:
    """``torch.optim.Adam`` one start at a time, float64; ``(n, 2)`` final points."""
    import torch

    out = np.empty_like(starts)
    for i, start in enumerate(starts):
        x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([x], lr=LR)
        for _ in range(steps):
            opt.zero_grad()
            loss = (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2
            loss.backward()
            opt.step()
        out[i] = x.detach().numpy()
    return out


def _jax_rosen_grad(a: float, b: float) -> Any:
    """Rosenbrock's gradient of a point ``(2,)`` in JAX, written out as the surface's formula writes it."""
    import jax.numpy as jnp

    def grad(p):
        r = p[1] - p[0] * p[0]
        return jnp.stack([-2.0 * (a - p[0]) - 4.0 * b * p[0] * r, 2.0 * b * r])

    return grad


def jax_adam(steps: int, a: float = 1.0, b: float = 100.0) -> tuple[Any, Any]:
    """``(final(lr, b1, p0), rosen)``: Adam on Rosenbrock in JAX (``lax.scan``), not yet vmapped or jitted.

    ``final`` returns the point ``(2,)`` after ``steps`` steps from ``p0``; the gradient is written as the
    landscape writes it, so rounding matches. The basin map (here) and the tuning map (bench_sweep) vmap it.
    """
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    b2, eps = 0.999, 1e-8

    def rosen(p):
        return (a - p[0]) ** 2 + b * (p[1] - p[0] ** 2) ** 2

    grad = _jax_rosen_grad(a, b)

    def final(lr, b1, p0):
        def body(carry, t):
            p, m, v = carry
            g = grad(p)
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * g * g
            denom = jnp.sqrt(v) / jnp.sqrt(1.0 - b2**t) + eps
            p = p - lr * (m / ((1.0 - b1**t) * denom))
            return (p, m, v), None

        zeros = jnp.zeros_like(p0)
        (p, _, _), _ = jax.lax.scan(body, (p0, zeros, zeros), jnp.arange(1, steps + 1, dtype=jnp.float64))
        return p

    return final, rosen


def jax_job(steps: int, a: float = 1.0, b: float = 100.0) -> Any:
    """A jitted ``(n, 2) -> ((n, 2) final points, (n,) final values)`` for the same Adam job."""
    import jax
    import jax.numpy as jnp

    final, rosen = jax_adam(steps, a, b)

    def one_start(p0):
        p = final(LR, 0.9, p0)
        return p, rosen(p)

    compiled = jax.jit(jax.vmap(one_start))

    def call(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, v = compiled(jnp.asarray(starts, dtype=jnp.float64))
        p.block_until_ready()
        return np.asarray(p), np.asarray(v)

    return call


#: The per-run optimizers of issue 10 timed on the same basin map, with their learning rates.
ZOO_LR = {"prodigy": 1.0, "shampoo": 0.01}


def jax_prodigy(steps: int, lr: float, a: float = 1.0, b: float = 100.0) -> Any:
    """``final(p0)``: Prodigy at prodigyopt's defaults on Rosenbrock in JAX (``lax.scan``), the point after ``steps``.

    d, its running sums and the step are per start (vmapped), as ours keeps them per run.
    """
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    b1, b2, d0, eps = 0.9, 0.999, 1e-6, 1e-8
    b3 = b2**0.5
    _, rosen = jax_adam(steps, a, b)

    grad = _jax_rosen_grad(a, b)

    def final(p0):
        def body(carry, _):
            p, m, v, s, d, d_max, num = carry
            g = grad(p)
            dlr = d * lr
            delta = (d / d0) * dlr * jnp.dot(g, p0 - p)
            m = m * b1 + g * (d * (1.0 - b1))
            v = v * b2 + g * g * (d * d * (1.0 - b2))
            s = s * b3 + g * ((d / d0) * dlr)
            denom = jnp.sum(jnp.abs(s))
            live = denom != 0
            num_new = num * b3 + delta
            d_hat = num_new / jnp.where(live, denom, 1.0)
            d_max_new = jnp.maximum(d_max, d_hat)
            d_new = jnp.minimum(d_max_new, jnp.where(d == d0, jnp.maximum(d, d_hat), d) * jnp.inf)
            d_next = jnp.where(live, d_new, d)
            step = d * (m / (jnp.sqrt(v) + d_next * eps))
            p = p - lr * jnp.where(live, step, 0.0)
            return (p, m, v, s, d_next, jnp.where(live, d_max_new, d_max), jnp.where(live, num_new, num)), None

        z = jnp.zeros_like(p0)
        init = (p0, z, z, z, jnp.asarray(d0), jnp.asarray(d0), jnp.asarray(0.0))
        return jax.lax.scan(body, init, None, length=steps)[0][0]

    return final, rosen


def jax_shampoo(steps: int, lr: float, a: float = 1.0, b: float = 100.0) -> Any:
    """``final(p0)``: Shampoo on a 2-vector (full-matrix AdaGrad, ``H^(−1/2) g``, H = εI + Σ g gᵀ) in JAX, the 2 × 2
    inverse square root by its closed form ``(H + √det I)⁻¹ √(tr + 2√det)``."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    eps = 1e-6
    _, rosen = jax_adam(steps, a, b)

    grad = _jax_rosen_grad(a, b)

    def final(p0):
        def body(carry, _):
            p, h00, h01, h11 = carry
            g = grad(p)
            h00, h01, h11 = h00 + g[0] * g[0], h01 + g[0] * g[1], h11 + g[1] * g[1]
            root_det = jnp.sqrt(h00 * h11 - h01 * h01)
            scale = 1.0 / (root_det * jnp.sqrt(h00 + h11 + 2.0 * root_det))
            u = jnp.stack([(h11 + root_det) * g[0] - h01 * g[1], -h01 * g[0] + (h00 + root_det) * g[1]]) * scale
            return (p - lr * u, h00, h01, h11), None

        return jax.lax.scan(body, (p0, jnp.asarray(eps), jnp.asarray(0.0), jnp.asarray(eps)), None, length=steps)[0][0]

    return final, rosen


def _jax_map(maker: Any, steps: int, lr: float) -> Any:
    """A jitted ``(n, 2) -> (n, 2)`` final points of ``maker``'s optimizer from each start."""
    import jax
    import jax.numpy as jnp

    final, _ = maker(steps, lr)
    compiled = jax.jit(jax.vmap(final))

    def call(starts: np.ndarray) -> np.ndarray:
        out = compiled(jnp.asarray(starts, dtype=jnp.float64))
        out.block_until_ready()
        return np.asarray(out)

    return call


def zoo(f: Any, starts: np.ndarray, repeats: int) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Issue 10: the basin map with Prodigy and Shampoo (per-run point rules), fused against numpy and JAX."""
    rows: list[dict] = []
    ratios: list[dict] = []
    checks: dict[str, Any] = {}
    makers = {"prodigy": jax_prodigy, "shampoo": jax_shampoo}
    for name, lr in ZOO_LR.items():
        def job(backend: str, name: str = name, lr: float = lr) -> optimizers.Trajectory:
            return optimizers.run(f, optimizers.get(name, lr=lr), starts, STEPS, record_end_only=True, backend=backend)

        jax_call = _jax_map(makers[name], STEPS, lr)
        t_compile, _ = best_of(lambda jax_call=jax_call: jax_call(starts), 1)
        t_first, _ = best_of(lambda job=job: job("fused"), 1)
        times, results = interleaved({"fused": lambda job=job: job("fused"), "numpy": lambda job=job: job("numpy"),
                                      "jax": lambda jax_call=jax_call: jax_call(starts)}, repeats)
        fused_traj, numpy_traj = results["fused"], results["numpy"]
        unfrozen = fused_traj.status == "max steps"
        diff = np.abs(fused_traj.final_params[unfrozen] - results["jax"][unfrozen]).max(axis=1)
        scale = np.maximum(1.0, np.abs(results["jax"][unfrozen]).max(axis=1))
        checks[f"{name}_numpy_backend_identical"] = bool(
            np.array_equal(numpy_traj.params, fused_traj.params) and list(numpy_traj.status) == list(fused_traj.status))
        checks[f"{name}_runs_compared_with_jax"] = int(unfrozen.sum())
        checks[f"{name}_max_rel_diff_jax"] = float((diff / scale).max()) if unfrozen.any() else float("nan")
        # Rosenbrock's curved valley amplifies last-bit differences (XLA's own rounding) on a few paths.
        checks[f"{name}_runs_within_1e-9_of_jax"] = int((diff / scale <= 1e-9).sum())
        k = len(starts)
        rows += [
            {"name": f"{name} (lr {lr:g}): fused, {k:,} starts × {STEPS} steps", "seconds": times["fused"]},
            {"name": f"{name}: fused first call, compiled or loaded (excluded)", "seconds": t_first - times["fused"]},
            {"name": f"{name}: backend='numpy'", "seconds": times["numpy"]},
            {"name": f"{name}: JAX jit+vmap+scan (float64), run only", "seconds": times["jax"]},
            {"name": f"{name}: JAX compile (excluded)", "seconds": t_compile - times["jax"]},
        ]
        ratios += [{"name": f"{name}: numpy backend / fused", "value": times["numpy"] / times["fused"]},
                   {"name": f"{name}: fused / JAX", "value": times["fused"] / times["jax"]}]
    return rows, ratios, checks


def _breakdown(landscape: Any, k_starts: np.ndarray, repeats: int) -> dict[str, float]:
    """Seconds per step of the optimizer step and of the landscape alone, on ``(k, 2)``."""
    opt = optimizers.get("adam", lr=LR)
    p = k_starts
    state = opt.init(p)
    _, g = landscape.value_and_grad(p)
    n = 20 if p.shape[0] > 100 else 500
    with np.errstate(all="ignore"):
        times, _ = interleaved(
            {
                "adam_step": lambda: [opt.step(p, g, state) for _ in range(n)],
                "value_and_grad": lambda: [landscape.value_and_grad(p) for _ in range(n)],
            },
            4 * repeats,
        )
    return {name: t / n for name, t in times.items()}


def run(quick: bool = False) -> dict[str, Any]:
    """Time the basin-map job four ways; return figures, checks and goals."""
    f = landscapes.get("rosenbrock")
    starts = grid_starts(f)
    k = starts.shape[0]
    repeats = 2 if quick else 5
    n_loop = 20 if quick else 200
    n_torch = 10 if quick else 100
    sub_loop = starts[np.linspace(0, k - 1, n_loop).astype(int)]
    sub_torch = starts[np.linspace(0, k - 1, n_torch).astype(int)]

    jax_call = jax_job(STEPS)
    t_compile, _ = best_of(lambda: jax_call(starts), 1)  # first call traces and compiles
    t_ours_first, _ = best_of(lambda: ours(f, starts, STEPS), 1)  # compiles or loads the kernels

    times, results = interleaved(
        {"ours": lambda: ours(f, starts, STEPS), "jax": lambda: jax_call(starts),
         "numpy": lambda: ours(f, starts, STEPS, backend="numpy")}, repeats
    )
    loop_repeats = 1 if quick else 2
    torch_loop(sub_torch[:1], 5)  # first optimizer step imports parts of torch: keep it out of the timing
    t_loop, loop_final = best_of(lambda: python_loop(f, sub_loop, STEPS), loop_repeats)
    t_torch, torch_final = best_of(lambda: torch_loop(sub_torch, STEPS), loop_repeats)

    traj = results["ours"]
    final = traj.final_params
    unfrozen = traj.status == "max steps"  # frozen runs stop early, the references never do
    jax_final = results["jax"][0]
    idx_loop = np.linspace(0, k - 1, n_loop).astype(int)
    idx_torch = np.linspace(0, k - 1, n_torch).astype(int)
    diff_jax = np.abs(final[unfrozen] - jax_final[unfrozen]).max(axis=1)
    numpy_traj = results["numpy"]
    checks = {
        "numpy_backend_identical": bool(
            np.array_equal(numpy_traj.params, traj.params) and list(numpy_traj.status) == list(traj.status)
            and np.array_equal(numpy_traj.status_step, traj.status_step)),
        "runs_compared_with_jax": int(unfrozen.sum()),
        "max_abs_diff_jax": float(diff_jax.max()),
        "runs_within_1e-9_of_jax": int((diff_jax <= 1e-9).sum()),
        "max_abs_diff_python_loop": float(np.abs(final[idx_loop] - loop_final)[unfrozen[idx_loop]].max()),
        "max_abs_diff_torch": float(np.abs(final[idx_torch] - torch_final)[unfrozen[idx_torch]].max()),
        "status_counts": {s: int(c) for s, c in zip(*np.unique(traj.status, return_counts=True), strict=True)},
    }
    t_loop_full = t_loop * k / n_loop
    t_torch_full = t_torch * k / n_torch

    # The app's case: a few starts with every step recorded, where per-step overhead dominates.
    small = starts[np.linspace(0, k - 1, SMALL_K).astype(int)]
    t_small, _ = best_of(lambda: optimizers.run(f, optimizers.get("adam", lr=LR), small, STEPS), 3 if quick else 10)
    parts_big = _breakdown(f, starts, repeats)
    parts_small = _breakdown(f, small, repeats)

    rows = [
        {"name": f"ours: optimizers.run, {k:,} starts × {STEPS} steps", "seconds": times["ours"]},
        {"name": "ours: first call, kernels compiled or loaded from cache (excluded)",
         "seconds": t_ours_first - times["ours"]},
        {"name": "ours: backend='numpy' (the array loop)", "seconds": times["numpy"]},
        {"name": "JAX jit+vmap+scan (float64), run only", "seconds": times["jax"]},
        {"name": "JAX compile (first call, excluded)", "seconds": t_compile - times["jax"]},
        {"name": f"python loop, 1 start at a time (scaled from {n_loop})", "seconds": t_loop_full},
        {"name": f"torch.optim.Adam, 1 start at a time (scaled from {n_torch})", "seconds": t_torch_full},
        {"name": f"ours: k={SMALL_K} starts × {STEPS} steps, all recorded (app case)", "seconds": t_small},
    ]
    per_step_big = times["numpy"] / STEPS  # the numpy backend's step, split into its parts
    info = {
        "per_step_seconds_k10000_numpy_backend": {
            "total": per_step_big, **parts_big,
            "runner_and_rest": per_step_big - parts_big["adam_step"] - parts_big["value_and_grad"],
        },
        "per_step_seconds_k3": {
            "total": t_small / STEPS, **parts_small,
            "runner_and_rest": t_small / STEPS - parts_small["adam_step"] - parts_small["value_and_grad"],
        },
        "lr": LR, "steps": STEPS, "starts": k, "repeats": repeats,
        "scaled": f"python loop timed on {n_loop} starts, torch on {n_torch}, scaled linearly to {k:,}",
    }
    goals = [
        Goal("ours / JAX time (issue 2)", times["ours"] / times["jax"], 1.5, "<="),
        Goal("torch one-at-a-time / ours (issue 2)", t_torch_full / times["ours"], 1000.0, ">="),
    ]
    extra = [
        {"name": "numpy backend / ours (fused)", "value": times["numpy"] / times["ours"]},
        {"name": "python loop / ours", "value": t_loop_full / times["ours"]},
        {"name": "torch one-at-a-time / python loop", "value": t_torch_full / t_loop_full},
    ]
    zoo_rows, zoo_ratios, zoo_checks = zoo(f, starts, repeats)
    rows += zoo_rows
    extra += zoo_ratios
    checks.update(zoo_checks)
    return {"rows": rows, "goals": [g.as_dict() for g in goals], "ratios": extra, "checks": checks, "info": info}
