"""Prodigy and Sophia-H against their reference packages, and the curvature Sophia is given.

References, per test: ``prodigyopt.Prodigy`` 1.1.2 and ``pytorch_optimizer.SophiaH`` 4.1.0 (torch, float64),
each start run alone; two computations that must agree (k runs together and one at a time; the runner and a
hand loop); a finite difference (Hessian–vector products against the analytic Hessian and against second
differences of the loss); a known value within a statistical bound (the mean of Hutchinson's estimate against
the exact diagonal); the surfaces page, through ``AppTest``, against a separate run.
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import prodigyopt
import pytest
import pytorch_optimizer
import torch

import landscapes
import nets
import optimizers
from nets.train import train
from optimizers import curvature, fused

STEPS = 150
RTOL = 1e-7
STARTS = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])
ROSEN = landscapes.get("rosenbrock")


class Rosenbrock:
    """The Rosenbrock landscape without its window, so the runner never stops a run (every step is compared)."""

    def value_and_grad(self, p):
        return ROSEN.value_and_grad(p)

    def hessian(self, p):
        return ROSEN.hessian(p)


class RosenbrockGradientOnly:
    """Rosenbrock with no ``hessian``: the runner must estimate the diagonal (Hutchinson)."""

    def value_and_grad(self, p):
        return ROSEN.value_and_grad(p)


pytestmark = pytest.mark.usefixtures("torch_float64")


def _grad(x: np.ndarray) -> np.ndarray:
    return ROSEN.value_and_grad(x[None, :])[1][0]


def _diag(x: np.ndarray) -> np.ndarray:
    return np.diagonal(ROSEN.hessian(x[None, :])[0]).copy()


def _torch_rosen(p: torch.Tensor) -> torch.Tensor:
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def _ours(name: str, hparams: dict, problem=None) -> optimizers.Trajectory:
    return optimizers.run(problem or Rosenbrock(), optimizers.get(name, **hparams), STARTS, STEPS, grad_tol=0.0,
                          x_tol=0.0, stop_on_converge=False, backend="numpy", record_state=True)


def _compare(mine: np.ndarray, ref: np.ndarray) -> float:
    """Largest ``|ours − theirs| / max(1, |theirs|)`` along one path ``(T, 2)``; the reference path must move."""
    assert np.isfinite(ref).all()
    assert np.abs(ref[-1] - ref[0]).max() > 0.05, "the path must move, or equality proves nothing"
    return float((np.abs(mine - ref).max(axis=1) / np.maximum(1.0, np.abs(ref).max(axis=1))).max())


# ---------------------------------------------------------------------------------------------------------------
# Prodigy against prodigyopt
# ---------------------------------------------------------------------------------------------------------------
def _prodigyopt_kwargs(ours: dict) -> dict:
    theirs = dict(ours)
    if "beta1" in theirs or "beta2" in theirs:
        theirs["betas"] = (theirs.pop("beta1", 0.9), theirs.pop("beta2", 0.999))
    if theirs.get("growth_rate") == 0.0:
        theirs["growth_rate"] = math.inf
    return theirs


def _prodigyopt_path(start: np.ndarray, kwargs: dict) -> tuple[np.ndarray, np.ndarray]:
    """The package's path ``(T+1, 2)`` and its d after each step ``(T+1,)``, one start alone."""
    p = torch.nn.Parameter(torch.tensor(start))
    opt = prodigyopt.Prodigy([p], **kwargs)
    path, ds = [start.copy()], [opt.param_groups[0]["d"]]
    for _ in range(STEPS):
        p.grad = torch.tensor(_grad(p.detach().numpy()))
        opt.step()
        path.append(p.detach().numpy().copy())
        ds.append(opt.param_groups[0]["d"])
    return np.array(path), np.array(ds)


PRODIGY_CASES = [
    {"lr": 1.0},
    {"lr": 0.3},
    {"lr": 1.0, "use_bias_correction": True, "weight_decay": 0.1, "d_coef": 0.5},
    {"lr": 1.0, "beta1": 0.0, "safeguard_warmup": True, "decouple": False, "weight_decay": 0.05, "beta3": 0.9},
    {"lr": 1.0, "growth_rate": 1.02, "d0": 1e-3},
]


