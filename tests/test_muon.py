"""Muon: against torch.optim.Muon + torch.optim.AdamW on networks, and as normalized momentum on surfaces.

torch's Newton–Schulz casts to bfloat16 before iterating (``grad.bfloat16()`` in
``torch/optim/_muon.py``); ours runs in float64. The parity tests therefore run torch's own code with that one
cast made a copy in float64 (``_float64_newton_schulz``), and a separate test measures what the cast changes.
Each test names its reference in its docstring.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from scipy.optimize import rosen_der
from torch.optim._muon import _zeropower_via_newtonschulz as torch_newton_schulz

import landscapes
import nets
import optimizers
from optimizers.layout import BIAS, HIDDEN_WEIGHT, NORM, OUTPUT_WEIGHT, Block, Layout
from optimizers.muon import NS_COEFFICIENTS, SURFACE_GAIN, Muon, newton_schulz, ns_gain
from optimizers.transforms import Chain, schedule

STEPS = 50
RTOL = 1e-7


@pytest.fixture
def _float64_newton_schulz(monkeypatch):
    """torch's Muon with its bfloat16 cast turned into a float64 copy: the rest of torch's code runs as shipped."""
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self, *a, **k: self.clone())


def _rel_err(mine: np.ndarray, ref: np.ndarray) -> float:
    """Largest difference per step relative to max(1, the largest |entry| of the reference at that step)."""
    return float((np.abs(mine - ref).max(axis=-1) / np.maximum(1.0, np.abs(ref).max(axis=-1))).max())


# ---------------------------------------------------------------------------------------------------------------
# Networks: Muon on the hidden weights, AdamW on the rest, against torch
# ---------------------------------------------------------------------------------------------------------------
def _torch_training(prob: nets.NetProblem, theta0: np.ndarray, steps: int, muon_kw: dict, adamw_kw: dict,
                    factor=None) -> np.ndarray:
    """θ after each of ``steps`` steps of torch.optim.Muon on the hidden weights and torch.optim.AdamW on the rest.

    Weights live as torch.nn.Linear holds them, ``(n_out, n_in)``; our network's gradient at the same θ is written
    into ``.grad``, so a difference is one in the update. ``factor(t)``: an lr factor for step t, applied to both
    optimizers through ``LambdaLR``.
    """
    slices = prob.layer_slices
    weights = [torch.tensor(theta0[s.weights].reshape(s.n_in, s.n_out).T.copy(), requires_grad=True) for s in slices]
    vectors = [(sl, torch.tensor(theta0[sl].copy(), requires_grad=True))
               for s in slices for sl in (s.bias, s.gamma, s.beta) if sl is not None]
    muon = torch.optim.Muon(weights[:-1], **muon_kw)
    adamw = torch.optim.AdamW([weights[-1], *(v for _, v in vectors)], **adamw_kw)
    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lambda e: factor(e + 1)) for o in (muon, adamw)] if factor else []

    def flat() -> np.ndarray:
        theta = np.empty(prob.n_params)
        for s, w in zip(slices, weights, strict=True):
            theta[s.weights] = w.detach().numpy().T.ravel()
        for sl, v in vectors:
            theta[sl] = v.detach().numpy()
        return theta

    path = []
    for _ in range(steps):
        g = prob.value_and_grad(flat()[None, :])[1][0]
        for s, w in zip(slices, weights, strict=True):
            w.grad = torch.tensor(g[s.weights].reshape(s.n_in, s.n_out).T.copy())
        for sl, v in vectors:
            v.grad = torch.tensor(g[sl].copy())
        muon.step()
        adamw.step()
        for sch in scheds:
            sch.step()
        path.append(flat())
    return np.array(path)


NET_CASES = [
    # torch's documentation example: Muon(lr=0.02, momentum=0.95) and AdamW(lr=3e-4, weight_decay=0.01).
    ("two-layer, torch's example", {"hidden": (8,)}, {"lr": 0.02},
     {"lr": 0.02, "momentum": 0.95}, {"lr": 3e-4, "weight_decay": 0.01}, None),
    ("three-layer, batch norm, every other branch and a schedule", {"hidden": (6, 5), "batch_norm": True},
     {"lr": 0.05, "momentum": 0.8, "nesterov": False, "weight_decay": 0.05, "adjust_lr_fn": "match_rms_adamw",
      "ns_steps": 4, "eps": 1e-6, "adamw_lr": 1e-2, "adamw_beta1": 0.8, "adamw_beta2": 0.99, "adamw_eps": 1e-6,
      "adamw_weight_decay": 0.1},
     {"lr": 0.05, "momentum": 0.8, "nesterov": False, "weight_decay": 0.05, "adjust_lr_fn": "match_rms_adamw",
      "ns_steps": 4, "eps": 1e-6},
     {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, ("cosine", {"period": 30})),
]


@pytest.mark.parametrize(("case", "net", "ours", "muon_kw", "adamw_kw", "sched"), NET_CASES, ids=[c[0] for c in NET_CASES])
def test_network_training_equals_torch_muon_plus_adamw(_float64_newton_schulz, case, net, ours, muon_kw, adamw_kw, sched):
    """Reference: torch.optim.Muon on the hidden weight matrices plus torch.optim.AdamW on the biases, batch-norm
    parameters and output layer, as torch's Muon documentation prescribes; 50 full-batch steps on Iris from three
    initial networks (all three together here, each alone in torch) equal to 1e-7 relative, float64. The second
    case adds a second hidden matrix (stored tall, so Newton–Schulz transposes it), batch norm, the other momentum
    and lr-adjustment branches and a cosine schedule on both groups (torch: LambdaLR on each optimizer)."""
    prob = nets.problem("iris", **net)
    theta0 = prob.init(3, seed=4)
    opt = optimizers.get("muon", **ours)
    factor = None
    if sched is not None:
        opt = Chain(opt, schedule=schedule(sched[0], **sched[1]))
        factor = opt.schedule
    traj = optimizers.run(prob, opt, theta0, STEPS, stop_on_converge=False, grad_tol=0.0, backend="numpy")
    for i in range(3):
        ref = _torch_training(prob, theta0[i], STEPS, muon_kw, adamw_kw, factor)
        mine = traj.params[1:, i]
        assert np.abs(ref[-1] - theta0[i]).max() > 1e-2  # it moved
        assert _rel_err(mine, ref) <= RTOL, f"{case}, network {i}: {_rel_err(mine, ref):.2e}"


def test_hidden_weights_get_muon_and_the_rest_adamw():
    """Reference: the groups torch's documentation prescribes, checked one step at a time. Each hidden weight
    moves by η·√max(1, fan_out/fan_in)·NS(B̃) plus decay (a Newton–Schulz update, rebuilt here from
    :func:`newton_schulz` on the matrix as torch holds it), and every other coordinate by one AdamW step with
    adamw_lr, which from zero state is adamw_lr·(g/(|g|+ε) + λθ)."""
    prob = nets.problem("iris", hidden=(8,))
    theta = prob.init(2, seed=1)
    g = prob.value_and_grad(theta)[1]
    lr, alr, wd, awd, mu = 0.03, 2e-3, 0.1, 0.01, 0.95
    opt = optimizers.get("muon", lr=lr, adamw_lr=alr, weight_decay=wd, adamw_weight_decay=awd, momentum=mu).bind(
        prob.layout())
    new, _ = opt.step(theta, g, opt.init(theta))
    w1 = prob.layer_slices[0]
    u = ((1 - mu) * g + mu * (1 - mu) * g)[:, w1.weights].reshape(2, 4, 8).transpose(0, 2, 1)  # torch's (8, 4)
    expect = theta[:, w1.weights] * (1 - lr * wd) - lr * math.sqrt(8 / 4) * newton_schulz(u).transpose(0, 2, 1).reshape(2, -1)
    np.testing.assert_allclose(new[:, w1.weights], expect, rtol=1e-12, atol=1e-15)
    rest = np.ones(prob.n_params, dtype=bool)
    rest[w1.weights] = False
    adam_step = alr * (g / (np.abs(g) + 1e-8) + awd * theta)
    np.testing.assert_allclose(new[:, rest], (theta - adam_step)[:, rest], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("dataset", "hidden"), [("iris", (6, 5)), ("sine", (8,))])
def test_k_networks_together_equal_k_separate_runs(dataset, hidden):
    """Reference: two computations that must agree. Four networks trained in one (k, P) batch, with one lr and
    one momentum per network, equal each network trained alone with its own scalar settings, bit for bit:
    every norm and Newton–Schulz product is taken per run. On sine (one input) the first hidden matrix is a row of
    8, which takes the row form of Newton–Schulz, where a sum's order must not depend on k."""
    prob = nets.problem(dataset, hidden=hidden)
    theta0 = prob.init(4, seed=2)
    lrs, mus = np.array([0.01, 0.02, 0.05, 0.02]), np.array([0.9, 0.95, 0.5, 0.0])
    together = optimizers.run(prob, optimizers.get("muon", lr=lrs, momentum=mus), theta0, 30, stop_on_converge=False,
                              grad_tol=0.0, backend="numpy")
    for i in range(4):
        alone = optimizers.run(prob, optimizers.get("muon", lr=float(lrs[i]), momentum=float(mus[i])), theta0[i:i + 1],
                               30, stop_on_converge=False, grad_tol=0.0, backend="numpy")
        np.testing.assert_array_equal(together.params[:, i], alone.params[:, 0])


