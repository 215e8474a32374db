"""Schedule-Free SGD and AdamW against Meta's ``schedulefree`` package 1.4.1, and their three sequences in the X-ray.

References, per test: the package itself (torch float64, in ``train()`` mode, one start per optimizer, ``x`` read
through ``eval()`` on a copy); the paper's identity that without warm-up ``x`` is the plain average of the ``z``'s;
two computations that must agree (k runs together and alone, per-run lr and separate runs, the generated kernel
and the numpy rule, the fused and the numpy runner).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import landscapes
import optimizers

torch = pytest.importorskip("torch")
schedulefree = pytest.importorskip("schedulefree")

NO_JIT = os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0")
STARTS = np.array([[-1.2, 1.0], [0.3, 0.4], [1.5, 2.1]])
STEPS = 150
#: Only lr is set (plus warm-up, whose default is 0): values at which each method makes headway on Rosenbrock.
CASES = [
    ("schedule_free_sgd", "SGDScheduleFree", {"lr": 1e-3}),
    ("schedule_free_sgd", "SGDScheduleFree", {"lr": 1e-3, "warmup_steps": 10}),
    ("schedule_free_adamw", "AdamWScheduleFree", {"lr": 0.02}),
    ("schedule_free_adamw", "AdamWScheduleFree", {"lr": 0.02, "warmup_steps": 10}),
]


def _package_run(cls_name: str, start: np.ndarray, steps: int, **kw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The package on Rosenbrock (a=1, b=100, autograd) from one start: y, x (``eval()``) and z after each step."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = getattr(schedulefree, cls_name)([p], **kw)
    opt.train()
    ys, xs, zs = [], [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        opt.step()
        ys.append(p.detach().numpy().copy())
        zs.append(opt.state[p]["z"].numpy().copy())
        # eval() moves the parameters to x; train() would move them back only up to rounding, so the run goes on
        # from the exact y saved here (train mode is the flag train() itself sets).
        y = p.detach().clone()
        opt.eval()
        xs.append(p.detach().numpy().copy())
        with torch.no_grad():
            p.copy_(y)
        opt.param_groups[0]["train_mode"] = True
    return np.array(ys), np.array(xs), np.array(zs)


def _run(name: str, starts: np.ndarray, steps: int = STEPS, backend: str = "numpy", **kw):
    return optimizers.run(landscapes.get("rosenbrock"), optimizers.get(name, **kw), starts, steps, backend=backend,
                          record_state=True, grad_tol=0.0, x_tol=0.0)


@pytest.mark.parametrize(("name", "cls_name", "kw"), CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_each_step_equals_the_schedulefree_package(name, cls_name, kw):
    """Reference: ``schedulefree.SGDScheduleFree`` / ``AdamWScheduleFree`` 1.4.1, each start run alone in torch
    float64. 150 Rosenbrock steps from three starts: y (the parameters in train mode), x (``eval()``'s point) and
    z equal the package's at every step to 1e-7 relative."""
    traj = _run(name, STARTS, **kw)
    assert list(traj.status) == ["max steps"] * 3
    for i, start in enumerate(STARTS):
        y, x, z = _package_run(cls_name, start, STEPS, **kw)
        assert np.abs(y[-1] - start).max() > 0.05  # it moved
        np.testing.assert_allclose(traj.params[1:, i], y, rtol=1e-7, atol=0, err_msg=f"y, start {start}")
        np.testing.assert_allclose(traj.extras["state.x"][1:, i], x, rtol=1e-7, atol=0, err_msg=f"x, start {start}")
        np.testing.assert_allclose(traj.extras["state.z"][1:, i], z, rtol=1e-7, atol=0, err_msg=f"z, start {start}")


@pytest.mark.parametrize("name", ["schedule_free_sgd", "schedule_free_adamw"])
def test_without_warmup_x_is_the_plain_average_of_the_z(name):
    """Reference: the paper's identity: with r = 0 and no warm-up every weight is lr^power, so c_t = 1/t and
    x_t = (z_1 + … + z_t) / t (the package's first weight is 1: the start itself drops out of the average);
    y = (1 − β) z + β x at every step."""
    traj = _run(name, STARTS, 60, lr=1e-3)
    z = traj.extras["state.z"][1:]
    mean = np.cumsum(z, axis=0) / np.arange(1, z.shape[0] + 1)[:, None, None]
    np.testing.assert_allclose(traj.extras["state.x"][1:], mean, rtol=1e-12)
    z = traj.extras["state.z"]
    np.testing.assert_allclose(traj.extras["state.c"][1:], np.broadcast_to(1.0 / np.arange(1, 61)[:, None], (60, 3)),
                               rtol=1e-13)
    beta = 0.9
    np.testing.assert_allclose(traj.params, (1 - beta) * z + beta * traj.extras["state.x"], rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.skipif(NO_JIT, reason="no jit"))])