@pytest.mark.parametrize("ours", PRODIGY_CASES, ids=[str(i) for i in range(len(PRODIGY_CASES))])
def test_prodigy_matches_prodigyopt(ours):
    """Reference: ``prodigyopt.Prodigy`` 1.1.2 in torch float64, each start alone. 150 Rosenbrock steps of the three
    starts together through the runner equal it to 1e-7 relative, and so does d after every step (the X-ray's
    ``state.d``). The first two cases set only lr; the others switch on the remaining branches."""
    traj = _ours("prodigy", ours)
    for i, start in enumerate(STARTS):
        ref, ref_d = _prodigyopt_path(start, _prodigyopt_kwargs(ours))
        assert _compare(traj.params[:, i], ref) <= RTOL
        np.testing.assert_allclose(traj.extras["state.d"][:, i], ref_d, rtol=RTOL)
        assert ref_d[-1] > 10 * ref_d[0], "d must grow from d0, or its trace shows nothing"


# ---------------------------------------------------------------------------------------------------------------
# Sophia against SophiaH
# ---------------------------------------------------------------------------------------------------------------
def _sophiah_kwargs(ours: dict) -> dict:
    theirs = {k: v for k, v in ours.items() if k != "seed"}
    if "beta1" in theirs or "beta2" in theirs:
        theirs["betas"] = (theirs.pop("beta1", 0.96), theirs.pop("beta2", 0.99))
    return theirs


def _sophiah_exact_path(start: np.ndarray, kwargs: dict) -> np.ndarray:
    """SophiaH given the exact diagonal through its ``step(hessian=...)`` on its own refresh steps."""
    p = torch.nn.Parameter(torch.tensor(start))
    opt = pytorch_optimizer.SophiaH([p], **kwargs)
    period = kwargs.get("update_period", 10)
    path = [start.copy()]
    for t in range(1, STEPS + 1):
        x = p.detach().numpy()
        p.grad = torch.tensor(_grad(x))
        opt.step(hessian=[torch.tensor(_diag(x))] if (t - 1) % period == 0 else None)
        path.append(p.detach().numpy().copy())
    return np.array(path)


SOPHIA_CASES = [
    {"lr": 6e-2},
    {"lr": 0.5},
    {"lr": 0.5, "p": 1.0, "update_period": 3, "weight_decay": 0.1},
    {"lr": 0.5, "p": 1.0, "weight_decay": 0.1, "weight_decouple": False, "beta1": 0.9},
    {"lr": 0.5, "p": 1.0, "weight_decay": 0.1, "fixed_decay": True, "update_period": 1, "beta2": 0.9},
]


@pytest.mark.parametrize("ours", SOPHIA_CASES, ids=[str(i) for i in range(len(SOPHIA_CASES))])
def test_sophia_with_the_exact_diagonal_matches_sophiah(ours):
    """Reference: ``pytorch_optimizer.SophiaH`` 4.1.0 in torch float64, each start alone.

    A fair comparison of the update rule: the package accepts external curvature through
    ``step(hessian=[...])``, which replaces its Hutchinson draw on that step. We hand it the exact Hessian
    diagonal of Rosenbrock on the steps where it would refresh (``(t − 1) % update_period == 0``) and nothing
    otherwise, which is what our runner gives Sophia on a surface (``landscape.hessian``). Everything but the
    estimator is then compared: momentum, the refresh schedule, the floor ε, the clip at ρ and both weight
    decays. The estimator is compared separately below. The first two cases set only lr."""
    traj = _ours("sophia", ours)
    for i, start in enumerate(STARTS):
        ref = _sophiah_exact_path(start, _sophiah_kwargs(ours))
        assert _compare(traj.params[:, i], ref) <= RTOL


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
def test_sophia_with_hutchinson_matches_sophiah_own_estimator_on_the_same_probes(monkeypatch, distribution):
    """Reference: ``pytorch_optimizer.SophiaH`` 4.1.0 with its own estimator: a gradient kept with its graph
    (``create_graph=True``) and torch autograd's exact Hessian–vector products, with its probe draw (``torch.randn_like`` or
    ``torch.randint_like``) replaced by our probe for that step, so both estimate with the same z. Our runner,
    given Rosenbrock without its ``hessian``, estimates ``z ⊙ Hz`` by central differences of the gradient: the
    first estimate equals the package's to 1e-7 relative (its O(h²) error is about 1e-9), and the paths,
    along which the valley amplifies that difference (measured: 1e-6 Gaussian, 2e-7 Rademacher), to 1e-5."""
    hp = {"lr": 0.5, "p": 1.0, "update_period": 2, "hessian_distribution": distribution, "seed": 7}
    traj = _ours("sophia", hp, RosenbrockGradientOnly())
    step = {"t": 0}

    def probe(p, *args, **kwargs):
        z = curvature.probe_vectors(7, step["t"], 2, 1, distribution)[0]
        return torch.tensor(z if distribution == "gaussian" else (z + 1.0) / 2.0)

    monkeypatch.setattr(torch, "randn_like", probe)
    monkeypatch.setattr(torch, "randint_like", probe)
    for i, start in enumerate(STARTS):
        p = torch.nn.Parameter(torch.tensor(start))
        opt = pytorch_optimizer.SophiaH([p], **_sophiah_kwargs(hp))
        path = [start.copy()]
        for t in range(1, STEPS + 1):
            step["t"] = t
            # The graph kept on p.grad is what the package differentiates again (backward(create_graph=True)).
            p.grad = torch.autograd.grad(_torch_rosen(p), p, create_graph=True)[0]
            opt.step()
            path.append(p.detach().numpy().copy())
            if t == 1:  # the same point on both sides; later refreshes sit on paths that differ by rounding
                theirs = opt.state[p]["hessian"].detach().numpy()
                np.testing.assert_allclose(traj.extras["state.hessian"][t, i], theirs, rtol=1e-7,
                                           atol=1e-7 * np.abs(theirs).max())
        assert _compare(traj.params[:, i], np.array(path)) <= 1e-5


