"""Regression and batch normalization in nets/: gradients, torch and scikit-learn parity, training outcomes.

Every test names its reference in the docstring.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import nets
import optimizers
from nets.datasets import Dataset, Split, load
from nets.slices import filter_normalized_direction


def _split(X: np.ndarray, y: np.ndarray, *, classes: tuple[str, ...] = ()) -> Split:
    """A ready Split without a test part: float ``y`` for regression (``classes`` empty), labels otherwise."""
    n, f = X.shape
    targets = () if classes else tuple(f"y{j}" for j in range(1 if y.ndim == 1 else y.shape[1]))
    d = Dataset("custom", X, y, tuple(f"x{i}" for i in range(f)), classes, "custom", "", target_names=targets)
    y_test = np.zeros((0, *y.shape[1:]), dtype=y.dtype)
    return Split(d, X, y, np.zeros((0, f)), y_test, np.zeros(f), np.ones(f), np.arange(n), np.zeros(0, dtype=np.int64))


def _central_differences(prob: nets.NetProblem, theta: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``(k, P)`` central differences of ``prob.value``, all 2P perturbations of a network in one batch."""
    P = theta.shape[1]
    out = np.empty_like(theta)
    E = eps * np.eye(P)
    for j, row in enumerate(theta):
        vals = prob.value(np.concatenate([row + E, row - E]))
        out[j] = (vals[:P] - vals[P:]) / (2 * eps)
    return out


def _shake_bn(prob: nets.NetProblem, theta: np.ndarray, seed: int = 0) -> np.ndarray:
    """Move γ and β off their 1/0 start so their gradients are exercised in general position."""
    rng = np.random.default_rng(seed)
    theta = theta.copy()
    for ls in prob.layer_slices:
        if ls.gamma is not None:
            theta[:, ls.gamma] = rng.uniform(0.5, 1.5, (theta.shape[0], ls.n_out))
            theta[:, ls.beta] = rng.normal(0.0, 0.3, (theta.shape[0], ls.n_out))
    return theta


# (task, output, loss): classification with 2 or 3 classes, regression with 1 or 2 float targets
TASKS = [
    ("classes", "sigmoid", "cross_entropy"), ("classes", "sigmoid", "mse"),
    ("classes", "softmax", "cross_entropy"), ("classes", "softmax", "mse"),
    ("regression", "identity", "mse"), ("regression2", "identity", "mse"), ("regression", "sigmoid", "mse"),
]
# Classification without batch norm is covered by tests/test_nets.py.
GRAD_CASES = [(a, t, bn) for a, t, bn in itertools.product(nets.ACTIVATIONS, TASKS, [False, True])
              if bn or t[0] != "classes"]


def _task_split(task: str, output: str, seed: int = 0, n: int = 13) -> Split:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    if task == "classes":
        C = 2 if output == "sigmoid" else 3
        return _split(X, np.arange(n) % C, classes=tuple(str(c) for c in range(C)))
    if task == "regression2":
        return _split(X, rng.standard_normal((n, 2)))
    y = rng.uniform(0.1, 0.9, n) if output == "sigmoid" else rng.standard_normal(n)
    return _split(X, y)


@pytest.mark.parametrize(("activation", "task", "batch_norm"), GRAD_CASES,
                         ids=[f"{a}-{t[0]}-{t[1]}-{t[2]}-{'bn' if bn else 'plain'}" for a, t, bn in GRAD_CASES])
def test_gradient_matches_central_differences(activation, task, batch_norm):
    """Reference: central finite differences of the full objective (every activation × output × loss of
    regression, and of classification with batch norm; two hidden layers, L2 on)."""
    kind, output, loss = task
    prob = nets.problem(_task_split(kind, output), hidden=(3, 2), activation=activation, output=output, loss=loss,
                        l2=0.05, init="normal", init_scale=0.7, batch_norm=batch_norm)
    theta = _shake_bn(prob, prob.init(2, seed=3))
    _, grads = prob.value_and_grad(theta)
    np.testing.assert_allclose(grads, _central_differences(prob, theta), rtol=1e-5, atol=1e-8)


