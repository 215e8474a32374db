"""Every registered landscape against independent references.

References used below: central finite differences (gradient, Hessian),
SciPy's own Rosenbrock, eigenvalues from ``numpy.linalg.eigvalsh``, the values
on a small circle around each critical point (what "minimum" and "saddle"
mean), a brute-force grid (for the global minimum), the same call made one
point at a time (batching), and the theoretical GD rate on a quadratic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess

import landscapes
from landscapes.base import CriticalPoint, Landscape

NAMES = landscapes.names()
EXPECTED_ORDER = [
    "rosenbrock", "saddle", "narrow_trough", "two_basin", "himmelblau", "beale", "rastrigin",
    "ackley", "six_hump_camel", "monkey_saddle", "plateau", "cliff",
]
#: Central-difference step. Truncation error ~ h²·f''' and rounding ~ 1e-16·|f|/h, both far below the tolerances.
H = 1e-5
_CACHE: dict[str, Landscape] = {}


def surface(name: str) -> Landscape:
    if name not in _CACHE:
        _CACHE[name] = landscapes.get(name)
    return _CACHE[name]


def inside(land: Landscape, rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 2)`` uniform points in the window, kept 2% away from its edges."""
    (x0, x1), (y0, y1) = land.bounds
    u = rng.uniform(0.02, 0.98, size=(n, 2))
    return np.stack([x0 + u[:, 0] * (x1 - x0), y0 + u[:, 1] * (y1 - y0)], axis=-1)


def central_difference(fn, points: np.ndarray, h: float = H) -> np.ndarray:
    """Derivative of ``fn`` along each coordinate: result has ``fn``'s shape plus a trailing axis of 2."""
    cols = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        cols.append((fn(points + e) - fn(points - e)) / (2.0 * h))
    return np.stack(cols, axis=-1)


def test_registry_order_and_api() -> None:
    """Reference: the display order fixed in the issue, with the formula surface last."""
    assert NAMES[: len(EXPECTED_ORDER)] == EXPECTED_ORDER
    assert "formula" in NAMES
    for name in NAMES:
        land = surface(name)
        assert land.name == name and land.title and land.latex and land.lesson


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name: str, rng: np.random.Generator) -> None:
    """Reference: central differences of ``value`` with h = 1e-5 at 25 random points.

    Tolerance: 1e-6 relative to the gradient plus 1e-7 relative to the largest
    |f| seen (the rounding error of the difference quotient).
    """
    land = surface(name)
    pts = inside(land, rng, 25)
    values, grads = land.value_and_grad(pts)
    fd = central_difference(land.value, pts)
    scale = max(1.0, float(np.abs(values).max()))
    np.testing.assert_allclose(grads, fd, rtol=1e-6, atol=1e-7 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_differences_of_gradient(name: str, rng: np.random.Generator) -> None:
    """Reference: central differences (h = 1e-5) of the analytic gradient at 25 random points; symmetric."""
    land = surface(name)
    pts = inside(land, rng, 25)
    hess = land.hessian(pts)
    # Column j of the Hessian is d(grad)/d(coordinate j).
    fd = central_difference(lambda p: land.value_and_grad(p)[1], pts)
    scale = max(1.0, float(np.abs(land.value_and_grad(pts)[1]).max()))
    np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-7 * scale)
    np.testing.assert_array_equal(hess, np.swapaxes(hess, -1, -2))


def ring(land: Landscape, cp: CriticalPoint, n: int = 72) -> np.ndarray:
    """Values on a circle of radius 1e-3 × window width around ``cp``."""
    (x0, x1), _ = land.bounds
    rho = 1e-3 * (x1 - x0)
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    pts = np.asarray(cp.point) + rho * np.stack([np.cos(t), np.sin(t)], axis=-1)
    return land.value(pts)


CRITICAL = [(name, i) for name in NAMES for i in range(len(surface(name).minima))]