def test_defaults_and_names_are_the_packages():
    """Reference: the signatures of ``prodigyopt.Prodigy`` and ``pytorch_optimizer.SophiaH``. Every hyperparameter
    we offer carries the package's name and default; the only stand-ins are the ones a slider cannot hold
    (Prodigy's ``beta3=None`` as 0, ``growth_rate=inf`` as 0) and Sophia's probe ``seed``, which is ours."""
    for name, cls, stand_in in (("prodigy", prodigyopt.Prodigy, {"beta3": (None, 0.0), "growth_rate": (math.inf, 0.0)}),
                                ("sophia", pytorch_optimizer.SophiaH, {})):
        theirs = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
        theirs["beta1"], theirs["beta2"] = theirs.pop("betas")
        ours = {s.name: s.default for s in optimizers.REGISTRY[name].specs}
        extra = set(ours) - set(theirs)
        assert extra == ({"seed"} if name == "sophia" else set()), extra
        for key in set(ours) - extra:
            want = stand_in.get(key, (theirs[key], theirs[key]))
            assert theirs[key] == want[0] and ours[key] == pytest.approx(want[1]), (name, key, ours[key], theirs[key])


# ---------------------------------------------------------------------------------------------------------------
# k runs together equal k separate runs
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["prodigy", "sophia"])
def test_k_runs_together_equal_k_separate_runs_on_a_surface_and_a_network(name):
    """Reference: each run alone. Prodigy's d sums over a run's coordinates and Sophia's network curvature is a
    seeded draw; both are kept per run (probes shared by the runs of a step), so three runs together equal the
    three alone to the bit: 150 Rosenbrock steps (with the recorded state), 60 with one lr per run, and 5 epochs
    of b = 16 on Iris."""
    together = _ours(name, {"lr": 0.5})
    for i in range(len(STARTS)):
        alone = optimizers.run(Rosenbrock(), optimizers.get(name, lr=0.5), STARTS[i:i + 1], STEPS, grad_tol=0.0,
                               x_tol=0.0, stop_on_converge=False, backend="numpy", record_state=True)
        np.testing.assert_array_equal(together.params[:, i], alone.params[:, 0])
        for key, arr in alone.extras.items():
            np.testing.assert_array_equal(together.extras[key][:, i], arr[:, 0], err_msg=key)
    # One lr per run (how the tuning section sweeps lr): each run equals a run alone at its own lr.
    lrs = [0.1, 0.5, 2.0]
    swept = optimizers.run(Rosenbrock(), optimizers.get(name, lr=np.array(lrs)), STARTS, 60, backend="numpy")
    for i, lr in enumerate(lrs):
        alone = optimizers.run(Rosenbrock(), optimizers.get(name, lr=lr), STARTS[i:i + 1], 60, backend="numpy")
        np.testing.assert_array_equal(swept.params[:, i], alone.params[:, 0])
    prob = nets.problem("iris", hidden=(4,), batch_size=16)
    hp = {"lr": 0.05} if name == "sophia" else {}
    nets_together = train(prob, optimizers.get(name, **hp), 5, k=3)
    for i in range(3):
        alone = train(prob, optimizers.get(name, **hp), 5, theta0=nets_together.params[0, i:i + 1])
        np.testing.assert_array_equal(nets_together.params[:, i], alone.params[:, 0])
    assert np.abs(nets_together.params[-1] - nets_together.params[0]).max() > 1e-3


