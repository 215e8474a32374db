"""The networks page's settings, its URL query-string form, and the seed-question presets.

Like :mod:`ui.state` for the surfaces page: :class:`NetSettings` is one frozen,
hashable value built from the widgets; :func:`encode` gives query parameters,
:func:`decode` reads them back, replacing anything unknown, garbled or out of
range by its default and listing what it replaced. Nothing here imports streamlit.

URL layout::

    data=xor&noise=0.1&n=200&dseed=0&test=0.25&std=true
    hidden=4,4&act=tanh&out=auto&loss=cross_entropy&l2=0&init=xavier_normal&sigma=1
    batch=0&shuffle=true&epochs=500&seeds=1&cmp=none
    slice=random&res=31&view=f0,1&bnd=0&scale=log
    o0=adam&o0.lr=0.05 ...                     optimizers, as on the surfaces page
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import nets
import optimizers
from nets.datasets import MAX_N, MAX_NOISE
from optimizers.config import OptimizerConfig
from ui.state import decode_optimizers, encode_optimizer, fmt_value

MAX_OPTIMIZERS = 6  # each network run is heavier than a surface run

MAX_PAGE_SEEDS = 50  # more seeds than this make a control change wait for seconds
MAX_PAGE_EPOCHS = 3000
MAX_RESOLUTION = 41
MAX_HIDDEN_TEXT = 40
COMPARES = {
    "none": "nothing",
    "loss": "the other loss (MSE ↔ cross-entropy)",
    "shuffle": "shuffling flipped (on ↔ off)",
    "standardize": "features flipped (raw ↔ standardized)",
}
SLICES = ("random", "pca", "off")
SCALES = ("log", "linear")
_OPT_KEY = re.compile(r"^o(\d+)(?:\.(.+))?$")
_GLOBAL_KEYS = ("data", "noise", "n", "dseed", "test", "std", "hidden", "act", "out", "loss", "l2", "init", "sigma",
                "batch", "shuffle", "epochs", "seeds", "cmp", "slice", "res", "view", "bnd", "scale")


@dataclass(frozen=True)
class NetSettings:
    """Everything the networks page shows, as one hashable value.

    ``hidden`` is kept as the user's text ("4", "16,16", "" = no hidden layer)
    so a typo can be reported without losing it; :func:`parse_hidden` reads it.
    ``batch_size`` 0 means full batch. ``view`` is ``"pca"`` or ``"f{i},{j}"``
    (two feature columns, the others held at their training mean).
    """

    dataset: str = "xor"
    noise: float | None = None
    n: int | None = None
    data_seed: int = 0
    test_fraction: float | None = None
    standardize: bool = True
    hidden: str = "4"
    activation: str = "tanh"
    output: str = "auto"
    loss: str = "cross_entropy"
    l2: float = 0.0
    init: str = "xavier_normal"
    init_scale: float = 1.0
    batch_size: int = 0
    shuffle: bool = True
    epochs: int = 500
    n_seeds: int = 1
    compare: str = "none"
    slice: str = "random"
    resolution: int = 31
    view: str = "f0,1"
    boundary_of: int = 0
    scale: str = "log"
    optimizers: tuple[OptimizerConfig, ...] = ()


def default_optimizers() -> tuple[OptimizerConfig, ...]:
    """GD, momentum and Adam with rates that learn XOR in a few hundred epochs."""
    out = _opts(("gd", {"lr": 0.5}), ("momentum", {"lr": 0.1, "momentum": 0.9}), ("adam", {"lr": 0.05}))
    return out if out else _opts((optimizers.names()[0], {}))


def default_settings() -> NetSettings:
    """What a first-time visitor sees."""
    return NetSettings(optimizers=default_optimizers())


def parse_hidden(text: str) -> tuple[int, ...]:
    """Hidden-layer widths from text: ``"4"`` -> (4,), ``"16, 16"`` -> (16, 16), ``""`` -> ().

    Raises
    ------
    ValueError
        With a message naming the bad piece and the allowed range.
    """
    t = str(text).strip()
    if len(t) > MAX_HIDDEN_TEXT:
        raise ValueError(f"at most {MAX_HIDDEN_TEXT} characters")
    if not t:
        return ()
    out = []
    for piece in t.replace(";", ",").replace(" ", ",").split(","):
        if not piece:
            continue
        if not piece.isdigit():
            # "-3" is a number, just not a width: say what is wrong with it.
            what = "is not a positive whole number" if piece.lstrip("+-").isdigit() else "is not a number"
            raise ValueError(f"use whole numbers separated by commas, like 4 or 16,16 "
                             f"(empty = no hidden layer); {piece!r} {what}")
        w = int(piece)
        if not 1 <= w <= nets.MAX_WIDTH:
            raise ValueError(f"each hidden layer needs 1 to {nets.MAX_WIDTH} units, got {w}")
        out.append(w)
    if len(out) > nets.MAX_LAYERS:
        raise ValueError(f"at most {nets.MAX_LAYERS} hidden layers, got {len(out)}")
    return tuple(out)


def n_features(dataset: str) -> int:
    """Number of input features of a registered dataset."""
    return nets.make_dataset(dataset).n_features


def parse_view(view: str, n_feat: int) -> tuple[int, int] | None:
    """``"f0,2"`` -> (0, 2); ``"pca"`` -> None. Raises ValueError on anything else."""
    if view == "pca":
        return None
    m = re.fullmatch(r"f(\d+),(\d+)", view)
    if not m:
        raise ValueError(f"view={view}")
    i, j = int(m.group(1)), int(m.group(2))
    if i == j or not (0 <= i < n_feat and 0 <= j < n_feat):
        raise ValueError(f"view={view}")
    return i, j


# -- presets ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """A seed question set up in one click."""

    key: str
    title: str
    caption: str
    settings: NetSettings


def _opts(*items: tuple[str, dict[str, Any]]) -> tuple[OptimizerConfig, ...]:
    """Registered ones only, every hyperparameter spelled out (as the URL decoder and the panel do)."""
    return tuple(
        OptimizerConfig.make(n, {s.name: hp.get(s.name, s.default) for s in optimizers.REGISTRY[n].specs})
        for n, hp in items if n in optimizers.REGISTRY
    )


def presets() -> list[Preset]:
    """The seed questions (``/work/shared/seeds``) as page settings."""
    base = NetSettings()
    return [
        Preset("xor_tanh", "XOR with tanh: slow vs fast",
               "A 2-2-1 tanh net on XOR, one row per step (b = 1), squared error and a N(0, 1) init, as in "
               "the question, over 10 seeds. Several SGD runs sit on a plateau at 75% and never finish; "
               "momentum finishes more of them, and sooner. Compare the spread below and the gradient norms.",
               replace(base, dataset="xor", hidden="2", activation="tanh", loss="mse", init="normal",
                       batch_size=1, epochs=500, n_seeds=10,
                       optimizers=_opts(("gd", {"lr": 0.2}), ("momentum", {"lr": 0.05, "momentum": 0.9}),
                                        ("adam", {"lr": 0.05})))),
        Preset("sigmoid_zero", "Sigmoid stuck at 0.5 (zero init / saturation)",
               "Zero init: every hidden unit gets the same gradient and stays identical, so the XOR output "
               "stays at p = 0.5 and the loss at ln 2 ≈ 0.693 under every optimizer. Set init to "
               "xavier_normal to see it learn.",
               replace(base, dataset="xor", hidden="4", activation="sigmoid", init="zeros", epochs=500,
                       optimizers=_opts(("gd", {"lr": 0.5}), ("adam", {"lr": 0.05})))),
        Preset("mse_ce", "MSE vs cross-entropy",
               "The same sigmoid net, optimizer and seeds trained on MSE and on cross-entropy (second colour). "
               "Compare the accuracy curves and the summary: cross-entropy reaches 100% in about half the "
               "epochs. MSE's gradient carries a σ'(z) factor that fades when the output saturates; "
               "cross-entropy's gradient at the logit is just p − y. (The two loss values are not comparable.)",
               replace(base, dataset="xor", hidden="3", activation="sigmoid", loss="mse", init="normal",
                       epochs=1000, compare="loss", n_seeds=10, optimizers=_opts(("gd", {"lr": 1.0})))),
        Preset("order", "Order of examples (shuffle on/off, b=1)",
               "Iris rows come sorted by species. With b = 1 and no shuffling every epoch ends on a run of "
               "virginica rows that pull the model towards that class, so the loss at the end of each epoch "
               "stays higher than with shuffling (the compared run).",
               replace(base, dataset="iris", hidden="", batch_size=1, shuffle=False, epochs=30,
                       compare="shuffle", view="f2,3", optimizers=_opts(("gd", {"lr": 0.5})))),
        Preset("body", "Body metrics: 50% or 100% by seed (raw vs standardized)",
               "MLPClassifier(hidden=(3,), logistic, adam) on the 11-person table: raw cm/kg inputs, 200 "
               "full-batch epochs, 20 seeds; the test set is the question's two people. At sklearn's lr = "
               "0.001 nothing moves in 200 steps. At lr = 0.05 raw inputs stay at the loss of guessing the "
               "class shares (test: 50% or 100% by seed) while standardized inputs reach 100% in every seed.",
               replace(base, dataset="body_metrics", hidden="3", activation="sigmoid", standardize=False,
                       test_fraction=0.0, epochs=200, n_seeds=20, compare="standardize", view="f0,1", boundary_of=3,
                       optimizers=_opts(("adam", {"lr": 0.001}), ("adam", {"lr": 0.05})))),
        Preset("iris_ln3", "Iris stalls at 1.1 ≈ ln 3",
               "Raw Iris features into 16 sigmoid units with small random weights (σ = 0.01): the net "
               "predicts 1/3 for every class, loss ln 3 ≈ 1.0986, and the gradient there is tiny. GD at "
               "lr = 0.1 sits on the plateau for ~100 epochs before it drops; at lr = 0.01 it never leaves "
               "in 500 epochs; Adam rescales the small gradient and leaves at once.",
               replace(base, dataset="iris", hidden="16", activation="sigmoid", standardize=False, init="normal",
                       init_scale=0.01, epochs=500, view="f2,3",
                       optimizers=_opts(("gd", {"lr": 0.1}), ("gd", {"lr": 0.01}), ("adam", {"lr": 0.01})))),
        Preset("adam", "Adam done right vs a buggy Adam",
               "Seed 000's hand-written Adam (a 3-unit sigmoid net) next to Adam, same lr = 0.05, 20 seeds. "
               "The seed's loop stores the bias-corrected moments back (they compound), counts steps from 0 "
               "and multiplies the step by the gradient once more, so the weights barely move: the loss "
               "stays flat and accuracy lands anywhere from ~35% to 55% by seed, the question's "
               "'stagnating, 45% to 70%'. Real Adam reaches ~92%. Switch the three bugs off one at a time "
               "in the optimizer's settings to see which one does the damage.",
               replace(base, dataset="moons", hidden="3", activation="sigmoid", epochs=200, n_seeds=20,
                       optimizers=_opts(("seed_adam", {"lr": 0.05}), ("adam", {"lr": 0.05})))),
    ]


# -- encoding ------------------------------------------------------------------------------
def encode(s: NetSettings) -> dict[str, str]:
    """Query parameters for ``s`` (a ``st.query_params``-ready dict)."""
    out: dict[str, str] = {"data": s.dataset}
    if s.noise is not None:
        out["noise"] = fmt_value(float(s.noise))
    if s.n is not None:
        out["n"] = str(int(s.n))
    out["dseed"] = str(s.data_seed)
    if s.test_fraction is not None:
        out["test"] = fmt_value(float(s.test_fraction))
    out.update(
        std=fmt_value(s.standardize), hidden=s.hidden, act=s.activation, out=s.output, loss=s.loss,
        l2=fmt_value(float(s.l2)), init=s.init, sigma=fmt_value(float(s.init_scale)), batch=str(s.batch_size),
        shuffle=fmt_value(s.shuffle), epochs=str(s.epochs), seeds=str(s.n_seeds), cmp=s.compare, slice=s.slice,
        res=str(s.resolution), view=s.view, bnd=str(s.boundary_of), scale=s.scale,
    )
    for i, cfg in enumerate(s.optimizers):
        out.update(encode_optimizer(i, cfg))
    return out


def query_string(s: NetSettings) -> str:
    """``encode(s)`` as a URL query string (without the ``?``)."""
    return urlencode(encode(s))


# -- decoding ------------------------------------------------------------------------------
def _last(q: Mapping[str, list[str]], key: str) -> str | None:
    v = q.get(key)
    return v[-1] if v else None


def _num(text: str, lo: float, hi: float, *, integer: bool = False) -> float:
    v = float(text)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(text)
    if integer:
        if v != int(v):
            raise ValueError(text)
        return int(v)
    return v


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def decode(params: Mapping[str, Any]) -> tuple[NetSettings, list[str]]:
    """Settings from query parameters, with a notice for everything ignored.

    Returns
    -------
    settings : NetSettings
        Always usable; bad pieces replaced by defaults, sizes above the caps clamped.
    notices : list of str
        One short item per ignored or clamped parameter.
    """
    q = {str(k): ([str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]) for k, v in params.items()}
    base = default_settings()
    notices: list[str] = []
    vals: dict[str, Any] = {}

    data = _last(q, "data")
    if data is not None:
        if data in nets.DATASETS:
            vals["dataset"] = data
        else:
            notices.append(f"data={data} (unknown dataset)")
    dataset = vals.get("dataset", base.dataset)
    entry = nets.DATASETS[dataset]

    def field(key: str, attr: str, parse) -> None:
        text = _last(q, key)
        if text is None:
            return
        try:
            vals[attr] = parse(text)
        except (ValueError, TypeError):
            notices.append(f"{key}={text}")

    if entry.generated:
        field("noise", "noise", lambda t: _num(t, 0.0, MAX_NOISE))
        field("n", "n", lambda t: _num(t, 10, MAX_N, integer=True))
    field("dseed", "data_seed", lambda t: _num(t, 0, 10**6, integer=True))
    field("test", "test_fraction", lambda t: _num(t, 0.0, 0.9))
    field("std", "standardize", _bool)

    def hidden(t: str) -> str:
        parse_hidden(t)
        return t

    field("hidden", "hidden", hidden)
    field("act", "activation", lambda t: t if t in nets.ACTIVATIONS else _raise(t))
    field("out", "output", lambda t: t if t in ("auto", *nets.OUTPUTS) else _raise(t))
    field("loss", "loss", lambda t: t if t in nets.LOSSES else _raise(t))
    field("l2", "l2", lambda t: _num(t, 0.0, 10.0))
    field("init", "init", lambda t: t if t in nets.INITS else _raise(t))
    field("sigma", "init_scale", lambda t: _num(t, 1e-4, 100.0))
    field("batch", "batch_size", lambda t: _num(t, 0, MAX_N, integer=True))
    field("shuffle", "shuffle", _bool)
    field("epochs", "epochs", lambda t: _num(t, 1, 10**9, integer=True))
    field("seeds", "n_seeds", lambda t: _num(t, 1, 10**9, integer=True))
    field("cmp", "compare", lambda t: t if t in COMPARES else _raise(t))
    field("slice", "slice", lambda t: t if t in SLICES else _raise(t))
    field("res", "resolution", lambda t: _num(t, 5, 10**6, integer=True))
    field("bnd", "boundary_of", lambda t: _num(t, 0, 2 * MAX_OPTIMIZERS - 1, integer=True))
    field("scale", "scale", lambda t: t if t in SCALES else _raise(t))
    try:
        nf = n_features(dataset)
        field("view", "view", lambda t: (parse_view(t, nf), t)[1])
    except ValueError:
        pass
    if vals.get("epochs", 0) > MAX_PAGE_EPOCHS:
        notices.append(f"epochs={vals['epochs']} (capped at {MAX_PAGE_EPOCHS})")
        vals["epochs"] = MAX_PAGE_EPOCHS
    if vals.get("n_seeds", 0) > MAX_PAGE_SEEDS:
        notices.append(f"seeds={vals['n_seeds']} (capped at {MAX_PAGE_SEEDS})")
        vals["n_seeds"] = MAX_PAGE_SEEDS
    if vals.get("resolution", 0) > MAX_RESOLUTION:
        notices.append(f"res={vals['resolution']} (capped at {MAX_RESOLUTION})")
        vals["resolution"] = MAX_RESOLUTION

    for key in q:
        if not _OPT_KEY.match(key) and key not in _GLOBAL_KEYS:
            notices.append(f"{key} (unknown parameter)")
    configs = decode_optimizers(q, notices, limit=MAX_OPTIMIZERS)
    if configs:
        vals["optimizers"] = configs
    return replace(base, **vals), notices


def _raise(text: str) -> Any:
    raise ValueError(text)


def notice_text(notices: Sequence[str]) -> str:
    """One short sentence naming what was ignored, for a single ``st.warning``."""
    shown = list(notices[:6])
    more = f" and {len(notices) - 6} more" if len(notices) > 6 else ""
    return "Some link settings were ignored and replaced by defaults: " + "; ".join(shown) + more + "."
