"""Hyperparameter sweeps (``optimizers.sweep``), per-run hyperparameters, tuning, and the quadratic theory.

References, named per test: the theory of GD and heavy ball on a quadratic
(``optimizers.theory``, Polyak 1964; Goh, Distill 2017); single runs of each
setting, on the numpy and the compiled backend (two algorithms that must agree,
bit for bit); a brute-force search over single runs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import landscapes
import nets
import optimizers
from optimizers import theory
from optimizers.sweep import MAX_AXIS, MAX_STARTS, MAX_STEPS, lr_sensitivity, tune_lr
from optimizers.transforms import Chain, Clip, schedule

NO_JIT = os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0")
BACKENDS = ["numpy"] if NO_JIT else ["numpy", "fused"]


def _cell_edges_contain(axis: np.ndarray, index: int, value: float) -> bool:
    """Whether ``value`` lies within one grid cell of ``axis[index]`` (between its neighbours)."""
    lo = axis[max(index - 1, 0)]
    hi = axis[min(index + 1, len(axis) - 1)]
    return bool(lo <= value <= hi)


# --------------------------------------------------------------------------------------------------------------
# Theory on the quadratic trough
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kappa,angle", [(5.0, 0.0), (20.0, 30.0), (100.0, -60.0), (400.0, 80.0)])
def test_gd_divergence_edge_is_two_over_L(kappa, angle):
    """Theory: GD on ½pᵀAp is stable exactly for η < 2/L. The first diverging cell of an lr sweep is the
    first grid value above 2/L, and every cell below it does not diverge."""
    f = landscapes.get("narrow_trough", condition_number=kappa, angle=angle)
    mu, big = theory.quadratic_curvatures(f)
    assert (mu, big) == pytest.approx((1.0, kappa))
    lrs = np.geomspace(0.5 / big, 4.0 / big, 41)
    sw = optimizers.sweep(f, "gd", {"lr": lrs}, np.array([f.start, f.presets["on the steep wall"]]), 600)
    diverged = sw.diverged().all(axis=1)
    edge = int(np.argmax(diverged))
    assert diverged[edge:].all() and not diverged[:edge].any()
    assert lrs[edge - 1] < theory.gd_stable_lr(big) <= lrs[edge]


def test_gd_rate_on_the_trough_is_theory():
    """Theory: the measured contraction of GD's distance to the minimum is max(|1−ημ|, |1−ηL|) on every stable cell."""
    f = landscapes.get("narrow_trough", condition_number=10.0, angle=20.0)
    mu, big = theory.quadratic_curvatures(f)
    lrs = np.geomspace(0.2 / big, 1.9 / big, 12)
    sw = optimizers.sweep(f, "gd", {"lr": lrs}, np.array([f.start]), 400, tol=1e-10, rate=True)
    np.testing.assert_allclose(sw.rate[:, 0], theory.gd_rate(lrs, mu, big), rtol=0.02)
    assert theory.gd_rate(theory.gd_optimal_lr(mu, big), mu, big) == pytest.approx(f.optimal_rate)


@pytest.mark.parametrize("kappa,angle", [(20.0, 30.0), (50.0, -45.0)])
def test_heavy_ball_fastest_cell_is_polyaks_optimum(kappa, angle):
    """Theory (Polyak 1964): heavy ball's fastest (η, β) on the trough is η* = 4/(√L+√μ)², β* = ((√κ−1)/(√κ+1))²,
    with rate (√κ−1)/(√κ+1). The measured fastest cell lies within one cell of it, its rate is within 5% of theory,
    and the whole measured rate map matches the theoretical rate map within 5% where theory says it converges
    (among runs that stayed in the window: near the edge the transient can carry a run out before it contracts)."""
    f = landscapes.get("narrow_trough", condition_number=kappa, angle=angle)
    mu, big = theory.quadratic_curvatures(f)
    eta, beta, rate = theory.polyak_optimum(mu, big)
    assert rate == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1))
    assert theory.heavy_ball_rate(eta, beta, mu, big) == pytest.approx(rate)
    lrs = np.geomspace(eta / 3, eta * 3, 41)
    betas = np.linspace(0.0, 0.95, 39)
    sw = optimizers.sweep(f, "momentum", {"lr": lrs, "momentum": betas}, np.array([f.start]), 300, tol=1e-10,
                          rate=True)
    measured = sw.rate[..., 0]
    i, j = np.unravel_index(np.argmin(np.where(np.isnan(measured), np.inf, measured)), measured.shape)
    assert _cell_edges_contain(lrs, i, eta), (lrs[i], eta)
    assert _cell_edges_contain(betas, j, beta), (betas[j], beta)
    assert measured[i, j] == pytest.approx(theory.heavy_ball_rate(lrs[i], betas[j], mu, big), rel=0.05)
    assert measured[i, j] == pytest.approx(rate, rel=0.05)
    want = theory.heavy_ball_rate(lrs[:, None], betas[None, :], mu, big)
    converging = (want < 0.98) & ~sw.diverged()[..., 0]
    assert converging.sum() > 0.4 * converging.size
    np.testing.assert_allclose(measured[converging], want[converging], rtol=0.05)
    # Cells beyond the stability edge diverge.
    unstable = ~theory.heavy_ball_stable(lrs[:, None], betas[None, :], big) & (want > 1.05)
    assert sw.diverged()[..., 0][unstable].all()