# ---------------------------------------------------------------------------------------------------------------
# The curvature: Hessian–vector products and Hutchinson's estimate
# ---------------------------------------------------------------------------------------------------------------
def test_hessian_vector_products_match_finite_difference_references():
    """References: on Rosenbrock, the analytic Hessian times v (1e-7 relative); on an Iris network, which has no
    analytic Hessian, vᵀHv from a second difference of the loss values, (L(θ+hv) − 2L(θ) + L(θ−hv))/h², a finite
    difference that never calls the gradient (1e-6 relative at h = 1e-4, where its O(h²) error and its rounding,
    about 1e-16/h², are both near 1e-7)."""
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(4, 2))
    v = rng.normal(size=(4, 2))
    hv = curvature.central_hvp(lambda x: ROSEN.value_and_grad(x)[1], theta, v)
    exact = np.einsum("kij,kj->ki", ROSEN.hessian(theta), v)
    np.testing.assert_allclose(hv, exact, rtol=1e-7, atol=1e-7 * np.abs(exact).max())

    prob = nets.problem("iris", hidden=(5,))
    theta = prob.init(3, 1)
    v = rng.normal(size=theta.shape)
    hv = curvature.central_hvp(lambda x: prob.value_and_grad(x)[1], theta, v)
    h = 1e-4
    second = (prob.value(theta + h * v) - 2.0 * prob.value(theta) + prob.value(theta - h * v)) / h**2
    np.testing.assert_allclose(np.einsum("kp,kp->k", v, hv), second, rtol=1e-6)


def test_a_float32_network_gets_a_step_that_suits_its_precision():
    """Reference: the same estimate on the float64 network, with the same probes. A float32 network's gradients
    carry about 1e-7 relative rounding, so the runner's central difference takes h = 1e-2 there, which keeps
    the diagonal within 1e-4 of float64's (h = 1e-4 would leave about 3e-3)."""
    p64, p32 = nets.problem("iris", hidden=(8,)), nets.problem("iris", hidden=(8,), dtype="float32")
    theta = p64.init(2, 0)
    opt = optimizers.get("sophia", num_samples=4)
    est = [curvature.provide(("hessian_diag",), p, lambda x, p=p: p.value_and_grad(x)[1], theta, 1, opt)["hessian_diag"]
           for p in (p64, p32)]
    assert np.abs(est[1] - est[0]).max() <= 1e-4 * np.abs(est[0]).max()


def _hessian_by_columns(grad_fn, theta: np.ndarray) -> np.ndarray:
    """The full Hessian ``(P, P)`` of one run, column by column (H eᵢ), symmetrized."""
    P = theta.shape[1]
    cols = np.stack([curvature.central_hvp(grad_fn, theta, np.eye(P)[i][None, :])[0] for i in range(P)], axis=1)
    return 0.5 * (cols + cols.T)


