"""The compiled backend (``optimizers.fused``) against the numpy code it twins.

References, all "two algorithms that must agree":

- each landscape's ``kernel`` against its numpy ``value_and_grad``;
- each optimizer's ``kernel`` against its numpy ``direction``, step by step;
- ``optimizers.run(backend="fused")`` against ``backend="numpy"``: paths,
  values, gradient norms, statuses, the steps they happened at, the sentences,
  and the escape points. On surfaces built from + − × ÷ and √ alone the two must
  be identical to the bit; surfaces that call exp, sin or cos may differ in the
  last bits, because numpy's vectorized math library is not libm.

Every surface and optimizer that declares a kernel is picked up here by itself.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import landscapes
import optimizers
from common import jit
from optimizers import fused
from optimizers.transforms import Chain, Clip, Noise, schedule

#: Only an explicit switch skips these: a numba that fails to import must fail the suite, not hide in skips.
pytestmark = pytest.mark.skipif(os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0"),
                                reason="compiled kernels switched off by DESCENT_LAB_NO_JIT")

#: Surfaces whose numpy formulas call transcendental functions (exp, sin, cos, tanh, log).
TRANSCENDENTAL = {"ackley", "rastrigin", "two_basin", "plateau", "cliff"}


def kernel_landscapes() -> list[str]:
    return [n for n in landscapes.names() if fused._owns(landscapes.get(n), "value_and_grad")]


def kernel_optimizers() -> list[str]:
    return [n for n in optimizers.names() if fused._owns(optimizers.get(n), "direction")]


def hparam_variants(name: str) -> list[dict]:
    """Defaults, each boolean flipped, each choice taken, and weight decay switched on: every branch of a kernel."""
    cls = type(optimizers.get(name))
    out: list[dict] = [{}]
    for spec in cls.specs:
        if isinstance(spec.default, bool):
            out.append({spec.name: not spec.default})
        elif spec.choices:
            out.extend({spec.name: c} for c in spec.choices if c != spec.default)
        elif spec.name in ("weight_decay", "dampening", "nesterov_momentum", "initial_accumulator_value",
                           "lr_decay", "momentum", "centered", "decoupled_weight_decay"):
            out.append({spec.name: 0.3 if spec.default == 0 else 0.0})
    # Pairs of the switches, so that combined branches (e.g. centered + momentum) are covered too.
    flags = [v for v in out[1:] if len(v) == 1]
    out.extend({**a, **b} for a, b in itertools.combinations(flags, 2) if a.keys() != b.keys())
    valid = []
    for hp in out:
        try:
            optimizers.get(name, **hp)
        except ValueError:
            continue
        valid.append(hp)
    return valid


def grid(landscape, n: int = 15, grow: float = 0.6) -> np.ndarray:
    """``(n*n, 2)`` starts over the window grown by ``grow`` of its size on each side (some start outside)."""
    (x0, x1), (y0, y1) = landscape.bounds
    wx, wy = x1 - x0, y1 - y0
    xs = np.linspace(x0 - grow * wx, x1 + grow * wx, n)
    ys = np.linspace(y0 - grow * wy, y1 + grow * wy, n)
    X, Y = np.meshgrid(xs, ys)
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def both(problem, opt, starts, steps, **kw):
    a = optimizers.run(problem, opt, starts, steps, backend="numpy", **kw)
    b = optimizers.run(problem, opt, starts, steps, backend="fused", **kw)
    return a, b


def assert_bits(got: np.ndarray, want: np.ndarray, msg: str = "") -> None:
    """Equal to the bit, signed zeros included (NaN equals NaN, whatever its sign bit)."""
    np.testing.assert_array_equal(got, want, err_msg=msg)
    real = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[real]), np.signbit(want[real]), err_msg=f"sign of zero {msg}")


def assert_same(a, b, exact: bool) -> None:
    """Trajectories equal: to the bit when ``exact``, else to 1e-9 relative with the same statuses."""
    assert list(a.status) == list(b.status)
    np.testing.assert_array_equal(a.status_step, b.status_step)
    np.testing.assert_array_equal(a.steps, b.steps)
    if exact:
        assert a.reason == b.reason
        for name in ("params", "values", "grad_norms", "escape"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    else:
        for name in ("params", "values", "grad_norms"):
            x, y = getattr(a, name), getattr(b, name)
            np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(x).max())), err_msg=name)


def test_numba_is_installed_and_used():
    """The requirements install numba; the compiled backend must be available where they were installed."""
    assert jit.available()


# --------------------------------------------------------------------------------------------------------------
# Kernels one call at a time
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", kernel_landscapes())
def test_landscape_kernel_equals_value_and_grad(name, rng):
    """The kernel's values and gradients against numpy's, at random points in and far outside the window."""
    f = landscapes.get(name)
    (x0, x1), (y0, y1) = f.bounds
    pts = np.concatenate([
        grid(f, 21, grow=1.0),
        np.stack([rng.uniform(x0, x1, 500), rng.uniform(y0, y1, 500)], 1),
        rng.normal(0, 50, (50, 2)),
        np.array([[c.point[0], c.point[1]] for c in f.minima] or np.zeros((0, 2))),
    ])
    P = np.ascontiguousarray(pts.T)
    fk, Gk = np.empty(len(pts)), np.empty((2, len(pts)))
    type(f).kernel(P, f.kernel_params(), fk, Gk)
    with np.errstate(all="ignore"):
        fv, gv = f.value_and_grad(pts)
    if name in TRANSCENDENTAL:
        scale = max(1.0, float(np.nanmax(np.abs(fv))))
        np.testing.assert_allclose(fk, fv, rtol=1e-12, atol=1e-12 * scale)
        gscale = max(1.0, float(np.nanmax(np.abs(gv))))
        np.testing.assert_allclose(Gk.T, gv, rtol=1e-12, atol=1e-12 * gscale)
    else:
        assert_bits(fk, fv)
        assert_bits(Gk.T, gv)


@pytest.mark.parametrize("name", kernel_landscapes())
def test_landscape_kernel_follows_its_parameters(name, rng):
    """Non-default surface parameters reach the kernel: kernel against numpy again, at each spec's other end."""
    cls = type(landscapes.get(name))
    for spec in cls.specs:
        if isinstance(spec.default, bool) or spec.choices:
            continue
        hi = spec.ui_high if spec.ui_high is not None else spec.high
        lo = spec.ui_low if spec.ui_low is not None else spec.low
        for value in (lo, hi):
            if value is None or value == spec.default:
                continue
            try:
                f = landscapes.get(name, **{spec.name: value})
            except ValueError:
                continue
            pts = grid(f, 9, grow=0.2)
            fk, Gk = np.empty(len(pts)), np.empty((2, len(pts)))
            type(f).kernel(np.ascontiguousarray(pts.T), f.kernel_params(), fk, Gk)
            with np.errstate(all="ignore"):
                fv, gv = f.value_and_grad(pts)
            scale = max(1.0, float(np.nanmax(np.abs(fv))))
            np.testing.assert_allclose(fk, fv, rtol=1e-12, atol=1e-12 * scale, err_msg=f"{spec.name}={value}")
            gscale = max(1.0, float(np.nanmax(np.abs(gv))))
            np.testing.assert_allclose(Gk.T, gv, rtol=1e-12, atol=1e-12 * gscale, err_msg=f"{spec.name}={value}")