def test_bn_minibatch_gradient_is_the_full_gradient_of_that_batch():
    """Reference: a full-batch problem built on exactly the batch's rows (train-mode statistics of the batch),
    and central differences of that problem."""
    prob = nets.problem("sine", hidden=(5, 4), activation="tanh", batch_norm=True, batch_size=16, seed=2, l2=0.01)
    theta = _shake_bn(prob, prob.init(3, seed=1))
    for step in (0, 4, 9):  # 75 train rows = 4·16 + 11: step 4 is the short last batch
        idx = prob.batch_indices(step)
        ref = nets.problem(_split(prob.X_train[idx], prob.y_train[idx]), hidden=(5, 4), activation="tanh",
                           batch_norm=True, l2=0.01)
        vb, gb = prob.batch_value_and_grad(theta, step)
        vr, gr = ref.value_and_grad(theta)
        np.testing.assert_allclose(vb, vr, rtol=1e-12)
        np.testing.assert_allclose(gb, gr, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gr, _central_differences(ref, theta), rtol=1e-5, atol=1e-8)


# -- torch --------------------------------------------------------------------------------

def _torch_net(prob: nets.NetProblem, theta_row: np.ndarray):
    """The same network in torch: Linear (→ BatchNorm1d) → activation per hidden layer, then Linear."""
    import torch

    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
            "leaky_relu": lambda: torch.nn.LeakyReLU(0.01)}
    mlp = prob.mlp
    mods, params = [], []
    for ls in mlp.layer_slices:
        lin = torch.nn.Linear(ls.n_in, ls.n_out).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(theta_row[ls.weights].reshape(ls.n_in, ls.n_out).T.copy()))
            lin.bias.copy_(torch.from_numpy(theta_row[ls.bias].copy()))
        mods.append(lin)
        params.append((ls, "W", lin.weight))
        params.append((ls, "b", lin.bias))
        if ls is mlp.layer_slices[-1]:
            break
        if ls.gamma is not None:
            bn = torch.nn.BatchNorm1d(ls.n_out, eps=1e-5).double()
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(theta_row[ls.gamma].copy()))
                bn.bias.copy_(torch.from_numpy(theta_row[ls.beta].copy()))
            mods.append(bn)
            params.append((ls, "gamma", bn.weight))
            params.append((ls, "beta", bn.bias))
        mods.append(acts[mlp.activation]())
    return torch.nn.Sequential(*mods), params


def _torch_flat_grad(prob: nets.NetProblem, params) -> np.ndarray:
    g = np.zeros(prob.n_params)
    for ls, what, p in params:
        arr = p.grad.detach().numpy()
        if what == "W":
            g[ls.weights] = arr.T.reshape(-1)
        else:
            g[getattr(ls, {"b": "bias"}.get(what, what))] = arr
    return g


@pytest.mark.parametrize(("activation", "task", "batch_norm"),
                         list(itertools.product(nets.ACTIVATIONS, ["regression", "classes"], [True, False])))
def test_forward_and_gradient_match_torch(activation, task, batch_norm):
    """Reference: torch on the same weights -- nn.Linear, nn.BatchNorm1d (train mode, eps 1e-5) and the
    activation modules, with nn.MSELoss on an identity output (regression) or nn.CrossEntropyLoss on a
    softmax (3 classes); value and every gradient entry, including γ and β."""
    import torch

    if task == "regression":
        prob = nets.problem("sine", hidden=(6, 4), activation=activation, batch_norm=batch_norm, seed=1)
        target = torch.from_numpy(prob.y_train[:, None].copy())
        loss_fn = torch.nn.MSELoss()
    else:
        prob = nets.problem("blobs", hidden=(6, 4), activation=activation, batch_norm=batch_norm, seed=1)
        target = torch.from_numpy(prob.y_train.copy())
        loss_fn = torch.nn.CrossEntropyLoss()
    theta = _shake_bn(prob, prob.init(2, seed=5))
    values, grads = prob.value_and_grad(theta)
    X = torch.from_numpy(prob.X_train.copy())
    for j in range(2):
        net, params = _torch_net(prob, theta[j])
        net.train()
        loss = loss_fn(net(X), target)
        loss.backward()
        assert values[j] == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(grads[j], _torch_flat_grad(prob, params), rtol=1e-9, atol=1e-13)