@pytest.mark.parametrize("distribution", ["gaussian", "rademacher"])
def test_hutchinson_mean_is_the_exact_diagonal_within_its_standard_error(distribution):
    """Reference: a known value within a statistical bound. Over N = 2,000 probes (the runner's draws for steps
    1..20, 100 probes each), the mean of ``z ⊙ Hz`` lies within 5 standard errors of the exact diagonal in every
    coordinate, the error computed from H itself: Var = Σ_{j≠i} H_ij² for ±1 probes, plus 2H_ii² for Gaussian
    ones. Two problems: a 6-D quadratic whose Hessian A is known exactly, and an Iris network whose Hessian is
    built column by column."""
    rng = np.random.default_rng(11)
    B = rng.normal(size=(6, 6))
    A = B @ B.T + np.diag(np.arange(1.0, 7.0))

    class Quadratic:
        def value_and_grad(self, p):
            return 0.5 * np.einsum("ki,ij,kj->k", p, A, p), p @ A

    prob = nets.problem("iris", hidden=(3,))
    theta_net = prob.init(1, 2)
    cases = [(Quadratic(), rng.normal(size=(1, 6)), A),
             (prob, theta_net, _hessian_by_columns(lambda x: prob.value_and_grad(x)[1], theta_net))]
    sophia = optimizers.get("sophia", num_samples=100, hessian_distribution=distribution, seed=5)
    for problem, theta, H in cases:
        grad_fn = lambda x, problem=problem: problem.value_and_grad(x)[1]  # noqa: E731
        draws = [curvature.provide(("hessian_diag",), problem, grad_fn, theta, t, sophia)["hessian_diag"][0]
                 for t in range(1, 21)]
        n = 100 * len(draws)
        mean = np.mean(draws, axis=0)
        var = (H**2).sum(axis=1) - np.diag(H) ** 2 + (2.0 * np.diag(H) ** 2 if distribution == "gaussian" else 0.0)
        se = np.sqrt(var / n)
        assert np.all(np.abs(mean - np.diag(H)) <= 5.0 * se + 1e-9 * np.abs(np.diag(H))), (mean, np.diag(H), se)
        # The bound is tight enough to mean something: the mean is far closer to the diagonal than to zero.
        assert np.linalg.norm(mean - np.diag(H)) < 0.25 * np.linalg.norm(np.diag(H))


def test_the_runner_gives_sophia_the_minibatch_estimate_on_refresh_steps_only():
    """Reference: the estimate rebuilt by hand. On a b = 16 Iris network the Hessian diagonal Sophia receives at
    step 1 (recorded as ``state.hessian``) is Hutchinson's ``z ⊙ Hz`` with the probes of (seed, 1) and the
    central difference of that step's mini-batch gradient; it is unchanged until step 11 (update_period 10),
    where it is redrawn."""
    prob = nets.problem("iris", hidden=(4,), batch_size=16)
    theta = prob.init(2, 0)
    opt = optimizers.get("sophia", lr=0.05, seed=3)
    traj = optimizers.run(prob, opt, theta, 12, grad_tol=0.0, stop_on_converge=False, backend="numpy",
                          record_state=True)
    probes = curvature.probe_vectors(3, 1, prob.n_params)
    by_hand = probes[0] * curvature.central_hvp(lambda x: prob.batch_value_and_grad(x, 0)[1], theta,
                                                np.broadcast_to(probes[0], theta.shape))
    rec = traj.extras["state.hessian"]
    np.testing.assert_array_equal(rec[1], by_hand)
    for t in range(2, 11):
        np.testing.assert_array_equal(rec[t], rec[1])
    assert np.abs(rec[11] - rec[1]).max() > 0