@pytest.mark.parametrize("name", kernel_optimizers())
def test_optimizer_kernel_equals_direction(name, rng):
    """The direction kernel against ``direction`` over 12 steps, to the bit, for every branch of the kernel.

    Gradients include zeros, huge values, inf and NaN, so the NaN rules of
    ``np.maximum`` or ``np.sign`` are checked too (they decide where a diverging run was heading).
    """
    k, d = 7, 2
    for hp in hparam_variants(name):
        opt = optimizers.get(name, **hp)
        p = rng.normal(size=(k, d))
        state = opt.init(p)
        # As the fused loop lays them out: the x of every run, then every y (a per-run rule reads both of a run).
        S = opt.kernel_init(p)
        for t in range(1, 13):
            g = rng.normal(scale=3.0, size=(k, d))
            g[0, 0] = 0.0
            if t == 5:
                g[1, 1] = 1e200
            if t >= 10:
                g[2, 0] = np.inf if t == 10 else np.nan
            inputs = {}
            if opt.needs_at(t):  # Sophia: a Hessian diagonal, written where the fused loop writes it
                inputs["hessian_diag"] = rng.normal(scale=2.0, size=(k, d))
                S[opt.slots().index(type(opt).input_slots["hessian_diag"])] = inputs["hessian_diag"].T.ravel()
            with np.errstate(all="ignore"):
                want, state = opt.direction(g, {key: v for key, v in state.items() if key != "t"}, p, t, **inputs)
            got = np.empty(k * d)
            type(opt).kernel(np.ascontiguousarray(g.T.ravel()), np.ascontiguousarray(p.T.ravel()), S,
                             np.asarray(opt.kernel_coefs(t), dtype=np.float64), got)
            assert_bits(got.reshape(d, k).T, want, f"{name} {hp} step {t}")
            p = p - 0.01 * np.nan_to_num(want)