def test_network_layout_names_every_slice():
    """Reference: the MLP's own layer slices. The layout covers θ once: W of every layer but the last is a hidden
    weight (torch shape (n_out, n_in)), the last W the output weight, b a bias, batch norm's γ and β norm."""
    prob = nets.problem("iris", hidden=(6, 5), batch_norm=True)
    layout = prob.layout()
    assert layout.n_params == prob.n_params
    assert [(b.name, b.role) for b in layout.blocks] == [
        ("W1", HIDDEN_WEIGHT), ("b1", BIAS), ("γ1", NORM), ("β1", NORM), ("W2", HIDDEN_WEIGHT), ("b2", BIAS),
        ("γ2", NORM), ("β2", NORM), ("W3", OUTPUT_WEIGHT), ("b3", BIAS)]
    assert [b.out_in for b in layout.of_role(HIDDEN_WEIGHT, OUTPUT_WEIGHT)] == [(6, 4), (5, 6), (3, 5)]
    for ls, w in zip(prob.layer_slices, layout.of_role(HIDDEN_WEIGHT, OUTPUT_WEIGHT), strict=True):
        assert w.index == ls.weights and w.shape == (ls.n_in, ls.n_out)
    logistic = nets.problem("iris", hidden=()).layout()
    assert [b.role for b in logistic.blocks] == [OUTPUT_WEIGHT, BIAS]  # no hidden matrix: Muon is AdamW alone here


