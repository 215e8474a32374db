"""The X-ray: the optimizer's recorded state, the curvature along a path, sharpness, and their figures.

Each test names its reference in its docstring: the state :meth:`Optimizer.step` returns, an update
rebuilt by hand, ``numpy.linalg.eigvalsh``, a Hessian built by central differences, torch's
``autograd.functional.hessian``, a theoretical rate, or two backends that must agree.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import landscapes
import optimizers
from optimizers.transforms import Chain, Clip, schedule

NO_JIT = os.environ.get("DESCENT_LAB_NO_JIT", "") not in ("", "0")


def _lr_kw(name: str, lr: float) -> dict:
    return {"lr": lr} if "lr" in optimizers.get(name).hparams else {}


def _stored(opt) -> list[str]:
    return [f.name for f in opt.state_fields if f.derive is None]


# ---------------------------------------------------------------------------------------------------------------
# Recorded state
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", optimizers.names())
def test_every_state_array_is_declared(name):
    """Reference: the state ``init`` creates. Every ``(k, d)`` array in it is a declared, documented field."""
    for hp in ({}, {"amsgrad": True}, {"centered": True, "momentum": 0.5}):
        try:
            opt = optimizers.get(name, **hp)
        except ValueError:
            continue
        state = opt.init(np.zeros((3, 2)))
        arrays = {key for key, v in state.items() if key != "t" and np.shape(v) == (3, 2)}
        assert arrays <= set(_stored(opt)), f"{name}{hp}: undeclared state {arrays - set(_stored(opt))}"
        for f in opt.xray_fields():
            assert f.label and f.doc.endswith("."), f"{name}: field {f.name} needs a label and a sentence"


@pytest.mark.parametrize("name", optimizers.names())
def test_recorded_state_equals_the_state_the_step_returns(name):
    """Reference: a loop over ``opt.step`` by hand. Every 3rd step's recorded state equals the step's own, and
    ``state.grad`` / ``state.step`` are the gradient it received and ``p_t − p_{t−1}``."""
    f = landscapes.get("rosenbrock")
    opt = optimizers.get(name, **_lr_kw(name, 1e-4))
    starts = np.array([[-1.2, 1.0], [0.3, 0.4], [1.5, 2.1]])
    traj = optimizers.run(f, opt, starts, 20, record_every=3, backend="numpy", record_state=True)
    assert set(traj.status) == {"max steps"}
    p, state = starts.copy(), opt.init(starts)
    states, grads, moves = {0: state}, {}, {}
    for t in range(1, 21):
        g = f.value_and_grad(p)[1]
        more = {"hessian_diag": np.diagonal(f.hessian(p), axis1=-2, axis2=-1)} if opt.needs_at(t) else {}
        new_p, state = opt.step(p, g, state, **more)
        states[t], grads[t], moves[t] = state, g, new_p - p
        p = new_p
    for r, t in enumerate(traj.steps.tolist()):
        for key in _stored(opt):
            if key in states[t]:
                np.testing.assert_array_equal(traj.extras[f"state.{key}"][r], states[t][key], err_msg=f"{key} t={t}")
        if t:
            np.testing.assert_array_equal(traj.extras["state.grad"][r], grads[t])
            np.testing.assert_array_equal(traj.extras["state.step"][r], moves[t])
            np.testing.assert_array_equal(traj.extras["state.lr"][r], np.full(3, opt.lr_at(t)))
        else:
            assert np.isnan(traj.extras["state.step"][0]).all()


def _kernel_optimizers() -> list[str]:
    from optimizers import fused

    return [n for n in optimizers.names() if fused._owns(optimizers.get(n), "direction")]


@pytest.mark.skipif(NO_JIT, reason="compiled kernels switched off")
@pytest.mark.parametrize("name", _kernel_optimizers())
def test_fused_state_equals_numpy_state(name):
    """Two backends that must agree: the fused loop's recorded state equals the numpy loop's to the bit, in every
    kernel branch, with clipping and a schedule, and for runs that diverge, leave the window or converge."""
    from tests.test_fused import grid, hparam_variants

    f = landscapes.get("rosenbrock")
    starts = grid(f, 5, grow=0.2)
    opts = [optimizers.get(name, **{**hp, **_lr_kw(name, lr)}) for hp in hparam_variants(name) for lr in (2e-3, 0.5)]
    opts.append(Chain(optimizers.get(name, **_lr_kw(name, 0.01)), clip=Clip("norm", 1.0),
                      schedule=schedule("cosine", period=20)))
    for opt in opts:
        a = optimizers.run(f, opt, starts, 25, record_every=2, backend="numpy", record_state=True)
        b = optimizers.run(f, opt, starts, 25, record_every=2, backend="fused", record_state=True)
        np.testing.assert_array_equal(a.params, b.params)
        assert a.extras.keys() == b.extras.keys()
        for key in a.extras:
            np.testing.assert_array_equal(b.extras[key], a.extras[key], err_msg=f"{opt!r} {key}")


def test_stopped_runs_have_no_state_after_they_stop():
    """Reference: the runner's statuses. A run that diverged carries NaN after its stop step, finite before."""
    f = landscapes.get("rosenbrock")
    traj = optimizers.run(f, optimizers.get("gd", lr=0.01), [[-1.5, 2.0], [0.0, 0.0]], 30, backend="numpy",
                          record_state=True)
    assert traj.status[0] in ("diverged", "left window") and traj.status[1] == "max steps"
    stop = int(traj.status_step[0])
    m = traj.extras["state.grad"]
    assert np.isfinite(m[1:stop + 1, 0]).all() and np.isnan(m[stop + 1:, 0]).all()
    assert np.isfinite(m[1:, 1]).all()