# --------------------------------------------------------------------------------------------------------------
# Whole runs
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", kernel_landscapes())
def test_fused_runs_equal_numpy_runs_on_every_surface(name):
    """Adam from a grid of starts (some outside the window) with a moderate and a diverging learning rate."""
    f = landscapes.get(name)
    starts = grid(f)
    for lr in (0.05, 50.0):
        a, b = both(f, optimizers.get("adam", lr=lr), starts, 60, record_every=3)
        assert_same(a, b, exact=name not in TRANSCENDENTAL)


@pytest.mark.parametrize("name", kernel_optimizers())
def test_fused_runs_equal_numpy_runs_for_every_optimizer(name):
    """Every optimizer (each kernel branch) on Rosenbrock and the saddle, to the bit; large learning rates diverge."""
    for surface in ("rosenbrock", "saddle"):
        if surface not in kernel_landscapes():
            continue
        f = landscapes.get(surface)
        starts = grid(f, 9)
        for hp in hparam_variants(name):
            for lr in (1e-3, 0.1, 30.0):
                opt = optimizers.get(name, **{**hp, "lr": lr}) if "lr" in optimizers.get(name).hparams \
                    else optimizers.get(name, **hp)
                a, b = both(f, opt, starts, 40)
                assert_same(a, b, exact=True)


@pytest.mark.parametrize("chain", [
    dict(schedule=schedule("cosine", period=50)),
    dict(schedule=schedule("step", step_size=7, gamma=0.5), clip=Clip("norm", 1.0)),
    dict(clip=Clip("norm", 1e-3), decoupled_weight_decay=0.05),
    dict(clip=Clip("value", 0.25), schedule=schedule("warmup", warmup_steps=10)),
    dict(clip=Clip("value", 1e-300)),
    dict(noise=Noise(sigma=0.0)),
])
def test_fused_runs_equal_numpy_runs_with_transforms(chain):
    """Schedules, clipping by norm and by value, decoupled decay, and zero noise, fused as in ``Chain``."""
    f = landscapes.get("rosenbrock")
    for base in ("adam", "momentum", "rmsprop"):
        if base not in kernel_optimizers():
            continue
        for lr in (0.01, 5.0):
            opt = Chain(optimizers.get(base, lr=lr), **chain)
            a, b = both(f, opt, grid(f, 11), 50)
            assert_same(a, b, exact=True)


@pytest.mark.parametrize("kw", [
    dict(record_end_only=True),
    dict(record_every=9),
    dict(stop_on_converge=False, x_tol=0.3),
    dict(grad_tol=5.0),
    dict(x_tol=0.0, grad_tol=0.0),
    dict(explode=1e3),
    dict(window_margin=0.0),
    dict(x_tol=1e-200, grad_tol=1e-200),
    dict(x_tol=1e200, grad_tol=1e200),
])
def test_fused_runner_options_equal_numpy(kw):
    """Recording, convergence tolerances (including ones whose squares under- or overflow), explosion, window."""
    for surface in ("himmelblau", "rosenbrock", "monkey_saddle"):
        if surface not in kernel_landscapes():
            continue
        f = landscapes.get(surface)
        a, b = both(f, optimizers.get("adam", lr=0.3), grid(f, 12), 80, **kw)
        assert_same(a, b, exact=True)