def test_bad_layouts_raise_a_readable_error():
    """Reference: the layout contract (each coordinate in exactly one block, shapes that fit their slices)."""
    with pytest.raises(ValueError, match="exactly one block"):
        Layout((Block("a", slice(0, 2), (2,), BIAS), Block("b", slice(1, 3), (2,), BIAS)), 3)
    with pytest.raises(ValueError, match="exactly one block"):
        Layout((Block("a", slice(0, 2), (2,), BIAS),), 3)
    with pytest.raises(ValueError, match="holds 6 numbers"):
        Block("W", slice(0, 4), (2, 3), HIDDEN_WEIGHT)
    with pytest.raises(ValueError, match="must be a matrix"):
        Block("W", slice(0, 4), (4,), HIDDEN_WEIGHT)
    opt = optimizers.get("muon").bind(nets.problem("xor", hidden=(4,)).layout())
    with pytest.raises(ValueError, match="layout describes 17 parameters"):
        opt.init(np.zeros((2, 5)))


# ---------------------------------------------------------------------------------------------------------------
# Surfaces: normalized momentum
# ---------------------------------------------------------------------------------------------------------------
def _normalized_momentum(start, grad_fn, steps, lr, mu, wd, nesterov, ratio, gain, eps=1e-7):
    """Normalized momentum written out: B ← μB + (1−μ)g, B̃ = (1−μ)g + μB (Nesterov) or B, and
    θ ← θ(1 − ηλ) − η·ratio·gain·B̃/‖B̃‖."""
    theta, buf, out = np.array(start, dtype=float), np.zeros(2), []
    for _ in range(steps):
        g = grad_fn(theta)
        buf = mu * buf + (1 - mu) * g
        u = (1 - mu) * g + mu * buf if nesterov else buf
        theta = theta * (1 - lr * wd) - lr * ratio * gain * u / max(math.hypot(*u), eps)
        out.append(theta)
    return np.array(out)


SURFACE_CASES = [
    ({"lr": 0.01}, 0.95, 0.1, True, 1.0),
    ({"lr": 0.02, "momentum": 0.7, "weight_decay": 0.0, "nesterov": False, "adjust_lr_fn": "match_rms_adamw"},
     0.7, 0.0, False, 0.2 * math.sqrt(2)),
]