# --------------------------------------------------------------------------------------------------------------
# A cell equals the single run of its setting
# --------------------------------------------------------------------------------------------------------------
SWEEPS = [
    ("adam", {"lr": [1e-3, 0.03, 0.3, 40.0], "beta1": [0.0, 0.5, 0.9]}, {}),
    ("adam", {"beta2": [0.9, 0.99, 0.999], "eps": [1e-8, 1e-3]}, {"lr": 0.05, "weight_decay": 0.1}),
    ("adam", {"lr": [0.01, 0.2], "beta1": [0.8, 0.95]}, {"amsgrad": True}),
    ("adamw", {"lr": [0.01, 0.2], "beta2": [0.9, 0.999]}, {"weight_decay": 0.05}),
    ("momentum", {"lr": [1e-3, 3e-3, 0.5], "momentum": [0.0, 0.5, 0.95]}, {}),
    ("momentum", {"momentum": [0.3, 0.9], "dampening": [0.0, 0.5]}, {"lr": 1e-3, "weight_decay": 0.2}),
    ("momentum", {"lr": [1e-3, 0.01], "momentum": [0.5, 0.9]}, {"form": "ema"}),
    ("nesterov", {"lr": [1e-3, 0.01], "momentum": [0.5, 0.9]}, {}),
    ("rmsprop", {"lr": [1e-3, 0.05], "alpha": [0.5, 0.99]}, {"centered": True, "momentum": 0.5}),
    ("rmsprop", {"lr": [1e-3, 0.05, 3.0], "eps": [1e-8, 0.1]}, {}),
    ("gd", {"lr": [1e-4, 1e-3, 0.01]}, {}),
    ("lion", {"lr": [1e-3, 0.1]}, {}),
    # Rprop and ASGD read lr inside their direction, so an lr sweep must keep lr per setting in the kernel too.
    ("rprop", {"lr": [1e-3, 0.05], "etaplus": [1.1, 1.5]}, {}),
    ("rprop", {"etaminus": [0.2, 0.5], "step_size_max": [0.01, 50.0]}, {"lr": 0.01}),
    ("asgd", {"lr": [1e-3, 3e-3], "lambd": [1e-4, 0.5]}, {"t0": 10.0}),
    ("asgd", {"alpha": [0.5, 0.75], "t0": [2.0, 1e6]}, {"lr": 2e-3, "lambd": 0.3}),
]