def test_bn_evaluation_uses_training_statistics_as_torch_eval_mode():
    """Reference: torch's BatchNorm1d in eval mode with its running mean and variance set to the training
    set's batch mean and biased variance: predictions on test rows and on a grid, and the recorded test loss."""
    import torch

    prob = nets.problem("plane", hidden=(5, 3), activation="tanh", batch_norm=True, seed=3)
    theta = _shake_bn(prob, prob.init(1, seed=2))
    net, _ = _torch_net(prob, theta[0])
    # Running statistics = the full training set's, layer by layer (torch keeps the unbiased var: overwrite).
    h = torch.from_numpy(prob.X_train.copy())
    with torch.no_grad():
        for mod in net:
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.running_mean.copy_(h.mean(dim=0))
                mod.running_var.copy_(h.var(dim=0, unbiased=False))
            h = mod.eval()(h) if isinstance(mod, torch.nn.BatchNorm1d) else mod(h)
    net.eval()
    with torch.no_grad():
        want = net(torch.from_numpy(prob.X_test.copy())).numpy()[:, 0]
    np.testing.assert_allclose(prob.predict(theta, prob.X_test)[0], want, rtol=1e-10, atol=1e-12)
    test_mse = float(np.mean((want - prob.y_test) ** 2))
    assert prob.metrics(theta)["test_loss"][0] == pytest.approx(test_mse, rel=1e-10)
    # On the training rows, evaluation mode and train mode coincide.
    with torch.no_grad():
        train_pred = net(torch.from_numpy(prob.X_train.copy())).numpy()[:, 0]
    assert prob.value(theta)[0] == pytest.approx(float(np.mean((train_pred - prob.y_train) ** 2)), rel=1e-10)


# -- scikit-learn ----------------------------------------------------------------------------

@pytest.mark.parametrize(("activation", "sk_activation"), [("tanh", "tanh"), ("sigmoid", "logistic"),
                                                            ("relu", "relu")])