@pytest.mark.parametrize(("name", "index"), CRITICAL, ids=[f"{n}-{i}" for n, i in CRITICAL])
def test_critical_point(name: str, index: int) -> None:
    """Reference: the definition of each kind.

    The gradient vanishes; the listed value is ``value(point)``. A minimum has a
    positive semidefinite Hessian and every value on a small circle around it
    is higher; a saddle has values both below and above it on that circle, and
    where its Hessian is not degenerate, eigenvalues of both signs.
    """
    land = surface(name)
    cp = land.minima[index]
    p = np.asarray(cp.point)
    value, grad = land.value_and_grad(p)
    eig = np.linalg.eigvalsh(land.hessian(p))
    curvature = max(1.0, float(np.abs(eig).max()))
    assert np.linalg.norm(grad) <= 1e-9 * curvature
    assert cp.value == pytest.approx(float(value), rel=1e-12, abs=1e-12)
    around = ring(land, cp)
    if cp.kind in ("global", "local"):
        assert eig.min() >= -1e-9 * curvature
        assert (around > value).all()
    else:
        assert cp.kind == "saddle"
        assert around.min() < value < around.max()
        if np.abs(eig).min() > 1e-9 * curvature:
            assert eig.min() < 0 < eig.max()


@pytest.mark.parametrize("name", [n for n in NAMES if any(c.kind == "global" for c in surface(n).minima)])
def test_global_minimum_beats_a_grid(name: str) -> None:
    """Reference: brute force; no value on a 200×200 grid over the window is below the listed global minimum."""
    land = surface(name)
    (x0, x1), (y0, y1) = land.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    grid = land.value(np.stack([gx, gy], axis=-1))
    globals_ = [c for c in land.minima if c.kind == "global"]
    assert grid.min() >= land.f_min - 1e-12 * max(1.0, abs(land.f_min))
    # Several global minima must share one value.
    assert max(c.value for c in globals_) - land.f_min <= 1e-9 * max(1.0, abs(land.f_min))


def test_monkey_saddle_is_degenerate_but_still_a_saddle() -> None:
    """Reference: f(x, y) = x³ − 3xy² by hand; zero Hessian at 0, and f(−t, 0) = −t³ < 0 < f(t, 0)."""
    land = surface("monkey_saddle")
    np.testing.assert_array_equal(land.hessian(np.zeros(2)), np.zeros((2, 2)))
    t = np.array([1e-2, 1e-1, 1.0])
    zeros = np.zeros_like(t)
    np.testing.assert_allclose(land.value(np.stack([-t, zeros], -1)), -(t**3))
    np.testing.assert_allclose(land.value(np.stack([t, zeros], -1)), t**3)


@pytest.mark.parametrize("name", NAMES)
def test_batching_agrees_elementwise(name: str, rng: np.random.Generator) -> None:
    """Reference: the same surface called one point at a time; shapes (2,), (k, 2) and (n, m, 2)."""
    land = surface(name)
    grid = inside(land, rng, 12).reshape(3, 4, 2)
    v, g = land.value_and_grad(grid)
    hess = land.hessian(grid)
    assert v.shape == (3, 4) and g.shape == (3, 4, 2) and hess.shape == (3, 4, 2, 2)
    vk, gk = land.value_and_grad(grid.reshape(12, 2))
    np.testing.assert_array_equal(vk.reshape(3, 4), v)
    np.testing.assert_array_equal(gk.reshape(3, 4, 2), g)
    np.testing.assert_array_equal(land.value(grid), v)
    for i in range(3):
        for j in range(4):
            v1, g1 = land.value_and_grad(grid[i, j])
            assert v1.shape == () and g1.shape == (2,)
            assert v1 == v[i, j]
            np.testing.assert_array_equal(g1, g[i, j])
            np.testing.assert_array_equal(land.hessian(grid[i, j]), hess[i, j])


@pytest.mark.parametrize("name", NAMES)
def test_huge_points_leak_no_warnings(name: str) -> None:
    """Reference: pytest turns any RuntimeWarning into an error (pyproject); the runner may feed such points."""
    land = surface(name)
    pts = np.array([[1e200, -1e200], [1e300, 1e300], [np.inf, 0.0], [np.nan, 1.0], [-1e8, 3e7]])
    v, g = land.value_and_grad(pts)
    h = land.hessian(pts)
    assert v.shape == (5,) and g.shape == (5, 2) and h.shape == (5, 2, 2)
    assert np.isfinite(land.value_and_grad(np.asarray(land.start))[0])