def _singles(f, name, sw, starts, steps, backend, transforms=None):
    """The sweep's cells rebuilt one setting at a time with the plain runner."""
    shape = sw.grid_shape
    for index in np.ndindex(*shape):
        opt = optimizers.get(name, **sw.setting(index))
        if transforms:
            opt = Chain(opt, **transforms)
        yield index, optimizers.run(f, opt, starts, steps, record_end_only=True, grad_tol=sw.tol, x_tol=sw.tol,
                                    backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,grid,fixed", SWEEPS, ids=[f"{n}-{'-'.join(g)}" for n, g, _ in SWEEPS])
def test_every_cell_equals_its_single_run(name, grid, fixed, backend):
    """Two algorithms that must agree: each cell of a batched sweep equals the run of that one setting alone,
    on the same backend, bit for bit (final values, statuses and the steps they happened at)."""
    f = landscapes.get("rosenbrock")
    starts = np.array([[-1.5, 2.0], [0.5, -0.5]])
    sw = optimizers.sweep(f, name, grid, starts, 60, fixed=fixed, backend=backend)
    for index, single in _singles(f, name, sw, starts, 60, backend):
        np.testing.assert_array_equal(sw.final_values[index], single.final_values, err_msg=str(index))
        assert list(sw.status[index]) == list(single.status)
        np.testing.assert_array_equal(sw.status_step[index], single.status_step)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("transforms", [
    dict(schedule=schedule("cosine", period=40)),
    dict(schedule=schedule("step", step_size=7, gamma=0.5), clip=Clip("norm", 1.0), decoupled_weight_decay=0.05),
    dict(schedule=schedule("warmup", warmup_steps=10), clip=Clip("value", 0.5)),
])
def test_per_run_lr_follows_the_schedule(transforms, backend):
    """Two algorithms that must agree: a per-run lr times the schedule (lr after the schedule), with clipping and
    decoupled decay, equals each setting run alone through ``Chain``, bit for bit, whole paths included."""
    f = landscapes.get("rosenbrock")
    starts = np.array([[-1.5, 2.0], [1.2, 0.3]])
    lrs = np.array([1e-3, 0.02, 0.3])
    betas = np.array([0.5, 0.9])
    L, B = np.meshgrid(lrs, betas, indexing="ij")
    k = L.size * len(starts)
    opt = Chain(optimizers.get("adam", lr=np.repeat(L.ravel(), 2), beta1=np.repeat(B.ravel(), 2)), **transforms)
    batch = optimizers.run(f, opt, np.tile(starts, (L.size, 1)), 40, backend=backend)
    assert batch.k == k
    for c, (lr, b1) in enumerate(zip(L.ravel(), B.ravel(), strict=True)):
        one = optimizers.run(f, Chain(optimizers.get("adam", lr=float(lr), beta1=float(b1)), **transforms), starts,
                             40, backend=backend)
        np.testing.assert_array_equal(batch.params[:, 2 * c:2 * c + 2], one.params, err_msg=f"lr={lr} β₁={b1}")
        assert list(batch.status[2 * c:2 * c + 2]) == list(one.status)


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off by DESCENT_LAB_NO_JIT")
def test_fused_sweep_equals_numpy_sweep():
    """Two algorithms that must agree: the compiled and the numpy backend give the same sweep, bit for bit,
    whole paths included, on a grid with diverging and converging cells."""
    f = landscapes.get("rosenbrock")
    lrs = np.geomspace(1e-3, 30.0, 7)
    betas = np.array([0.0, 0.5, 0.9, 0.99])
    L, B = np.meshgrid(lrs, betas, indexing="ij")
    starts = np.tile([[-1.5, 2.0], [0.2, 0.9]], (L.size, 1))
    for name, knob in (("adam", "beta1"), ("momentum", "momentum"), ("rmsprop", "alpha")):
        hp = {"lr": np.repeat(L.ravel(), 2), knob: np.repeat(B.ravel(), 2)}
        a = optimizers.run(f, optimizers.get(name, **hp), starts, 80, backend="numpy")
        b = optimizers.run(f, optimizers.get(name, **hp), starts, 80, backend="fused")
        np.testing.assert_array_equal(a.params, b.params, err_msg=name)
        assert list(a.status) == list(b.status) and a.reason == b.reason
        np.testing.assert_array_equal(a.escape, b.escape)


def test_network_sweep_cells_equal_single_runs():
    """Two algorithms that must agree: an lr sweep over seeds of an Iris net (theta (k, P)) equals, bit for bit,
    the same batch of networks trained with that lr as one scalar; and each lr trained alone on its seeds to 1e-9
    (a batch of another size rounds its matmuls differently, 1e-15 per step, as tests/test_nets.py allows)."""
    prob = nets.problem("iris", hidden=(8,), activation="tanh")
    theta = prob.init_seeds([0, 1, 2])
    lrs = np.geomspace(1e-3, 1.0, 4)
    sw = optimizers.sweep(prob, "adam", {"lr": lrs}, theta, 25)
    assert sw.final_values.shape == (4, 3)
    tiled = np.tile(theta, (len(lrs), 1))
    for i, lr in enumerate(lrs):
        same_batch = optimizers.run(prob, optimizers.get("adam", lr=float(lr)), tiled, 25, record_end_only=True,
                                    grad_tol=sw.tol, x_tol=sw.tol)
        np.testing.assert_array_equal(sw.final_values[i], same_batch.final_values[3 * i:3 * i + 3])
        alone = optimizers.run(prob, optimizers.get("adam", lr=float(lr)), theta, 25, record_end_only=True,
                               grad_tol=sw.tol, x_tol=sw.tol)
        np.testing.assert_allclose(sw.final_values[i], alone.final_values, rtol=1e-9)


# --------------------------------------------------------------------------------------------------------------
# Tuning, sensitivity
# --------------------------------------------------------------------------------------------------------------
def _median_of_three(values: list[float]) -> float:
    return sorted(values)[1]


@pytest.mark.parametrize("criterion", ["final", "steps"])
def test_tuned_lr_equals_brute_force(criterion):
    """Brute force: the race's tuned lr (and its score and the runner-up's) equal a search over single runs,
    one lr and one start at a time, scored by the median of three starts."""
    f = landscapes.get("narrow_trough", condition_number=20.0, angle=30.0)
    starts = np.array([f.start, f.presets["on the steep wall"], [1.0, -2.0]])
    lrs = np.geomspace(1e-3, 0.5, 9)
    steps, tol = 150, 1e-4
    race = tune_lr(f, ["gd", "momentum", "adam"], lrs, starts, steps, criterion=criterion, tol=tol)
    for entry in race.entries:
        scores = []
        for lr in lrs:
            per_start = []
            for s in starts:
                tr = optimizers.run(f, optimizers.get(entry.name, lr=float(lr)), s[None], steps, grad_tol=tol,
                                    x_tol=tol)
                if criterion == "final":
                    per_start.append(np.inf if tr.status[0] in ("diverged", "left window") else tr.final_values[0])
                else:
                    per_start.append(tr.status_step[0] if tr.status[0] == "converged" else steps + 1)
            scores.append(_median_of_three(per_start))
        order = np.argsort(scores, kind="stable")
        assert entry.lr == lrs[order[0]], entry.name
        assert entry.score == scores[order[0]]
        assert entry.runner_up_lr == lrs[order[1]]
        want = scores[order[1]] - scores[order[0]] if criterion == "steps" else scores[order[1]] / scores[order[0]]
        assert entry.margin == pytest.approx(want)


def test_lr_sensitivity_median_and_band_over_starts():
    """Brute force: the median and the 10–90% band equal numpy's percentiles of single runs' final values,
    diverged runs counted as inf."""
    f = landscapes.get("rosenbrock")
    starts = np.array([[-1.5, 2.0], [0.5, -0.5], [1.5, 1.5], [-0.5, 0.5], [0.0, 2.5]])
    lrs = np.geomspace(1e-3, 10.0, 5)
    sens = lr_sensitivity(f, ["gd", "adam"], lrs, starts, 50)
    for o, name in enumerate(sens.names):
        for i, lr in enumerate(lrs):
            tr = optimizers.run(f, optimizers.get(name, lr=float(lr)), starts, 50, grad_tol=1e-6, x_tol=1e-6)
            final = np.where(np.isin(tr.status, ["diverged", "left window"]), np.inf, tr.final_values)
            assert sens.median[o, i] == np.sort(final)[2]
            assert sens.low[o, i] == np.percentile(final, 10, method="nearest")
            assert sens.high[o, i] == np.percentile(final, 90, method="nearest")


# --------------------------------------------------------------------------------------------------------------
# Bad grids
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,grid,kw,match", [
    ("adam", {}, {}, "one or two"),
    ("adam", {"lr": [0.1], "beta1": [0.9], "beta2": [0.99]}, {}, "one or two"),
    ("adam", {"lr": []}, {}, "non-empty"),
    ("adam", {"lr": [[0.1, 0.2]]}, {}, "1-D"),
    ("adam", {"lr": [0.1, np.nan]}, {}, "finite"),
    ("adam", {"lr": [0.1, np.inf]}, {}, "finite"),
    ("adam", {"momentum": [0.9]}, {}, "no hyperparameter 'momentum'"),
    ("nosuch", {"lr": [0.1]}, {}, "unknown optimizer"),
    ("adam", {"lr": [-0.1]}, {}, "lr must be in"),
    ("adam", {"beta1": [0.5, 1.5]}, {}, "beta1 must be in"),
    ("adam", {"beta1": [0.5, 1.0]}, {}, "beta1 must be below 1"),
    ("adam", {"weight_decay": [0.0, 0.1]}, {}, "cannot be swept"),
    ("adam", {"amsgrad": [0, 1]}, {}, "cannot be swept"),
    ("adam", {"lr": np.geomspace(1e-4, 1, MAX_AXIS + 1)}, {}, f"at most {MAX_AXIS}"),
    ("adam", {"lr": [0.1]}, {"steps": MAX_STEPS + 1}, f"\\[1, {MAX_STEPS}\\]"),
    ("adam", {"lr": [0.1]}, {"starts": np.zeros((MAX_STARTS + 1, 2))}, f"1 <= s <= {MAX_STARTS}"),
    ("adam", {"lr": [0.1]}, {"starts": np.array([[np.nan, 0.0]])}, "finite"),
    ("adam", {"lr": [0.1]}, {"fixed": {"lr": 0.2}}, "both as swept and as fixed"),
    ("gd", {"lr": [0.1]}, {"rate": True, "problem": "rastrigin_free"}, "known minima"),
])
def test_bad_grids_raise(name, grid, kw, match):
    """Bad input raises ValueError with a message naming the problem (the spec's range, the cap, the name)."""
    f = landscapes.get("rosenbrock")
    starts = kw.pop("starts", np.array([[-1.0, 1.0]]))
    steps = kw.pop("steps", 10)
    if kw.pop("problem", None):
        f = _NoMinima()
    with pytest.raises(ValueError, match=match):
        optimizers.sweep(f, name, grid, starts, steps, **kw)