def test_full_batch_gd_equals_sklearn_mlpregressor(activation, sk_activation):
    """Reference: scikit-learn's MLPRegressor (solver "sgd", momentum 0, alpha 0, batch_size = n, no
    shuffling), started from the same weights. Its squared loss is mean((ŷ−y)²)/2, half ours, so its
    learning rate is doubled to take the same steps. 25 epochs of full-batch GD must agree to 1e-10."""
    from sklearn.neural_network import MLPRegressor

    prob = nets.problem("sine", hidden=(5,), activation=activation, test_fraction=0, seed=4)
    theta0 = prob.init(1, seed=7)
    lr, epochs = 0.05, 25
    traj = nets.train(prob, optimizers.get("gd", lr=lr), epochs=epochs, theta0=theta0, record_every_epochs=epochs)
    X, y = prob.X_train, prob.y_train
    reg = MLPRegressor(hidden_layer_sizes=(5,), activation=sk_activation, solver="sgd", alpha=0.0,
                       learning_rate="constant", learning_rate_init=2 * lr, momentum=0.0, nesterovs_momentum=False,
                       batch_size=X.shape[0], shuffle=False, max_iter=1, tol=0.0, n_iter_no_change=10**6,
                       warm_start=True, random_state=0)
    (W1, b1), (W2, b2) = prob.unpack(theta0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached, as intended
        reg.fit(X, y)  # one epoch only to set sklearn's state up; the weights are overwritten next
        reg.coefs_ = [W1[0].copy(), W2[0].copy()]
        reg.intercepts_ = [b1[0, 0].copy(), b2[0, 0].copy()]
        reg.set_params(max_iter=epochs)
        reg.fit(X, y)  # warm start: continues from the weights just set
    assert reg.n_iter_ == epochs  # the second fit ran all its epochs (no early stop)
    (W1, b1), (W2, b2) = prob.unpack(traj.final_params)
    np.testing.assert_allclose(W1[0], reg.coefs_[0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(W2[0], reg.coefs_[1], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b1[0, 0], reg.intercepts_[0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b2[0, 0], reg.intercepts_[1], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(prob.predict(traj.final_params, X)[0], reg.predict(X), rtol=1e-10, atol=1e-13)


def test_r2_matches_sklearn_r2_score():
    """Reference: sklearn.metrics.r2_score (uniform average over targets, constant-target convention) on the
    recorded train and test R² of a regression net, and on hand-made predictions."""
    from sklearn.metrics import r2_score

    prob = nets.problem("sine", hidden=(4,), seed=1)
    theta = prob.init(3, seed=0)
    m = prob.metrics(theta)
    for j in range(3):
        assert m["train_r2"][j] == pytest.approx(r2_score(prob.y_train, prob.predict(theta[j:j + 1], prob.X_train)[0]),
                                                 rel=1e-12)
        assert m["test_r2"][j] == pytest.approx(r2_score(prob.y_test, prob.predict(theta[j:j + 1], prob.X_test)[0]),
                                                rel=1e-12)
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((2, 9))
    Y[1] = 3.0  # a constant target: 1 if predicted exactly, else 0
    pred = np.stack([Y + 0.3 * rng.standard_normal(Y.shape), Y.copy()])
    pred[1, 0] += 0.1
    want = [r2_score(Y.T, p.T) for p in pred]
    np.testing.assert_allclose(nets.r2_scores(pred, Y), want, rtol=1e-12)


# -- training outcomes ---------------------------------------------------------------------

@pytest.mark.slow
def test_bn_trains_a_deep_sigmoid_net_that_stalls_without_it():
    """Reference: the claim of Ioffe & Szegedy (2015) that seed question 003 repeats -- batch norm allows
    higher learning rates. Setup: moons (200 rows, noise 0.1, seed 0; 150 train rows, standardized), a
    2-16-16-16-16-1 sigmoid net, Xavier-normal init, sigmoid output, cross-entropy, full-batch GD for 60
    epochs, 10 seeds. Without BN, lr 0.5 and lr 5 both stall at the constant-prediction loss ln 2
    (within 3%); with BN at lr 5 at least 8 of 10 seeds reach ≥ 97% train accuracy and loss < 0.1."""
    stall = 0.97 * np.log(2)
    for lr in (0.5, 5.0):
        plain = nets.problem("moons", hidden=(16, 16, 16, 16), activation="sigmoid")
        tr = nets.train(plain, optimizers.get("gd", lr=lr), epochs=60, k=10, record_every_epochs=60)
        assert (tr.extras["train_loss"][-1] > stall).sum() >= 8, (lr, tr.extras["train_loss"][-1])
    bn = nets.problem("moons", hidden=(16, 16, 16, 16), activation="sigmoid", batch_norm=True)
    tr = nets.train(bn, optimizers.get("gd", lr=5.0), epochs=60, k=10, record_every_epochs=60)
    ok = (tr.extras["train_acc"][-1] >= 0.97) & (tr.extras["train_loss"][-1] < 0.1)
    assert ok.sum() >= 8, (tr.extras["train_acc"][-1], tr.extras["train_loss"][-1])


@pytest.mark.slow
def test_raw_scaled_line_sits_at_the_mean_and_standardized_fits():
    """Reference: the regression seed question (a 1-1-1 sigmoid net fitting y = (1.2x + 1)/10 on x = 1..9,
    whose output "converges towards an average value"), measured. Setup: sigmoid hidden unit and sigmoid
    output, MSE, full-batch GD with the question's learning rate 1, 2,000 epochs, from one start
    θ₀ = (w₁, b₁, w₂, b₂) = (−2, −2, 0.5, 0). On raw x the hidden pre-activation −2x − 2 ≤ −4 saturates the
    unit on every row, its gradient vanishes and only the output bias learns: the output ends within 0.01 of
    mean(y) on every input, |R²| < 0.02, and diagnose says so. The same start on standardized x fits
    (R² > 0.9; measured 0.925, the sigmoid output cannot reach y > 1)."""
    theta0 = np.array([[-2.0, -2.0, 0.5, 0.0]])
    raw = nets.problem("scaled_line", hidden=(1,), activation="sigmoid", output="sigmoid", standardize=False)
    tr = nets.train(raw, optimizers.get("gd", lr=1.0), epochs=2000, theta0=theta0, record_every_epochs=100)
    pred = raw.predict(tr.final_params, raw.X_train)[0]
    assert np.abs(pred - raw.y_train.mean()).max() < 0.01
    assert abs(tr.extras["train_r2"][-1, 0]) < 0.02
    assert any(line.startswith("output ≈ the mean of y") for line in nets.diagnose(tr, raw))
    std = nets.problem("scaled_line", hidden=(1,), activation="sigmoid", output="sigmoid", standardize=True)
    tr = nets.train(std, optimizers.get("gd", lr=1.0), epochs=2000, theta0=theta0, record_every_epochs=2000)
    assert tr.extras["train_r2"][-1, 0] > 0.9
    assert not any("mean of y" in line for line in nets.diagnose(tr, std))


# -- datasets, grids and settings ----------------------------------------------------------------

def test_regression_datasets_are_their_formulas():
    """Reference: the formulas in the docstrings -- the question's line y = (1.2x + 1)/10 on x = 1..9; the
    plane 0.8·x₁ − 0.5·x₂ + 0.3 and sin(x) exactly at noise 0; same seed same rows, other seed or noise
    other rows; float targets and a random (not stratified) split."""
    line = nets.make_dataset("scaled_line")
    assert line.X[:, 0].tolist() == list(range(1, 10))
    np.testing.assert_allclose(line.y, (1.2 * np.arange(1, 10) + 1) / 10)
    plane = nets.make_dataset("plane", noise=0.0, n=50, seed=2)
    np.testing.assert_allclose(plane.y, 0.8 * plane.X[:, 0] - 0.5 * plane.X[:, 1] + 0.3, rtol=1e-12)
    sine = nets.make_dataset("sine", noise=0.0, n=40, seed=2)
    np.testing.assert_allclose(sine.y, np.sin(sine.X[:, 0]), rtol=1e-12)
    for name in ("sine", "plane"):
        a = nets.make_dataset(name, seed=3, n=60)
        assert np.array_equal(a.y, nets.make_dataset(name, seed=3, n=60).y)
        assert not np.array_equal(a.y, nets.make_dataset(name, seed=4, n=60).y)
        assert not np.array_equal(a.y, nets.make_dataset(name, seed=3, n=60, noise=0.5).y)
        assert nets.DATASETS[name].regression and a.regression
    s = load("sine", seed=1, test_fraction=0.2, n=50)
    assert s.y_train.dtype == np.float64 and s.y_test.shape == (10,)
    assert sorted([*s.train_index, *s.test_index]) == list(range(50))
    assert not nets.DATASETS["iris"].regression


def test_fit_grid_equals_predict_at_raw_points():
    """Reference: predict on the raw grid point pushed through the problem's standardization, for a 1-D curve
    (scaled_line, F = 3 frames) and a 2-D surface (plane, batch-normalized)."""
    prob = nets.problem("scaled_line", hidden=(3,), activation="tanh")
    thetas = prob.init(3, seed=1)
    g = nets.fit_grid(prob, thetas, 7)
    assert g.values.shape == (3, 7) and g.ys.size == 0 and g.points.shape == (9, 1)
    assert g.xs[0] < 1 and g.xs[-1] > 9
    want = prob.predict(thetas, prob.transform(g.xs[:, None]))
    np.testing.assert_allclose(g.values, want, rtol=1e-12)
    np.testing.assert_allclose(g.points[:, 0], np.arange(1, 10), rtol=1e-12)

    plane = nets.problem("plane", hidden=(4,), batch_norm=True, seed=1)
    theta = _shake_bn(plane, plane.init(2, seed=0))
    g = nets.fit_grid(plane, theta, 5)
    assert g.values.shape == (2, 5, 5) and g.test_points.shape == (50, 2)
    for iy, ix in [(0, 0), (1, 3), (4, 4)]:
        p = plane.predict(theta, plane.transform(np.array([[g.xs[ix], g.ys[iy]]])))[:, 0]
        np.testing.assert_allclose(g.values[:, iy, ix], p, rtol=1e-12)
    with pytest.raises(ValueError, match="boundary_grid"):
        nets.fit_grid(nets.problem("moons"), nets.problem("moons").init(1), 5)


def test_bn_layout_tiles_theta_and_starts_as_identity():
    """Reference: counting, and torch's BatchNorm1d init (γ = 1, β = 0): the slices W, b, γ, β tile [0, P) with
    γ, β only on hidden layers, and the W draws equal those of the same net without BN."""
    bn = nets.problem("iris", hidden=(4, 3), batch_norm=True)
    plain = nets.problem("iris", hidden=(4, 3))
    covered = np.zeros(bn.n_params, dtype=int)
    for ls in bn.layer_slices:
        for part in (ls.weights, ls.bias, ls.gamma, ls.beta):
            if part is not None:
                covered[part] += 1
        assert ls.span == slice(ls.weights.start, (ls.beta or ls.bias).stop)
    assert (covered == 1).all() and bn.n_params == plain.n_params + 2 * (4 + 3)
    assert bn.layer_slices[-1].gamma is None
    theta = bn.init(2, seed=4)
    for (g, b) in bn.mlp.bn_params(theta):
        assert (g == 1).all() and (b == 0).all()
    for (Wb, _), (Wp, _) in zip(bn.unpack(theta), plain.unpack(plain.init(2, seed=4)), strict=True):
        np.testing.assert_array_equal(Wb, Wp)
    m = bn.metrics(theta)
    assert m["grad_norm_layer"].shape == (2, 3) and m["saturated_layer"].shape == (2, 2)
    # Li et al. (2018) leave batch-norm parameters out of random slice directions.
    d = filter_normalized_direction(bn, theta[0], np.random.default_rng(0))
    assert all(not d[ls.gamma].any() and not d[ls.beta].any() for ls in bn.layer_slices[:-1])
    assert d[bn.layer_slices[0].weights].any()


def test_bn_float32_matches_float64():
    """Reference: the float64 computation; float32 with batch norm must agree to single precision."""
    p64 = nets.problem("iris", hidden=(16, 8), batch_norm=True, test_fraction=0)
    p32 = nets.problem("iris", hidden=(16, 8), batch_norm=True, test_fraction=0, dtype="float32")
    theta = _shake_bn(p64, p64.init(3, seed=0))
    v64, g64 = p64.value_and_grad(theta)
    v32, g32 = p32.value_and_grad(theta)
    np.testing.assert_allclose(v32, v64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"dataset": "sine", "batch_norm": True, "batch_size": 1}, "at least 2 rows"),
    ({"dataset": "sine", "batch_norm": True, "batch_size": 74}, "batch of 1"),  # 75 train rows: 74 + 1
    ({"dataset": "sine", "loss": "cross_entropy"}, "cross-entropy"),
    ({"dataset": "sine", "output": "softmax"}, "identity"),
    ({"dataset": "iris", "output": "identity", "loss": "mse"}, "regression"),
    ({"dataset": "iris", "output": "identity"}, "cross-entropy"),
    ({"dataset": "sine", "output": "linear"}, "unknown output"),
])
def test_bad_regression_and_bn_settings_raise(kwargs, match):
    """Reference: the documented rules -- a batch-norm batch needs 2 rows (torch raises for 1 in train mode),
    regression uses MSE with an identity (or sigmoid) output, identity is for regression only."""
    args = dict(kwargs)
    with pytest.raises(ValueError, match=match):
        nets.problem(args.pop("dataset"), **args)
    prob = nets.problem("sine")
    with pytest.raises(ValueError, match="predict"):
        prob.predict_proba(prob.init(1), prob.X_train)
    with pytest.raises(ValueError, match="r2"):
        prob.accuracy(prob.init(1))
    assert nets.problem("sine", batch_norm=True, batch_size=3).steps_per_epoch == 25  # 75 rows, none left over


def test_regression_run_records_r2_and_diagnose_reads_it():
    """Reference: the recorded R² equals r2 on the final parameters; a linear model on the plane (noise 0.1)
    reaches the least-squares R² from numpy's lstsq, and diagnose does not call it a constant output."""
    prob = nets.problem("plane", hidden=(), seed=0)
    tr = nets.train(prob, optimizers.get("gd", lr=0.3), epochs=300, k=2, record_every_epochs=100)
    assert {"train_r2", "test_r2", "pred_spread"} <= set(tr.extras) and "train_acc" not in tr.extras
    np.testing.assert_allclose(tr.extras["train_r2"][-1], prob.r2(tr.final_params), rtol=1e-12)
    A = np.c_[prob.X_train, np.ones(prob.n_train)]
    coef, *_ = np.linalg.lstsq(A, prob.y_train, rcond=None)
    best = 1 - np.sum((A @ coef - prob.y_train) ** 2) / np.sum((prob.y_train - prob.y_train.mean()) ** 2)
    np.testing.assert_allclose(tr.extras["train_r2"][-1], best, atol=1e-9)
    assert prob.score_key == "r2" and prob.score_name == "R²"
    lines = nets.diagnose(tr, prob)
    assert lines and not any("mean of y" in line for line in lines)