@pytest.mark.parametrize(("ours", "mu", "wd", "nesterov", "ratio"), SURFACE_CASES)
def test_surface_form_is_normalized_momentum(ours, mu, wd, nesterov, ratio):
    """Reference: normalized momentum rebuilt by hand. On Rosenbrock (no layout: θ is one 1×2 matrix) 150 steps
    from three starts equal θ ← θ(1 − ηλ) − η·c·B̃/‖B̃‖ with c = 0.696, the quintic applied 5 times to the
    single singular value 1, to 1e-12; the steps (without decay) all have that one length."""
    f = landscapes.get("rosenbrock")
    starts = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])
    traj = optimizers.run(f, optimizers.get("muon", **ours), starts, 150, stop_on_converge=False, grad_tol=0.0)
    gain = ns_gain(1.0)
    assert gain == pytest.approx(0.6964, abs=1e-4) and gain == SURFACE_GAIN
    for i, start in enumerate(starts):
        ref = _normalized_momentum(start, lambda p: f.value_and_grad(p)[1], 150, ours["lr"], mu, wd, nesterov, ratio, gain)
        np.testing.assert_allclose(traj.params[1:, i], ref, rtol=1e-12, atol=1e-13)
        if wd == 0.0:
            lengths = np.linalg.norm(np.diff(traj.params[:, i], axis=0), axis=1)
            np.testing.assert_allclose(lengths, ours["lr"] * ratio * gain, rtol=1e-9)