def _adam_by_hand(grads_fn, p0, lr_t, b1, b2, eps, steps):
    """Adam written out with scalar loops over coordinates (the paper's Algorithm 1); per step the
    bias-corrected moments and the new point."""
    p = [list(map(float, row)) for row in p0]
    k, d = len(p), len(p[0])
    m = [[0.0] * d for _ in range(k)]
    v = [[0.0] * d for _ in range(k)]
    out = []
    for t in range(1, steps + 1):
        g = grads_fn(np.array(p))
        m_hat = np.empty((k, d))
        v_hat = np.empty((k, d))
        for i in range(k):
            for j in range(d):
                m[i][j] = b1 * m[i][j] + (1 - b1) * g[i, j]
                v[i][j] = b2 * v[i][j] + (1 - b2) * g[i, j] ** 2
                m_hat[i, j] = m[i][j] / (1 - b1**t)
                v_hat[i, j] = v[i][j] / (1 - b2**t)
        for i in range(k):
            for j in range(d):
                p[i][j] -= lr_t(t) * m_hat[i, j] / (math.sqrt(v_hat[i, j]) + eps)
        out.append((m_hat, v_hat, np.array(p)))
    return out


def test_adam_scale_is_lr_over_root_v_hat_rebuilt_by_hand():
    """Reference: Adam rebuilt by hand. ``state.scale`` (the ellipse's semi-axes) is η_t/(√v̂+ε) per coordinate,
    the bias corrections are 1 − βᵗ, and the step taken is −scale · m̂; with a cosine schedule, η_t is scheduled."""
    f = landscapes.get("narrow_trough")
    b1, b2, eps, lr = 0.8, 0.99, 1e-3, 0.05
    sched = schedule("cosine", period=30, floor=0.1)
    opt = Chain(optimizers.get("adam", lr=lr, beta1=b1, beta2=b2, eps=eps), schedule=sched)
    starts = np.array([[-2.0, 1.0], [1.0, 2.5]])
    traj = optimizers.run(f, opt, starts, 25, backend="numpy", record_state=True, x_tol=0.0)
    hand = _adam_by_hand(lambda p: f.value_and_grad(p)[1], starts, lambda t: lr * sched(t), b1, b2, eps, 25)
    for t in range(1, 26):
        m_hat, v_hat, p = hand[t - 1]
        scale = lr * sched(t) / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(traj.extras["state.scale"][t], scale, rtol=1e-12)
        np.testing.assert_allclose(traj.extras["state.step"][t], -scale * m_hat, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(traj.extras["state.bias1"][t], 1 - b1**t, rtol=1e-14)
        np.testing.assert_allclose(traj.extras["state.bias2"][t], 1 - b2**t, rtol=1e-14)
        np.testing.assert_allclose(traj.params[t], p, rtol=1e-11)


def test_lion_interpolation_and_clip_factor_rebuilt_by_hand():
    """Reference: the updates rebuilt by hand. Lion moves each coordinate by −η·sign(β₁m_{t−1} + (1−β₁)g), and
    the clip factor of a norm clip is min(1, c/‖g‖)."""
    f = landscapes.get("rosenbrock")
    b1, b2, lr, thr = 0.9, 0.99, 0.01, 5.0
    opt = Chain(optimizers.get("lion", lr=lr, beta1=b1, beta2=b2), clip=Clip("norm", thr))
    starts = np.array([[-1.5, 2.0], [0.2, 0.1]])
    traj = optimizers.run(f, opt, starts, 15, backend="numpy", record_state=True)
    p, m = starts.copy(), np.zeros_like(starts)
    for t in range(1, 16):
        g = f.value_and_grad(p)[1]
        norm = np.sqrt((g * g).sum(axis=1))
        factor = np.minimum(1.0, thr / norm)
        g = g * factor[:, None]
        c = b1 * m + (1 - b1) * g
        np.testing.assert_allclose(traj.extras["state.clip"][t], factor, rtol=1e-12)
        np.testing.assert_allclose(traj.extras["state.c"][t], c, rtol=1e-12)
        np.testing.assert_allclose(traj.extras["state.step"][t], -lr * np.sign(c), rtol=1e-9)
        p, m = p - lr * np.sign(c), b2 * m + (1 - b2) * g


# ---------------------------------------------------------------------------------------------------------------
# Curvature along the path
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", landscapes.names())
def test_path_eigenvalues_equal_eigvalsh_point_by_point(name):
    """Reference: ``numpy.linalg.eigvalsh`` of ``landscape.hessian`` at each point, one call per point. The
    vectorized eigenvalues along an Adam path (R, k, 2) equal it, and a non-finite point gives NaN."""
    from landscapes import curvature

    f = landscapes.get(name)
    starts = np.array([f.start, *list(f.presets.values())[:2]], dtype=float)
    traj = optimizers.run(f, optimizers.get("adam", lr=0.05), starts, 30, backend="numpy")
    eig = curvature.path_eigenvalues(f, traj.params)
    assert eig.shape == (*traj.params.shape[:2], 2)
    for r in range(traj.params.shape[0]):
        for i in range(traj.k):
            want = np.linalg.eigvalsh(f.hessian(traj.params[r, i]))
            np.testing.assert_allclose(eig[r, i], want, rtol=1e-12, atol=1e-12)
    assert np.isnan(curvature.hessian_eigenvalues(f, np.array([[np.nan, 0.0]]))).all()


def test_readout_and_classification_of_known_critical_points():
    """Reference: the surfaces' own critical points (their kinds are listed with them). The saddle surface's saddle
    reads "a saddle", Himmelblau's minima are bowls and saddles indefinite, its local maximum a hilltop."""
    from landscapes import curvature

    sad = landscapes.get("saddle")
    pt = next(c.point for c in sad.minima if c.kind == "saddle")
    lam = curvature.hessian_eigenvalues(sad, np.array(pt))
    assert lam[0] < 0 < lam[1]
    text = curvature.readout(120, *lam)
    assert text.startswith("step 120: λ = (−") and text.endswith("a saddle")
    assert curvature.readout(120, -2.0, 4.0) == "step 120: λ = (−2.0, 4.0), a saddle"
    assert curvature.readout(3, 1.0, 20.0).endswith("a bowl")
    assert curvature.readout(3, -3.0, -1.0).endswith("a hilltop")
    assert curvature.readout(3, 0.0, 2.0).endswith("flat in one direction")
    him = landscapes.get("himmelblau")
    for c in him.minima:
        code = curvature.classify(curvature.hessian_eigenvalues(him, np.array(c.point)))
        assert int(code) == {"global": curvature.POSITIVE_DEFINITE, "local": curvature.POSITIVE_DEFINITE,
                             "saddle": curvature.INDEFINITE}[c.kind]
    # Himmelblau's local maximum near (−0.2708, −0.9230)
    top = curvature.hessian_eigenvalues(him, np.array([-0.270845, -0.923039]))
    assert int(curvature.classify(top)) == curvature.NEGATIVE_DEFINITE


def test_curvature_map_shades_the_trough_as_a_bowl_and_the_saddle_by_sign():
    """Reference: the analytic Hessians. The trough (a positive definite quadratic) is a bowl at every grid point;
    Himmelblau, with four minima, four saddles and a maximum, shows all three kinds."""
    from landscapes import curvature

    trough = curvature.curvature_map(landscapes.get("narrow_trough"), 20)
    assert trough.kinds.shape == (20, 20) and trough.share(curvature.POSITIVE_DEFINITE) == 1.0
    him = curvature.curvature_map(landscapes.get("himmelblau"), 60)
    for code in (curvature.POSITIVE_DEFINITE, curvature.INDEFINITE, curvature.NEGATIVE_DEFINITE):
        assert him.share(code) > 0
    with pytest.raises(ValueError, match="resolution"):
        curvature.curvature_map(landscapes.get("himmelblau"), 1)


def test_eigen_split_on_the_trough_follows_the_gd_rate():
    """Reference: the theoretical rate. Under GD with rate η on the trough each eigen-component shrinks by exactly
    1 − ηλᵢ per step, and the loss parts add up to f − f*."""
    from landscapes import curvature

    f = landscapes.get("narrow_trough", condition_number=20.0, angle=30.0)
    lr = 0.06
    traj = optimizers.run(f, optimizers.get("gd", lr=lr), [f.start], 40, backend="numpy", x_tol=0.0)
    split = curvature.eigen_split(f, traj.params)
    np.testing.assert_allclose(split.eigenvalues, [1.0, 20.0], rtol=1e-12)
    c = split.components[:, 0, :]
    t = traj.steps[:, None]
    np.testing.assert_allclose(c, c[0] * (1 - lr * split.eigenvalues) ** t, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(split.loss_parts.sum(axis=-1), traj.values, rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# Sharpness on networks
# ---------------------------------------------------------------------------------------------------------------
SMALL_NETS = [
    dict(dataset="xor", hidden=(4,), activation="tanh"),  # sigmoid output, cross-entropy
    dict(dataset="iris", hidden=(5,), activation="sigmoid", loss="mse", l2=0.01),  # softmax output, MSE, L2
    dict(dataset="moons", hidden=(6, 4), activation="tanh", output="softmax"),
]


def _fd_hessian(problem, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The full Hessian ``(P, P)`` by central differences of ``problem.value_and_grad``, one column per parameter."""
    P = theta.size
    E = np.eye(P)
    g_plus = problem.value_and_grad(theta[None, :] + h * E)[1]
    g_minus = problem.value_and_grad(theta[None, :] - h * E)[1]
    H = (g_plus - g_minus) / (2 * h)
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("setup", SMALL_NETS, ids=lambda s: f"{s['dataset']}-{s['hidden']}")
def test_sharpness_equals_top_eigenvalues_of_the_finite_difference_hessian(setup):
    """Reference: the Hessian built column by column from central differences of ``value_and_grad``; its top three
    ``eigvalsh`` equal ``nets.sharpness(theta, n=3)`` for three networks at once, to 1e-5 relative."""
    import nets

    kw = dict(setup)
    prob = nets.problem(kw.pop("dataset"), **kw)
    theta = prob.init(3, seed=4)
    got = nets.sharpness(prob, theta, n=3)
    assert got.shape == (3, 3)
    for i in range(3):
        want = np.linalg.eigvalsh(_fd_hessian(prob, theta[i]))[::-1][:3]
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-7 * abs(want[0]))


def _torch_loss(problem, torch):
    """The problem's objective written in torch from the flat vector, for ``autograd.functional.hessian``."""
    mlp = problem.mlp
    X = torch.from_numpy(np.ascontiguousarray(problem.X_train, dtype=np.float64))
    y = torch.from_numpy(np.asarray(problem.y_train, dtype=np.int64))
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[mlp.activation]

    def loss(theta):
        a = X
        for i, ls in enumerate(mlp.layer_slices):
            z = a @ theta[ls.weights].reshape(ls.n_in, ls.n_out) + theta[ls.bias]
            a = act(z) if i < len(mlp.layer_slices) - 1 else z
        n = X.shape[0]
        if mlp.output == "sigmoid":
            t = y.to(torch.float64)[:, None]
            data = (torch.nn.functional.softplus(a) - t * a).sum() / n if mlp.loss == "cross_entropy" \
                else ((torch.sigmoid(a) - t) ** 2).sum() / n
        elif mlp.loss == "cross_entropy":
            data = torch.nn.functional.cross_entropy(a, y)
        else:
            onehot = torch.nn.functional.one_hot(y, mlp.n_classes).to(torch.float64)
            data = ((torch.softmax(a, dim=1) - onehot) ** 2).sum() / (n * mlp.n_classes)
        penalty = sum((theta[ls.weights] ** 2).sum() for ls in mlp.layer_slices)
        return data + 0.5 * mlp.l2 * penalty

    return loss


@pytest.mark.parametrize("setup", SMALL_NETS, ids=lambda s: f"{s['dataset']}-{s['hidden']}")
def test_sharpness_equals_torch_autograd_hessian(setup):
    """Reference: ``torch.autograd.functional.hessian`` of the same network and loss written in torch; its top two
    eigenvalues equal ``nets.sharpness(theta, n=2)`` to 1e-6 relative."""
    torch = pytest.importorskip("torch")
    import nets

    kw = dict(setup)
    prob = nets.problem(kw.pop("dataset"), **kw)
    theta = prob.init(2, seed=9)
    got = nets.sharpness(prob, theta, n=2)
    loss = _torch_loss(prob, torch)
    for i in range(2):
        t = torch.tensor(theta[i], dtype=torch.float64)
        np.testing.assert_allclose(float(loss(t)), prob.value(theta[i:i + 1])[0], rtol=1e-12)
        H = torch.autograd.functional.hessian(loss, t, vectorize=True).numpy()
        want = np.linalg.eigvalsh(H)[::-1][:2]
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-8 * abs(want[0]))


def test_sharpness_rejects_bad_input():
    """Reference: the documented ValueErrors (n out of range, non-finite theta, wrong shape)."""
    import nets

    prob = nets.problem("xor", hidden=(2,))
    theta = prob.init(1)
    for bad in (dict(n=0), dict(n=prob.n_params + 1), dict(tol=-1.0)):
        with pytest.raises(ValueError):
            nets.sharpness(prob, theta, **bad)
    with pytest.raises(ValueError, match="finite"):
        nets.sharpness(prob, np.full_like(theta, np.nan))
    with pytest.raises(ValueError, match="shape"):
        nets.sharpness(prob, np.zeros((1, prob.n_params + 1)))


@pytest.mark.slow
def test_edge_of_stability_full_batch_gd_on_spirals():
    """Reference: the edge of stability (Cohen et al., 2021): under full-batch GD at rate η the sharpness rises
    until it reaches 2/η, the stability limit of GD on a quadratic, and then hovers there.

    Setup: two-spirals data (200 points, the dataset's seed 0), a 2-10-10-1 tanh MLP with a sigmoid output and
    cross-entropy, Xavier-normal init for 4 networks (init seeds 0-3), full-batch GD at η = 0.5 (2/η = 4) for 800
    epochs. Every network starts below 0.4 · 2/η; over the last 400 epochs (sharpness every 20 epochs) each
    network's median is within 15% of 2/η (measured: 1.05-1.09 · 2/η), and so is the median over all of them.
    """
    import nets

    lr, epochs = 0.5, 800
    prob = nets.problem("spirals", hidden=(10, 10), activation="tanh", loss="cross_entropy")
    traj = nets.train(prob, optimizers.get("gd", lr=lr), epochs, k=4, record_every_epochs=20)
    edge = 2.0 / lr
    start = nets.sharpness(prob, traj.params[0], tol=1e-4)[:, 0]
    assert (start < 0.4 * edge).all(), start
    late = traj.params[traj.steps >= epochs // 2]
    s = nets.sharpness(prob, late.reshape(-1, prob.n_params), tol=1e-4).reshape(late.shape[:2])
    per_net = np.median(s, axis=0)
    assert np.all(np.abs(per_net / edge - 1) <= 0.15), per_net / edge
    assert abs(np.median(s) / edge - 1) <= 0.15


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------
def _adam_on_trough(steps: int = 60):
    f = landscapes.get("narrow_trough", condition_number=20.0, angle=30.0)
    opt = optimizers.get("adam", lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8)
    traj = optimizers.run(f, opt, [f.start, [1.0, 2.0]], steps, backend="numpy", record_state=True, x_tol=0.0)
    return f, opt, traj


def test_ellipse_axes_are_the_effective_step_per_coordinate_rebuilt_by_hand():
    """Reference: Adam rebuilt by hand. The frame's scale is η/(√v̂+ε) per coordinate, the ellipse's semi-axes are
    that scale times ‖m̂‖, the drawn outline satisfies (x/a)² + (y/b)² = 1, and the step taken ends on it."""
    from viz import xray_figure as xf

    f, opt, traj = _adam_on_trough()
    hand = _adam_by_hand(lambda p: f.value_and_grad(p)[1], traj.params[0], lambda t: 0.1, 0.9, 0.99, 1e-8, 60)
    for r in (1, 7, 30, 60):
        for run in (0, 1):
            m_hat, v_hat, _ = hand[r - 1]
            frame = xf.xray_frame(traj, opt.xray_fields(), r, run)
            scale = 0.1 / (np.sqrt(v_hat[run]) + 1e-8)
            np.testing.assert_allclose(frame.scale, scale, rtol=1e-12)
            np.testing.assert_allclose(frame.ellipse_axes, scale * np.linalg.norm(m_hat[run]), rtol=1e-9)
            a, b = frame.ellipse_axes
            d = frame.arrows["step"][1] - frame.tail
            assert (d[0] / a) ** 2 + (d[1] / b) ** 2 == pytest.approx(1.0, rel=1e-9)
            ell = xf.frame_traces(frame)[3]
            ex, ey = np.array(ell["x"]) - frame.tail[0], np.array(ell["y"]) - frame.tail[1]
            np.testing.assert_allclose((ex / a) ** 2 + (ey / b) ** 2, 1.0, rtol=1e-9)
    assert xf.xray_frame(traj, opt.xray_fields(), 0, 0) is None


def test_arrows_point_along_minus_gradient_and_minus_momentum():
    """Reference: the recorded gradient and first moment. Each arrow starts at p_{t−1}, has the step's length and
    the direction of −g and −m; the step arrow ends at the run's point p_t."""
    from viz import xray_figure as xf

    _, opt, traj = _adam_on_trough()
    r = 12
    frame = xf.xray_frame(traj, opt.xray_fields(), r, 0)
    np.testing.assert_array_equal(frame.arrows["step"][1], traj.params[r, 0])
    length = np.linalg.norm(traj.params[r, 0] - traj.params[r - 1, 0])
    for kind, field in (("gradient", "grad"), ("momentum", "m")):
        seg = frame.arrows[kind]
        np.testing.assert_allclose(seg[0], traj.params[r - 1, 0], rtol=1e-12)
        v = seg[1] - seg[0]
        assert np.linalg.norm(v) == pytest.approx(length, rel=1e-12)
        want = -traj.extras[f"state.{field}"][r, 0]
        np.testing.assert_allclose(v / length, want / np.linalg.norm(want), rtol=1e-10)


def test_xray_animation_frames_carry_only_what_moves():
    """Reference: the payload rule of the animated figures (frames must not carry whole paths). Every frame has
    the same few traces with a fixed number of points, so twice the frames is about twice the payload; the map's
    background is a layout image and no trace is a contour or heatmap (they vanish while plotly animates)."""
    import json

    from landscapes import curvature
    from viz import xray_figure as xf

    _, opt, traj = _adam_on_trough(240)
    cmap = curvature.curvature_map(landscapes.get("himmelblau"), 40)
    sizes = {}
    for n in (60, 120):
        fig = xf.xray_figure(traj, opt.xray_fields(), curvature=cmap, max_frames=n)
        frames = fig.to_dict()["frames"]
        assert len(frames) == n
        points = {sum(len(t.get("x", [])) for t in fr["data"]) for fr in frames}
        assert len(points) == 1 and points.pop() < 80
        assert all(t["type"] == "scatter" for t in fig.to_dict()["data"])
        assert fig.layout.images and fig.layout.images[0].source.startswith("data:image/png;base64,")
        sizes[n] = len(json.dumps(frames))
    assert 1.8 < sizes[120] / sizes[60] < 2.2


def test_curvature_and_edge_of_stability_figures_draw_two_over_lr():
    """Reference: the stability limit 2/η of GD on a quadratic. Both figures draw it at 2/η for each series
    that gives η, and plot the given eigenvalues / sharpness unchanged."""
    from landscapes import curvature
    from viz import xray_figure as xf

    f = landscapes.get("narrow_trough")
    traj = optimizers.run(f, optimizers.get("gd", lr=0.05), [f.start], 30, backend="numpy")
    eig = curvature.path_eigenvalues(f, traj.params)[:, 0]
    fig = xf.curvature_figure([xf.CurvatureSeries("GD", traj.steps, eig, lr=0.05)])
    assert [s.y0 for s in fig.layout.shapes if s.y0 != 0] == [pytest.approx(40.0)]
    np.testing.assert_array_equal(fig.data[0].y, eig[:, 1])
    sharp = np.array([[1.0, 2.0], [3.0, 4.0], [3.5, 4.5]])
    fig = xf.edge_of_stability_figure([xf.SharpnessSeries("GD", np.arange(3), sharp, lr=0.5)])
    assert [s.y0 for s in fig.layout.shapes] == [pytest.approx(4.0)]
    np.testing.assert_allclose(fig.data[1].y, np.median(sharp, axis=1))
    split = curvature.eigen_split(f, traj.params)
    assert len(xf.eigen_split_figure(traj.steps, split.loss_parts[:, 0], split.eigenvalues).data) == 2