def test_fused_threads_split_the_runs_without_changing_them(monkeypatch):
    """Blocks of runs on several threads against one block: the same trajectory (runs are independent)."""
    f = landscapes.get("rosenbrock")
    starts = grid(f, 40)
    monkeypatch.setattr(fused, "MIN_BLOCK", 100)
    many = optimizers.run(f, optimizers.get("adam", lr=0.2), starts, 60, backend="fused")
    monkeypatch.setattr(fused, "MIN_BLOCK", 10**9)
    one = optimizers.run(f, optimizers.get("adam", lr=0.2), starts, 60, backend="fused")
    assert_same(many, one, exact=True)


@pytest.mark.parametrize("transforms", [dict(schedule=schedule("cosine", period=30)), dict(clip=Clip("value", 0.5))])
def test_compiled_loop_in_stretches_with_per_run_settings_and_state_equals_numpy(monkeypatch, transforms):
    """Two algorithms that must agree: per-run (lr, β₁) with a schedule (a per-run lr that changes with t) or with
    clipping, recorded every 3 steps with the X-ray state, run by the compiled loop in stretches of 5 steps of tables
    (so that stretches, records and the steps just before them interleave) equals the numpy loop, bit for bit."""
    f = landscapes.get("rosenbrock")
    lrs, betas = np.array([1e-3, 0.05, 3.0]), np.array([0.0, 0.9])
    L, B = np.meshgrid(lrs, betas, indexing="ij")
    starts = np.tile([[-1.5, 2.0], [0.3, 0.3], [1.2, 1.0]], (L.size, 1))
    opt = Chain(optimizers.get("adam", lr=np.repeat(L.ravel(), 3), beta1=np.repeat(B.ravel(), 3)), **transforms)
    monkeypatch.setattr(fused, "MAX_TABLE", 5 * len(starts))
    a, b = both(f, opt, starts, 40, record_every=3, record_state=True)
    assert_same(a, b, exact=True)
    assert set(a.status) > {"max steps"}  # some runs stop, inside a stretch or at its end
    assert a.extras.keys() == b.extras.keys()
    for key in a.extras:
        np.testing.assert_array_equal(b.extras[key], a.extras[key], err_msg=key)