class _NoMinima:
    """A bowl without declared minima: the rate cannot be measured."""

    def value_and_grad(self, p):
        return 0.5 * (p * p).sum(-1), p


def test_numpy_only_jobs_are_capped():
    """The cap for jobs that take the numpy loop is stated in the message."""
    with pytest.raises(ValueError, match="20,000,000 run-steps"):
        optimizers.sweep(_NoMinima(), "adam", {"lr": np.geomspace(1e-3, 1, 64), "beta1": np.linspace(0, .9, 64)},
                         np.zeros((16, 2)), 5000)


def test_per_run_values_are_checked_where_they_enter():
    """Per-run arrays go through the same specs as scalars: the range message, and only declared names."""
    with pytest.raises(ValueError, match="beta2 must be in"):
        optimizers.get("adam", beta2=np.array([0.9, -1.0]))
    with pytest.raises(ValueError, match="cannot take one value per run"):
        optimizers.get("adam", weight_decay=np.array([0.0, 0.1]))
    with pytest.raises(ValueError, match="same length"):
        optimizers.get("adam", lr=np.array([0.1, 0.2]), beta1=np.array([0.9]))
    with pytest.raises(ValueError, match="per-run hyperparameters for 2 runs but 3 starts"):
        optimizers.run(landscapes.get("rosenbrock"), optimizers.get("adam", lr=np.array([0.1, 0.2])),
                       np.zeros((3, 2)), 5)