@pytest.mark.parametrize("name", NAMES)
def test_starts_and_presets_inside_the_window(name: str) -> None:
    """Reference: the window; every preset start lies in it and has a finite value and gradient."""
    land = surface(name)
    (x0, x1), (y0, y1) = land.bounds
    assert x0 < x1 and y0 < y1
    assert next(iter(land.presets.values())) == land.start
    assert 1 <= len(land.presets) <= 4
    for start in land.presets.values():
        assert x0 <= start[0] <= x1 and y0 <= start[1] <= y1
        v, g = land.value_and_grad(np.asarray(start, dtype=float))
        assert np.isfinite(v) and np.isfinite(g).all()


def bad_value(spec) -> object:
    if spec.kind == "choice" and not spec.choices:  # free text
        return 42
    if spec.kind in ("int", "float"):
        return spec.high * 2 + 1 if math.isfinite(spec.high) else spec.low - 1
    return "no such choice"


SPECS = [(name, spec.name) for name in NAMES for spec in landscapes.REGISTRY[name].specs]


@pytest.mark.parametrize(("name", "param"), SPECS, ids=[f"{n}-{p}" for n, p in SPECS])
def test_bad_parameter_is_named(name: str, param: str) -> None:
    """Reference: the spec's own range; a value outside it raises ValueError naming the parameter."""
    spec = next(s for s in landscapes.REGISTRY[name].specs if s.name == param)
    with pytest.raises(ValueError, match=param):
        landscapes.get(name, **{param: bad_value(spec)})


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_and_name_raise(name: str) -> None:
    """Reference: the specs; an unknown keyword is rejected by name."""
    with pytest.raises(ValueError, match="no_such_knob"):
        landscapes.get(name, no_such_knob=1.0)


def test_unknown_landscape_raises() -> None:
    """Reference: the registry; the message lists the valid names."""
    with pytest.raises(ValueError, match="rosenbrock"):
        landscapes.get("not_a_surface")