def test_zero_one_and_two_steps_equal_numpy():
    """Two algorithms that must agree: the shortest runs (no step, a stretch of one or two) with shared and per-run
    settings."""
    f = landscapes.get("rosenbrock")
    starts = grid(f, 7)
    k = len(starts)
    for opt in (optimizers.get("adam", lr=0.1),
                optimizers.get("adam", lr=np.linspace(0.01, 0.5, k), beta1=np.repeat([0.5, 0.9], [k // 2, k - k // 2]))):
        for steps in (0, 1, 2):
            a, b = both(f, opt, starts, steps)
            assert_same(a, b, exact=True)


def test_adagrad_lr_sweep_with_decay_equals_numpy():
    """Two algorithms that must agree: Adagrad's lr decays with t (its own ``lr_at``), so a per-run lr is a table
    per step in the compiled loop; its sweep equals the numpy loop's, bit for bit."""
    f = landscapes.get("rosenbrock")
    lrs = np.geomspace(1e-3, 3.0, 6)
    starts = np.tile([[-1.5, 2.0], [0.5, -0.5]], (len(lrs), 1))
    opt = optimizers.get("adagrad", lr=np.repeat(lrs, 2), lr_decay=0.05)
    a, b = both(f, opt, starts, 50, record_every=7)
    assert_same(a, b, exact=True)


# --------------------------------------------------------------------------------------------------------------
# When the fused backend is used
# --------------------------------------------------------------------------------------------------------------
class _NoRule(optimizers.Optimizer):
    """An optimizer written only as a numpy ``direction`` (no rule to compile): plain gradient descent."""

    name = "no_rule"
    specs = (optimizers.get("gd").specs[0],)

    def direction(self, grads, state, params, t):
        return grads, state


def test_unsupported_jobs_say_why_and_auto_falls_back():
    """Noise, a formula surface, an optimizer without a rule and non-landscape problems run in numpy; forcing fused
    raises."""
    rosen = landscapes.get("rosenbrock")
    starts = grid(rosen, 4)
    cases = [
        (rosen, Chain(optimizers.get("adam"), noise=Noise(sigma=0.1)), "noise"),
        (landscapes.get("formula"), optimizers.get("adam"), "no compiled kernel"),
        (rosen, _NoRule(), "no compiled kernel"),
    ]
    for problem, opt, why in cases:
        assert why in fused.unsupported(problem, opt)
        with pytest.raises(ValueError, match="fused backend cannot run"):
            optimizers.run(problem, opt, starts, 5, backend="fused")
        optimizers.run(problem, opt, starts, 5, backend="auto")  # the numpy loop, no error
    with pytest.raises(ValueError, match="backend must be"):
        optimizers.run(rosen, optimizers.get("adam"), starts, 5, backend="gpu")


def test_auto_uses_fused_only_for_big_jobs(monkeypatch):
    """Below ``MIN_WORK`` runs × steps the numpy loop runs (no compile for the app's few starts); above, fused."""
    calls = []
    real = fused.run_fused
    monkeypatch.setattr(fused, "run_fused", lambda *a, **k: calls.append(1) or real(*a, **k))
    f = landscapes.get("rosenbrock")
    optimizers.run(f, optimizers.get("adam"), grid(f, 2), 100)
    assert calls == []
    optimizers.run(f, optimizers.get("adam"), grid(f, 30), fused.MIN_WORK // 900 + 1)
    assert calls == [1]


def test_prefer_fused_runs_small_jobs_compiled_and_falls_back_quietly(monkeypatch):
    """``prefer_fused`` (the app's page runs): a job of one start takes the compiled loop and equals the numpy loop to
    the bit (reference: the numpy loop); a job fused cannot run (noise, a formula surface) runs in numpy, no error."""
    calls = []
    real = fused.run_fused
    monkeypatch.setattr(fused, "run_fused", lambda *a, **k: calls.append(1) or real(*a, **k))
    f = landscapes.get("himmelblau")
    start = np.array([[-1.0, -1.0]])
    for name in ("gd", "momentum", "adam"):
        a = optimizers.run(f, optimizers.get(name), start, 150, record_every=2, backend="prefer_fused")
        b = optimizers.run(f, optimizers.get(name), start, 150, record_every=2, backend="numpy")
        assert_same(a, b, exact=True)
    assert calls == [1, 1, 1]
    optimizers.run(f, Chain(optimizers.get("adam"), noise=Noise(sigma=0.1)), start, 5, backend="prefer_fused")
    optimizers.run(landscapes.get("formula"), optimizers.get("adam"), start, 5, backend="prefer_fused")
    assert calls == [1, 1, 1]


def test_wall_time_leaves_out_compiling(monkeypatch):
    """Reference: a compile step made to take 0.3 s. The run's wall time (the summary's "wall time" column) does
    not count it; the fused result reports it apart."""
    import time as _time

    real = fused._compile

    def slow(p):
        _time.sleep(0.3)
        return real(p)

    monkeypatch.setattr(fused, "_compile", slow)
    f = landscapes.get("himmelblau")
    traj = optimizers.run(f, optimizers.get("adam"), np.array([[-1.0, -1.0]]), 5, backend="fused")
    assert traj.wall_time < 0.25
    plan = fused.plan(f, optimizers.get("adam"), 5, window=None, critical=None, grad_tol=1e-8, x_tol=1e-6,
                      explode=1e12, stop_on_converge=True)
    assert fused.run_fused(plan, np.array([[-1.0, -1.0]]), 5, [0, 5]).compile_seconds >= 0.3


def test_non_finite_start_is_refused_like_numpy():
    """A start where the surface is not finite raises the same ValueError on both backends."""
    f = landscapes.get("rosenbrock")
    starts = np.array([[0.0, 0.0], [1e200, 1e200]])
    for backend in ("numpy", "fused"):
        with pytest.raises(ValueError, match="not finite at the start"):
            optimizers.run(f, optimizers.get("adam"), starts, 5, backend=backend)