# ---------------------------------------------------------------------------------------------------------------
# Backends and misuse
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["prodigy", "sophia"])
def test_surfaces_run_fused_and_networks_decline(name):
    """Reference: the numpy loop. Prodigy sums over a run (a per-run point rule) and Sophia reads the Hessian
    diagonal (the surface's compiled one): ``backend="auto"`` on a surface job big enough to pick the fused runner
    runs compiled and gives the numpy loop's result, while the compiled network loop refuses them with a reason."""
    opt = optimizers.get(name)
    assert fused.unsupported(ROSEN, opt) is None
    starts = np.tile(STARTS, (fused.MIN_WORK // 20 // 3 + 1, 1)) * 0.5
    auto = optimizers.run(ROSEN, opt, starts, 20, backend="auto", record_end_only=True)
    numpy = optimizers.run(ROSEN, opt, starts, 20, backend="numpy", record_end_only=True)
    assert len(starts) * 20 >= fused.MIN_WORK
    np.testing.assert_array_equal(auto.params, numpy.params)
    prob = nets.problem("xor", hidden=(2,), batch_size=1)
    with pytest.raises(ValueError, match="no compiled kernel"):
        train(prob, opt, 2, k=1, backend="compiled")
    # What "auto" asks before it picks the compiled loop for a long job.
    assert "no compiled kernel" in nets.fused.unsupported(prob, opt, 1)


def test_a_sophia_step_without_the_diagonal_says_what_it_needs():
    """Reference: the declared refresh schedule. A direct step that needs the diagonal and lacks it raises,
    naming it; a step between refreshes needs nothing; the runner asks on steps 1, 11, 21 only."""
    opt = optimizers.get("sophia")
    state = opt.init(STARTS)
    with pytest.raises(ValueError, match="Hessian diagonal"):
        opt.step(STARTS, np.ones_like(STARTS), state)
    p, state = opt.step(STARTS, np.ones_like(STARTS), state, hessian_diag=np.ones_like(STARTS))
    opt.step(p, np.ones_like(p), state)  # step 2: no refresh
    assert [t for t in range(1, 25) if opt.needs_at(t)] == [1, 11, 21]
    assert optimizers.get("prodigy").needs == ()
    with pytest.raises(ValueError, match="cannot provide"):
        curvature.provide(("third_derivative",), ROSEN, lambda x: x, STARTS, 1, opt)


# ---------------------------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_surfaces_xray_draws_prodigys_d_over_time_and_sophia_renders():
    """Reference: a separate ``optimizers.run`` with the same config and start, recorded at every step: the X-ray
    figure's trace "d (step size)" is its ``state.d`` over the steps (which equals prodigyopt's d, above), and
    it grows from d₀. Switching the X-ray to Sophia renders its figure without error."""
    from streamlit.testing.v1 import AppTest

    from optimizers.config import OptimizerConfig

    steps = 120
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    for k, v in {"surface": "rosenbrock", "steps": str(steps), "o0": "prodigy", "o1": "sophia", "o1.lr": "0.5",
                 "xray": "0"}.items():
        at.query_params[k] = v
    at.switch_page("ui/pages/surfaces.py")
    at.run()
    assert not at.exception and not at.error
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    xray = [f for f in figs if any(t.get("name") == "readout" for t in f["data"])]
    assert len(xray) == 1
    trace = next(t for t in xray[0]["data"] if t.get("name") == "d (step size)")
    start = np.array([[at.number_input(key="surf.w.x").value, at.number_input(key="surf.w.y").value]])
    ref = optimizers.run(ROSEN, OptimizerConfig.make("prodigy", {}).build(), start, steps, record_state=True)
    x, y = np.asarray(trace["x"], dtype=float), np.asarray(trace["y"], dtype=float)
    np.testing.assert_array_equal(x, ref.steps)
    np.testing.assert_allclose(y, ref.extras["state.d"][:, 0], rtol=1e-12)
    assert y[-1] > 100 * y[0]
    at.selectbox(key="surf.w.xray").set_value(1).run()
    assert not at.exception and not at.error
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(t.get("name") == "clipped share" for f in figs for t in f["data"])


# ---------------------------------------------------------------------------------------------------------------
# The work budget
# ---------------------------------------------------------------------------------------------------------------
def test_gradient_cost_counts_the_gradients_the_runner_takes_and_the_budget_charges_them():
    """Reference: the gradient evaluations counted on a problem without a Hessian (rows asked for, per run and
    step): Sophia's declared ``gradient_cost`` is 1 + 2·num_samples/update_period, and the networks page's
    budget, told so, cuts the epochs of a job a plain optimizer runs in full by that factor."""
    from common import budget

    class Counting:
        rows = 0

        def value_and_grad(self, p):
            Counting.rows += len(p)
            return 0.5 * (p * p).sum(-1), 1.0 * p

    for hp in ({}, {"num_samples": 3, "update_period": 2}, {"num_samples": 10, "update_period": 1}):
        opt = optimizers.get("sophia", **hp)
        Counting.rows, k, steps = 0, 3, 40
        optimizers.run(Counting(), opt, np.ones((k, 4)), steps, grad_tol=0.0, x_tol=0.0, backend="numpy")
        assert (Counting.rows / k - 1) / steps == pytest.approx(opt.gradient_cost())
    assert optimizers.get("prodigy").gradient_cost() == 1.0
    heavy = optimizers.get("sophia", num_samples=10, update_period=1).gradient_cost()
    args = dict(n_params=67, rows=120, batches=[16], epochs=3000, seeds=1)
    plain, sophia = budget.net_plan(**args), budget.net_plan(**args, gradients=[heavy])
    assert plain.values["epochs"] == 3000 and heavy * plain.estimate > budget.SECONDS  # only Sophia is cut
    assert sophia.values["epochs"] == int(3000 * budget.SECONDS / (heavy * plain.estimate))
    assert sophia.estimate <= budget.SECONDS