def test_surface_form_equals_torch_muon_on_a_1x2_parameter(_float64_newton_schulz):
    """Reference: torch.optim.Muon itself on a 1×2 parameter (it refuses a 1-D one): 150 Rosenbrock steps from
    three starts, each alone in torch, equal our surface form to 1e-7 relative. torch's default weight decay."""
    with pytest.raises(ValueError, match="2D parameters"):
        torch.optim.Muon([torch.zeros(2, requires_grad=True)])
    starts = np.array([[-1.5, 2.0], [0.5, -0.5], [-0.3, 1.2]])
    f = landscapes.get("rosenbrock")
    traj = optimizers.run(f, optimizers.get("muon", lr=0.01), starts, 150, stop_on_converge=False, grad_tol=0.0)
    for i, start in enumerate(starts):
        p = torch.tensor(start[None, :].copy(), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Muon([p], lr=0.01)
        ref = []
        for _ in range(150):
            p.grad = torch.tensor(rosen_der(p.detach().numpy()[0])[None, :])
            opt.step()
            ref.append(p.detach().numpy()[0].copy())
        assert _rel_err(traj.params[1:, i], np.array(ref)) <= RTOL


def test_muon_says_what_it_is_on_a_surface():
    """Reference: the brief's contract for the app, which reads only the registry: Muon is registered as a
    modern optimizer whose one-line help and formula say that on a 2-D surface it is normalized momentum,
    with the gain the code computes; no page restricts it (it runs on both)."""
    cls = optimizers.REGISTRY["muon"]
    assert cls is Muon and cls.family == "modern"
    assert "normalized momentum" in cls.summary and "AdamW" in cls.summary
    assert "normalized momentum" in cls.latex and f"{SURFACE_GAIN:.3f}" in cls.latex
    assert "torch.optim.Muon" in cls.reference and "torch.optim.Muon" in cls.__doc__


# ---------------------------------------------------------------------------------------------------------------
# Newton–Schulz and defaults
# ---------------------------------------------------------------------------------------------------------------
NS_SHAPES = [(1, 2), (2, 1), (4, 8), (8, 4), (5, 5), (3, 7), (16, 3)]


@pytest.mark.parametrize("shape", NS_SHAPES)
def test_newton_schulz_equals_torchs_function(_float64_newton_schulz, shape):
    """Reference: torch.optim._muon._zeropower_via_newtonschulz (float64), matrix by matrix, on a stack of
    random matrices of sizes 1e-9 (below ε) to 1e3 and a zero matrix, for torch's coefficients and steps, 0 and 8
    steps, and the classic cubic (1.5, −0.5, 0); to 1e-12."""
    rng = np.random.default_rng(sum(shape))
    G = rng.standard_normal((6, *shape)) * np.array([1e-9, 1e-3, 1.0, 10.0, 1e3, 0.0])[:, None, None]
    for coefs, steps, eps in ((NS_COEFFICIENTS, 5, 1e-7), (NS_COEFFICIENTS, 0, 1e-7), (NS_COEFFICIENTS, 8, 1e-7),
                              ((1.5, -0.5, 0.0), 5, 1e-3)):
        mine = newton_schulz(G, coefs, steps, eps)
        for i in range(len(G)):
            ref = torch_newton_schulz(torch.tensor(G[i]), coefs, steps, eps).numpy()
            np.testing.assert_allclose(mine[i], ref, rtol=1e-12, atol=1e-13, err_msg=f"{shape} {coefs} {steps} #{i}")


def test_newton_schulz_of_a_vector_is_its_direction_times_the_gain():
    """Reference: the scalar polynomial σ ← aσ + bσ³ + cσ⁵ on the single singular value. A row or column v comes
    out as ns_gain(1)·v/‖v‖ (0.696 with torch's coefficients, exactly 1 with the classic cubic). A matrix whose
    singular values span a factor 200 comes out with all of them in (0.5, 1.5), the band torch's docstring gives
    for S' (numpy.linalg.svd), and its singular vectors kept: O = U S' Vᵀ with G's own U and V."""
    v = np.array([[[3.0, -4.0]]])
    np.testing.assert_allclose(newton_schulz(v), SURFACE_GAIN * v / 5.0, rtol=1e-14)
    np.testing.assert_allclose(newton_schulz(v.transpose(0, 2, 1)), SURFACE_GAIN * v.transpose(0, 2, 1) / 5.0, rtol=1e-14)
    np.testing.assert_allclose(newton_schulz(v, (1.5, -0.5, 0.0)), v / 5.0, rtol=1e-14)
    G = np.random.default_rng(0).standard_normal((1, 8, 4)) @ np.diag([10.0, 1.0, 0.3, 0.05])
    ortho = newton_schulz(G)[0]
    U, _, Vt = np.linalg.svd(G[0], full_matrices=False)
    s = np.linalg.svd(ortho, compute_uv=False)
    assert s.min() > 0.5 and s.max() < 1.5, s
    np.testing.assert_allclose(U.T @ ortho @ Vt.T, np.diag(np.diag(U.T @ ortho @ Vt.T)), atol=1e-12)


def test_torchs_bfloat16_newton_schulz_differs_only_by_rounding():
    """Reference: torch.optim._muon._zeropower_via_newtonschulz as shipped (bfloat16). Ours, in float64, agrees
    with it within bfloat16's rounding (entries of size ~0.3 to within 0.03), and no closer than 1e-4: the
    cast is real, which is why the parity tests turn it into a float64 copy."""
    G = np.random.default_rng(5).standard_normal((8, 4))
    ref = torch_newton_schulz(torch.tensor(G), NS_COEFFICIENTS, 5, 1e-7).double().numpy()
    diff = np.abs(newton_schulz(G[None])[0] - ref).max()
    assert 1e-4 < diff < 0.03, diff


def test_defaults_and_names_are_torchs():
    """Reference: torch.optim.Muon's signature (lr, weight_decay, momentum, nesterov, eps, ns_steps; the tuple
    ns_coefficients split into ns_a, ns_b, ns_c; adjust_lr_fn None, which torch reads as "original") and the
    AdamW settings of torch's Muon example (lr 3e-4, weight_decay 0.01) with torch.optim.AdamW's betas and eps."""
    theirs = {k: p.default for k, p in inspect.signature(torch.optim.Muon.__init__).parameters.items()
              if k not in ("self", "params")}
    ours = {s.name: s.default for s in Muon.specs}
    for key in ("lr", "weight_decay", "momentum", "nesterov", "eps", "ns_steps"):
        assert ours[key] == theirs[key], key
    assert (ours["ns_a"], ours["ns_b"], ours["ns_c"]) == theirs["ns_coefficients"]
    assert theirs["adjust_lr_fn"] is None and ours["adjust_lr_fn"] == "original"
    adamw = {k: p.default for k, p in inspect.signature(torch.optim.AdamW.__init__).parameters.items()}
    assert (ours["adamw_beta1"], ours["adamw_beta2"]) == adamw["betas"] and ours["adamw_eps"] == adamw["eps"]
    assert (ours["adamw_lr"], ours["adamw_weight_decay"]) == (3e-4, 0.01)


@pytest.mark.slow
def test_networks_page_trains_muon_from_a_link():
    """Reference: the networks page's own widgets and figure under Streamlit's AppTest (no UI code names Muon):
    a link with ``o0=muon`` selects it, trains without an error, draws its series and shows its update rule.
    The surfaces page is covered by test_app_surfaces.py, which selects every registered optimizer."""
    import json
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    page = str(Path(__file__).resolve().parents[1] / "ui" / "pages" / "networks.py")
    at = AppTest.from_file(page, default_timeout=240)
    for key, value in {"o0": "muon", "o0.lr": "0.02", "epochs": "20", "slice": "off"}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception and not at.error and not at.warning
    assert at.selectbox(key="net.opt.0.name").value == "muon"
    names = {d.get("name") for d in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert "Muon" in names
    assert any("normalized momentum" in el.value for el in at.latex)