def test_rosenbrock_equals_scipy(rng: np.random.Generator) -> None:
    """Reference: scipy.optimize.rosen, rosen_der and rosen_hess (a=1, b=100), two implementations that must agree."""
    land = landscapes.get("rosenbrock", a=1.0, b=100.0)
    pts = rng.uniform(-2.0, 2.0, size=(30, 2))
    v, g = land.value_and_grad(pts)
    hess = land.hessian(pts)
    for p, vi, gi, hi in zip(pts, v, g, hess, strict=True):
        assert vi == pytest.approx(rosen(p), rel=1e-13, abs=1e-13)
        np.testing.assert_allclose(gi, rosen_der(p), rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(hi, rosen_hess(p), rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize(("kappa", "angle"), [(10.0, 30.0), (100.0, -60.0), (1.0, 0.0)])
def test_narrow_trough_conditioning(kappa: float, angle: float) -> None:
    """Reference: eigvalsh of the Hessian, and the trough's floor along the angle given in degrees."""
    land = landscapes.get("narrow_trough", condition_number=kappa, angle=angle)
    hess = land.hessian(np.zeros(2))
    np.testing.assert_allclose(np.linalg.eigvalsh(hess), land.curvatures, rtol=1e-12)
    lo, hi = land.curvatures
    assert land.condition_number == pytest.approx(hi / lo)
    floor = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    np.testing.assert_allclose(hess @ floor, lo * floor, atol=1e-12)


@pytest.mark.parametrize("kappa", [10.0, 50.0])
def test_gd_on_trough_contracts_at_theoretical_rate(kappa: float) -> None:
    """Reference: theory. At lr = 2/(λmin+λmax), I − lr·A has both eigenvalues ±(κ−1)/(κ+1),
    so ‖p_t‖ = ((κ−1)/(κ+1))^t ‖p_0‖ exactly, from any start. GD is rebuilt here by hand."""
    land = landscapes.get("narrow_trough", condition_number=kappa, angle=30.0)
    lo, hi = land.curvatures
    lr = 2.0 / (lo + hi)
    assert land.optimal_lr == pytest.approx(lr)
    rate = (kappa - 1.0) / (kappa + 1.0)
    assert land.optimal_rate == pytest.approx(rate)
    p = np.array(land.start)
    norms = [np.linalg.norm(p)]
    for _ in range(40):
        p = p - lr * land.value_and_grad(p)[1]
        norms.append(np.linalg.norm(p))
    np.testing.assert_allclose(norms, norms[0] * rate ** np.arange(41), rtol=1e-9)


def test_two_basin_end_depends_on_start() -> None:
    """Reference: the listed minima; hand-written GD (lr 0.05, 2000 steps) from the presets ends in different basins."""
    land = surface("two_basin")
    by_kind = {c.kind: np.asarray(c.point) for c in land.minima}
    starts = np.array([land.presets["lower left: shallow basin"],
                       land.presets["upper right: deep basin"]])
    p = starts.copy()
    for _ in range(2000):
        p = p - 0.05 * land.value_and_grad(p)[1]
    np.testing.assert_allclose(p[0], by_kind["local"], atol=1e-6)
    np.testing.assert_allclose(p[1], by_kind["global"], atol=1e-6)
    assert land.value(by_kind["local"]) > land.value(by_kind["global"])


def test_cliff_throws_a_plain_step_but_not_a_clipped_one() -> None:
    """Reference: the runner's window rule (25% margin). From the default start one GD step with lr 0.1
    leaves the window; the same step with the gradient clipped to norm 1 moves exactly 0.1."""
    land = surface("cliff")
    p = np.asarray(land.start)
    g = land.value_and_grad(p)[1]
    (x0, x1), _ = land.bounds
    plain = p - 0.1 * g
    assert plain[0] < x0 - 0.25 * (x1 - x0)
    clipped = p - 0.1 * g / max(1.0, np.linalg.norm(g))
    assert np.linalg.norm(clipped - p) == pytest.approx(0.1)


def test_plateau_start_is_flat() -> None:
    """Reference: the Gaussian well's formula, |∇f| = r/w² · exp(−r²/(2w²)), at the default start."""
    land = surface("plateau")
    p = np.asarray(land.start)
    r2 = float(p @ p)
    w2 = land.params["width"] ** 2
    expected = math.sqrt(r2) / w2 * math.exp(-r2 / (2 * w2))
    assert np.linalg.norm(land.value_and_grad(p)[1]) == pytest.approx(expected, rel=1e-12)
    assert expected < 1e-3


VARIANTS = [
    ("rosenbrock", {"a": -2.0, "b": 1.0}),
    ("narrow_trough", {"condition_number": 1000.0, "angle": -90.0}),
    ("narrow_trough", {"condition_number": 1.0, "angle": 45.0}),
    ("plateau", {"width": 0.1}),
    ("plateau", {"width": 3.0}),
    ("cliff", {"steepness": 5.0}),
    ("cliff", {"steepness": 200.0}),
]


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=[f"{n}-{'-'.join(map(str, p.values()))}" for n, p in VARIANTS])
def test_parameter_extremes(name: str, params: dict, rng: np.random.Generator) -> None:
    """Reference: central differences (h = 1e-5) and a 200×200 grid, at the ends of each parameter's range.

    The listed global minimum stays inside the window, has zero gradient and
    is no higher than any grid value; presets stay inside the window.
    """
    land = landscapes.get(name, **params)
    pts = inside(land, rng, 20)
    values, grads = land.value_and_grad(pts)
    scale = max(1.0, float(np.abs(values).max()))
    np.testing.assert_allclose(grads, central_difference(land.value, pts), rtol=1e-6, atol=1e-7 * scale)
    (x0, x1), (y0, y1) = land.bounds
    for cp in land.minima:
        assert x0 <= cp.point[0] <= x1 and y0 <= cp.point[1] <= y1
        g = land.value_and_grad(np.asarray(cp.point))[1]
        assert np.linalg.norm(g) <= 1e-9 * max(1.0, float(np.abs(land.hessian(np.asarray(cp.point))).max()))
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    assert land.value(np.stack([gx, gy], axis=-1)).min() >= land.f_min - 1e-12
    for start in land.presets.values():
        assert x0 <= start[0] <= x1 and y0 <= start[1] <= y1