@pytest.mark.parametrize("name", ["schedule_free_sgd", "schedule_free_adamw"])
def test_k_runs_together_equal_k_separate_runs(name, backend):
    """Reference: each start run alone. Three starts in one (k, 2) batch give the same bits, state included."""
    kw = {"lr": 2e-3, "warmup_steps": 5}
    together = _run(name, STARTS, 80, backend, **kw)
    for i in range(len(STARTS)):
        alone = _run(name, STARTS[i : i + 1], 80, backend, **kw)
        np.testing.assert_array_equal(together.params[:, i], alone.params[:, 0])
        for key in ("state.x", "state.z"):
            np.testing.assert_array_equal(together.extras[key][:, i], alone.extras[key][:, 0])


@pytest.mark.parametrize("backend", ["numpy", pytest.param("fused", marks=pytest.mark.skipif(NO_JIT, reason="no jit"))])
@pytest.mark.parametrize(("name", "extra"), [("schedule_free_sgd", {"momentum": np.array([0.9, 0.5])}),
                                             ("schedule_free_adamw", {"beta1": np.array([0.9, 0.7])})])
def test_per_run_lr_equals_separate_runs(name, extra, backend):
    """Reference: one run per setting. lr (and β) given per run, with warm-up, equal separate runs to the bit:
    the warm-up rate and the averaging weights c are each run's own."""
    lrs = np.array([1e-3, 4e-3])
    k = len(STARTS) * len(lrs)
    starts = np.repeat(STARTS, len(lrs), axis=0)
    per = {"lr": np.tile(lrs, len(STARTS)), **{n: np.tile(v, len(STARTS)) for n, v in extra.items()}}
    together = _run(name, starts, 60, backend, warmup_steps=7, **per)
    for j in range(k):
        alone = _run(name, starts[j : j + 1], 60, backend, warmup_steps=7, **{n: float(v[j]) for n, v in per.items()})
        np.testing.assert_array_equal(together.params[:, j], alone.params[:, 0], err_msg=f"run {j}")
        np.testing.assert_array_equal(together.extras["state.x"][:, j], alone.extras["state.x"][:, 0])
        np.testing.assert_array_equal(together.extras["state.lr"][:, j], alone.extras["state.lr"][:, 0])


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off")
@pytest.mark.parametrize("name", ["schedule_free_sgd", "schedule_free_adamw"])
def test_generated_kernel_equals_the_rule_with_warmup_and_weighting(name, rng):
    """Reference: the numpy ``direction`` derived from the same rule. With warm-up, r and weight_lr_power set (the
    branches tests/test_fused.py leaves at their defaults), the kernel's direction equals it to the bit over 12
    steps, and fused runs equal numpy runs."""
    from tests.test_fused import assert_bits

    k, d = 5, 2
    for hp in ({"warmup_steps": 4, "r": 1.5, "lr": 0.01}, {"weight_lr_power": 0.0, "weight_decay": 0.1, "lr": 0.3}):
        opt = optimizers.get(name, **hp)
        p = rng.normal(size=(k, d))
        state = opt.init(p)
        S = np.ascontiguousarray(opt.kernel_state(k * d), dtype=np.float64)
        for t in range(1, 13):
            g = rng.normal(scale=3.0, size=(k, d))
            want, state = opt.direction(g, {key: v for key, v in state.items() if key != "t"}, p, t)
            got = np.empty(k * d)
            type(opt).kernel(np.ascontiguousarray(g.ravel()), np.ascontiguousarray(p.ravel()), S,
                             np.asarray(opt.kernel_coefs(t), dtype=np.float64), got)
            assert_bits(got.reshape(k, d), want, f"{name} {hp} step {t}")
            assert_bits(S[1].reshape(k, d), state["x"], f"x, {name} {hp} step {t}")
            p = p - opt.lr_at(t) * want
        a, b = _run(name, STARTS, 40, "numpy", **hp), _run(name, STARTS, 40, "fused", **hp)
        np.testing.assert_array_equal(a.params, b.params)
        np.testing.assert_array_equal(a.extras["state.x"], b.extras["state.x"])