# --------------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------------
def test_heatmap_cells_carry_their_settings_and_measures():
    """Reference: the sweep itself. Each heatmap cell's customdata is its (lr, knob) and the median over starts;
    the current setting is marked where it was given."""
    from viz import tuning_figure

    f = landscapes.get("rosenbrock")
    lrs, betas = np.geomspace(1e-3, 1.0, 5), np.array([0.0, 0.5, 0.9])
    starts = np.array([[-1.5, 2.0], [0.5, -0.5], [1.5, 1.5]])
    sw = optimizers.sweep(f, "adam", {"lr": lrs, "beta1": betas}, starts, 40)
    for measure in ("final", "steps", "status"):
        fig = tuning_figure.tuning_heatmap(sw, measure, current={"lr": 0.01, "beta1": 0.9})
        cd = np.asarray(fig.data[0].customdata)
        assert cd.shape == (3, 5, 3)
        for i, j in np.ndindex(5, 3):
            assert (cd[j, i, 0], cd[j, i, 1]) == (lrs[i], betas[j])
        assert list(fig.data[1].x) == [0.01] and list(fig.data[1].y) == [0.9]
    fig = tuning_figure.tuning_heatmap(sw, "final")
    cd = np.asarray(fig.data[0].customdata)
    final = np.where(sw.diverged(), np.inf, sw.final_values)
    for i, j in np.ndindex(5, 3):
        want = np.sort(final[i, j])[1]
        assert cd[j, i, 2] == want or (np.isnan(cd[j, i, 2]) and not np.isfinite(want))