@pytest.mark.parametrize(("name", "cls_name"), [("schedule_free_sgd", "SGDScheduleFree"),
                                                ("schedule_free_adamw", "AdamWScheduleFree")])
def test_xray_draws_x_and_z_as_paths_beside_y(name, cls_name):
    """Reference: the package's x (``eval()``) and z. The X-ray figure draws the run's path (y), and dashed
    beside it x and z, whose points equal the package's to 1e-7 relative; every frame moves one marker per
    sequence to that record's x and z."""
    from viz import xray_figure as xf

    lr = 1e-3 if name == "schedule_free_sgd" else 0.02
    opt = optimizers.get(name, lr=lr)
    traj = _run(name, STARTS[:1], 40, lr=lr)
    fig = xf.xray_figure(traj, opt.xray_fields(), max_frames=41)
    data = fig.to_dict()["data"]
    _, x_ref, z_ref = _package_run(cls_name, STARTS[0], 40, lr=lr)
    for field, ref in (("x", x_ref), ("z", z_ref)):
        label = next(f.label for f in opt.state_fields if f.name == field)
        trace = next(t for t in data if t.get("name") == label)
        assert trace["line"]["dash"] == "dash"
        drawn = np.column_stack([trace["x"], trace["y"]])
        np.testing.assert_array_equal(drawn[0], STARTS[0])
        np.testing.assert_allclose(drawn[1:], ref, rtol=1e-7, atol=0)
    path = next(t for t in data if t.get("name") == "path")
    np.testing.assert_array_equal(np.column_stack([path["x"], path["y"]]), traj.params[:, 0])
    frames = fig.to_dict()["frames"]
    assert len(frames) == 41
    for fr in frames:
        r = int(np.flatnonzero(traj.steps == int(fr["name"]))[0])
        now = next(t for t in fr["data"] if t.get("name") == "points now")
        np.testing.assert_array_equal(now["x"], [traj.extras["state.z"][r, 0, 0], traj.extras["state.x"][r, 0, 0]])
        np.testing.assert_array_equal(now["y"], [traj.extras["state.z"][r, 0, 1], traj.extras["state.x"][r, 0, 1]])
    # Methods without such points get no extra traces.
    adam = optimizers.run(landscapes.get("rosenbrock"), optimizers.get("adam"), STARTS[:1], 5, record_state=True)
    adam_fig = xf.xray_figure(adam, optimizers.get("adam").xray_fields()).to_dict()
    assert not any(t.get("name") == "points now" for t in adam_fig["frames"][0]["data"])


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off")
@pytest.mark.parametrize("name", ["schedule_free_sgd", "schedule_free_adamw"])
def test_network_training_compiled_equals_numpy_with_warmup(name):
    """Reference: the numpy training loop. On Iris with mini-batches the compiled loop (which reads the warm-up
    rate from ``lr_series`` and the averaging weights from ``kernel_coefs_series``) gives the same bits."""
    import nets
    from tests.test_nets_fused import assert_same, both

    problem = nets.problem("iris", hidden=(8,), activation="tanh", batch_size=16)
    opt = optimizers.get(name, lr=0.5 if name == "schedule_free_sgd" else 0.02, warmup_steps=10)
    num, com = both(problem, opt, 3, k=2)
    assert_same(num, com)
    assert not np.array_equal(num.params[0], num.params[-1])