def test_trough_figures_draw_theory_where_theory_puts_it():
    """Reference: optimizers.theory. The GD lines sit at 2/L and 2/(μ+L); Polyak's star at (η*, β*);
    the theoretical panel's contour values are heavy_ball_rate on its own grid."""
    from viz import tuning_figure

    f = landscapes.get("narrow_trough", condition_number=20.0, angle=30.0)
    mu, big = theory.quadratic_curvatures(f)
    gd = optimizers.sweep(f, "gd", {"lr": np.geomspace(0.01, 0.2, 8)}, np.array([f.start]), 50)
    fig = tuning_figure.add_trough_theory(tuning_figure.tuning_heatmap(gd, "status"), gd, mu, big)
    assert sorted(s.x0 for s in fig.layout.shapes) == sorted([2 / big, 2 / (mu + big)])
    hb = optimizers.sweep(f, "momentum", {"lr": np.geomspace(0.02, 0.4, 6), "momentum": np.linspace(0, .9, 5)},
                          np.array([f.start]), 120, tol=1e-10, rate=True)
    fig = tuning_figure.rate_map_figure(hb, mu, big, current={"lr": 0.1, "momentum": 0.5})
    eta, b_star, _ = theory.polyak_optimum(mu, big)
    stars = [t for t in fig.data if t.type == "scatter" and t.marker.symbol == "star"]
    assert len(stars) == 2 and all((s.x[0], s.y[0]) == (eta, b_star) for s in stars)
    contour = next(t for t in fig.data if t.type == "contour")
    want = theory.heavy_ball_rate(np.asarray(contour.x)[None, :], np.asarray(contour.y)[:, None], mu, big)
    np.testing.assert_array_equal(np.asarray(contour.z), np.minimum(want, 1.2))


def test_sensitivity_and_race_figures_show_the_numbers():
    """Reference: the Sensitivity and Race objects drawn: one median line per optimizer, bars at the tuned scores."""
    from viz import tuning_figure

    f = landscapes.get("narrow_trough", condition_number=10.0, angle=0.0)
    starts = np.array([f.start, [1.0, -2.0], [2.0, 2.0]])
    lrs = np.geomspace(1e-3, 1.0, 6)
    sens = lr_sensitivity(f, ["gd", "adam"], lrs, starts, 60)
    fig = tuning_figure.sensitivity_figure(sens)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["gd", "adam"]
    race = tune_lr(f, ["gd", "adam"], lrs, starts, 60)
    fig = tuning_figure.race_figure(race)
    assert list(fig.data[0].x) == [e.score for e in race.entries]
    assert all(f"lr {e.lr:.3g}" in text for e, text in zip(race.entries, fig.data[0].text, strict=True))


def test_exact_pow_equals_pythons_pow():
    """Two algorithms that must agree: per-setting bias terms (compiled or mapped C pow) equal Python's ``b ** t``
    bit for bit, so a sweep cell's Adam equals a plain Adam run."""
    from optimizers.base import exact_pow

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0.0, 1.0, 3000), [0.0, 0.5, 0.9, 0.999, 0.9999]])
    t = rng.integers(1, MAX_STEPS + 1, x.size).astype(np.float64)
    want = np.array([b ** int(s) for b, s in zip(x.tolist(), t.tolist(), strict=True)])
    np.testing.assert_array_equal(exact_pow(x, t), want)  # compiled when numba is there
    np.testing.assert_array_equal(exact_pow(x[:100], t[:100]), want[:100])  # small: mapped in Python


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off by DESCENT_LAB_NO_JIT")
def test_fused_per_setting_tables_equal_step_by_step_numbers(monkeypatch):
    """Two algorithms that must agree: the fused backend's per-setting numbers made once as tables (Adam's bias
    terms for every step in one pass) and made one step at a time (stretches of one step, as when T × settings is
    huge) give the same per-run sweep, bit for bit, whole paths included."""
    from optimizers import fused

    f = landscapes.get("rosenbrock")
    lrs, betas = np.geomspace(1e-3, 3.0, 5), np.array([0.0, 0.6, 0.9])
    L, B = np.meshgrid(lrs, betas, indexing="ij")
    starts = np.tile([[-1.5, 2.0], [0.3, 0.3]], (L.size, 1))
    opt = Chain(optimizers.get("adam", lr=np.repeat(L.ravel(), 2), beta1=np.repeat(B.ravel(), 2)),
                schedule=schedule("cosine", period=30))
    tabled = optimizers.run(f, opt, starts, 50, backend="fused")
    monkeypatch.setattr(fused, "MAX_TABLE", 0)
    stepped = optimizers.run(f, opt, starts, 50, backend="fused")
    np.testing.assert_array_equal(tabled.params, stepped.params)
    assert list(tabled.status) == list(stepped.status)
