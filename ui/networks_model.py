"""The networks page's controls, declared once; its link, caps and defaults derive from them.

The network knobs take their default, range, help and label from
:data:`nets.SPECS` (the library's own declarations); the page adds its URL
key, its cap and when the control is shown. Nothing here imports streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import nets
from common.controls import Control, echo
from common.spec import Spec
from nets.datasets import MAX_N, MAX_NOISE
from ui.codec import OptEntry, PageModel, make_configs

MAX_OPTIMIZERS = 6  # each network run is heavier than a surface run
MAX_PAGE_SEEDS = 50
MAX_PAGE_EPOCHS = 3000
MAX_HIDDEN_TEXT = 40
#: Batch sizes offered (0 = full batch). A page-wide choice, and per optimizer (-1 = the page's).
BATCHES = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
COMPARES = {
    "none": "nothing",
    "loss": "the other loss (MSE ↔ cross-entropy)",
    "shuffle": "shuffling flipped (on ↔ off)",
    "standardize": "features flipped (raw ↔ standardized)",
}
SLICES = {"random": "random directions", "pca": "PCA of the paths", "off": "off"}
LOSS_LABELS = {"cross_entropy": "cross-entropy", "mse": "MSE"}
DEFAULT_OPTIMIZERS = (("gd", {"lr": 0.5}), ("momentum", {"lr": 0.1, "momentum": 0.9}), ("adam", {"lr": 0.05}))


def batch_label(b: int) -> str:
    """How a batch size reads in a control."""
    return {-1: "as the page", 0: "full batch", 1: "b = 1 (pure SGD)"}.get(b, f"b = {b}")


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
            what = "is not a positive whole number" if piece.lstrip("+-").isdigit() else "is not a number"
            raise ValueError(f"use whole numbers separated by commas, like 4 or 16,16 "
                             f"(empty = no hidden layer); {piece[:12]!r} {what}")
        w = int(piece)
        if not 1 <= w <= nets.MAX_WIDTH:
            raise ValueError(f"each hidden layer needs 1 to {nets.MAX_WIDTH} units, got {w}")
        out.append(w)
    if len(out) > nets.MAX_LAYERS:
        raise ValueError(f"at most {nets.MAX_LAYERS} hidden layers, got {len(out)}")
    return tuple(out)


def _hidden_ok(text: str, values: Mapping[str, Any]) -> str:
    parse_hidden(text)
    return str(text).strip()


def view_options(dataset: str) -> tuple[str, ...]:
    """Decision-boundary views of a dataset: ``"f{i},{j}"`` feature pairs, and ``"pca"`` beyond two features."""
    n = nets.make_dataset(dataset).n_features
    if n <= 2:
        return ("f0,1",)
    return ("pca", *(f"f{i},{j}" for i in range(n) for j in range(i + 1, n)))


def parse_view(view: str) -> tuple[int, int] | None:
    """``"f0,2"`` -> (0, 2); ``"pca"`` -> None."""
    m = re.fullmatch(r"f(\d+),(\d+)", view)
    return None if m is None else (int(m.group(1)), int(m.group(2)))


def _view_label(dataset: str):
    names = nets.make_dataset(dataset).feature_names

    def fmt(v: str) -> str:
        if v == "pca":
            return "first two principal components (PCA)"
        i, j = parse_view(v)
        return f"{names[i]} × {names[j]} (others at their mean)"
    return fmt


def _spec(name: str, **change: Any) -> Spec:
    """A spec from :data:`nets.SPECS`, with the page's own cap or default."""
    spec = next(s for s in nets.SPECS if s.name == name)
    return replace(spec, **change) if change else spec


def _entry(v: Mapping[str, Any]) -> nets.DatasetEntry:
    return nets.DATASETS[v["data"]]


def _outputs(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Output units that fit the dataset: identity only for regression, softmax only for classes."""
    return ("auto", "identity", "sigmoid") if _entry(values).regression else ("auto", "sigmoid", "softmax")


def _help(d: Mapping[str, str]) -> str:
    return "  \n".join(f"**{k}**: {v}" for k, v in d.items())


CONTROLS: tuple[Control, ...] = (
    Control(Spec("data", "xor", choices=tuple(nets.datasets()), label="dataset"), section="data",
            fmt=lambda k: nets.DATASETS[k].title, resets=("noise", "n", "test", "view", "loss", "out")),
    Control(Spec("noise", 0.1, low=0.0, high=float(MAX_NOISE), step=0.01, label="noise"), section="data",
            shown=lambda v: _entry(v).generated, default=lambda v: float(_entry(v).default_noise)),
    Control(Spec("n", 200, low=10, high=MAX_N, step=10, label="rows n"), section="data", widget="number",
            shown=lambda v: _entry(v).generated, default=lambda v: int(_entry(v).default_n)),
    Control(_spec("seed", high=10**6), url="dseed", section="data", widget="number"),
    Control(_spec("test_fraction", step=0.05, label="test share"), url="test", section="data",
            default=lambda v: float(_entry(v).default_test_fraction)),
    Control(_spec("standardize", label="standardize features",
                  help="Mean 0, std 1 from the training rows. Off = raw values, which is what the questions fed in."),
            url="std", section="data"),
    Control(Spec("hidden", "4", label="hidden sizes",
                 help="Comma-separated widths, e.g. 4 or 16,16. Empty = no hidden layer (logistic regression)."),
            section="network", check=_hidden_ok),
    Control(_spec("activation", help=_help(nets.ACTIVATIONS)), url="act", section="network"),
    Control(_spec("output"), url="out", section="network", choices=lambda v: _outputs(v)),
    Control(_spec("loss", help=_help(nets.LOSSES)), section="network", fmt=lambda k: LOSS_LABELS.get(k, k),
            choices=lambda v: ("mse",) if _entry(v).regression else tuple(nets.LOSSES),
            default=lambda v: "mse" if _entry(v).regression else "cross_entropy"),
    Control(_spec("batch_norm", label="batch normalization"), url="bn", section="network"),
    Control(_spec("l2", high=10.0, step=0.001), section="network", widget="number"),
    Control(_spec("init", help=_help(nets.INITS)), section="network"),
    Control(_spec("init_scale", high=100.0, log=False), url="sigma", section="network", widget="number",
            shown=lambda v: v["init"] == "normal"),
    Control(_spec("batch_size", high=max(BATCHES), label="batches",
                  help="Rows per step for every optimizer that does not set its own. One epoch is one pass "
                       "over the training rows, whatever the batch size."),
            url="batch", section="training", steps=BATCHES, fmt=batch_label),
    Control(_spec("shuffle", label="shuffle rows every epoch",
                  help="Off: the rows come in data order every epoch (Iris: sorted by species)."), section="training"),
    Control(_spec("epochs", high=MAX_PAGE_EPOCHS, step=50), section="training", widget="number"),
    Control(_spec("n_seeds", high=MAX_PAGE_SEEDS), url="seeds", section="training", widget="number"),
    Control(Spec("cmp", "none", choices=tuple(COMPARES), label="also run with",
                 help="Train every optimizer a second time with one setting flipped, for a side-by-side."),
            section="training", fmt=COMPARES.get),
    Control(Spec("view", "f0,1", choices=(), label="decision boundary over"), section="view",
            choices=lambda v: view_options(v["data"]), shown=lambda v: len(view_options(v["data"])) > 1),
    Control(Spec("bnd", 0, low=0, high=2 * MAX_OPTIMIZERS - 1, label="boundary and slice of",
                 help="Whose network (first seed) the decision boundary shows, and whose end point the slice "
                      "goes through."), section="runs"),
    Control(Spec("slice", "random", choices=tuple(SLICES), label="landscape slice",
                 help="Random: two filter-normalized directions (Li et al. 2018). PCA: the two directions the "
                      "paths moved along most."), section="view", fmt=SLICES.get),
    Control(Spec("res", 31, low=11, high=41, step=2, label="slice resolution"), section="view",
            shown=lambda v: v["slice"] != "off"),
    Control(Spec("scale", "log", choices=("log", "linear"), label="loss axis"), section="view", widget="radio"),
    Control(Spec("fps", 25, low=1, high=60, label="animation speed (frames/s)"), section="view"),
    Control(Spec("sharp", False, label="sharpness vs 2/η (edge of stability)",
                 help="The top Hessian eigenvalue of each run's first network per recorded epoch, beside 2/η. "
                      "Takes up to about 2 s more."), section="view"),
    Control(Spec("lrsens", False, label="learning-rate sensitivity",
                 help="Final loss against lr for each optimizer: 16 learning rates × up to 5 seeds × up to 200 "
                      "epochs. Takes up to about 4 s more."), section="view"),
)

#: Per-optimizer controls (``o{i}.batch``): one optimizer with b = 1, another full batch, in one figure.
OPTIMIZER_EXTRAS: tuple[Control, ...] = (
    Control(Spec("batch", -1, low=-1, high=max(BATCHES), label="batches",
                 help="This optimizer's rows per step; 'as the page' follows the Training section."),
            steps=(-1, *BATCHES), fmt=batch_label),
)


def default_optimizers(values: Mapping[str, Any] | None = None) -> tuple[OptEntry, ...]:
    """GD, momentum and Adam with rates that learn XOR in a few hundred epochs."""
    return tuple(OptEntry(c) for c in make_configs(list(DEFAULT_OPTIMIZERS)))


def train_rows(values: Mapping[str, Any]) -> int:
    """Training rows after the split, for these values."""
    split = nets.load(values["data"], seed=values["dseed"], noise=values["noise"] if _entry(values).generated else None,
                      n=values["n"] if _entry(values).generated else None, test_fraction=values["test"],
                      standardize=values["std"])
    return int(split.X_train.shape[0])


def batch_of(values: Mapping[str, Any], entry: OptEntry) -> int:
    """Rows per step of one optimizer (0 = full batch): its own choice, else the page's."""
    own = entry.extra("batch", -1)
    return values["batch"] if own in (-1, None) else own


def _repair(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Batch sizes larger than the training rows (each valid alone) become full batch, with a notice."""
    notices: list[str] = []
    try:
        rows = train_rows(values)
    except ValueError as err:
        notices.append(f"data settings ({echo(err, 160)}; defaults used)")
        for key in ("noise", "n", "test", "dseed"):
            values[key] = next(c for c in CONTROLS if c.key == key).default_for(values)
        rows = train_rows(values)
    if values["batch"] > rows:
        notices.append(f"batch={values['batch']} (more than the {rows} training rows; full batch used)")
        values["batch"] = 0
    fixed = []
    for i, e in enumerate(values["optimizers"]):
        if e.extra("batch", -1) > rows:
            notices.append(f"o{i}.batch={e.extra('batch')} (more than the {rows} training rows; full batch used)")
            e = replace(e, extras=tuple(sorted({**dict(e.extras), "batch": 0}.items())))
        fixed.append(e)
    values["optimizers"] = tuple(fixed)
    return values, notices


MODEL = PageModel(
    controls=CONTROLS,
    max_optimizers=MAX_OPTIMIZERS,
    default_optimizers=default_optimizers,
    optimizer_extras=OPTIMIZER_EXTRAS,
    repair=_repair,
)


# -- presets: the seed questions in one click -------------------------------------------------------
class Preset:
    """A question set up in one click: a title, a caption and the page's values (checked by the model)."""

    def __init__(self, key: str, title: str, caption: str, values: dict[str, Any],
                 optimizers: tuple[tuple[str, dict[str, Any]], ...]) -> None:
        self.key, self.title, self.caption = key, title, caption
        self._given = {**values, "optimizers": tuple(OptEntry(c) for c in make_configs(list(optimizers)))}

    def values(self) -> dict[str, Any]:
        """The page's values for this preset (raises ValueError if a declaration drifted)."""
        return MODEL.defaults(self._given)


PRESETS: tuple[Preset, ...] = (
    Preset("xor_tanh", "XOR with tanh: slow vs fast",
           "A 2-2-1 tanh net on XOR, one row per step (b = 1), squared error and a N(0, 1) init, as in the "
           "question, over 10 seeds. Several SGD runs sit on a plateau at 75% and never finish; momentum "
           "finishes more of them, and sooner. Compare the spread below and the gradient norms.",
           {"data": "xor", "hidden": "2", "act": "tanh", "loss": "mse", "init": "normal", "batch": 1,
            "epochs": 500, "seeds": 10},
           (("gd", {"lr": 0.2}), ("momentum", {"lr": 0.05, "momentum": 0.9}), ("adam", {"lr": 0.05}))),
    Preset("sigmoid_zero", "Sigmoid stuck at 0.5 (zero init)",
           "Zero init: every hidden unit gets the same gradient and stays identical, so the XOR output stays at "
           "p = 0.5 and the loss at ln 2 ≈ 0.693 under every optimizer. Set init to xavier_normal to see it learn.",
           {"data": "xor", "hidden": "4", "act": "sigmoid", "init": "zeros", "epochs": 500},
           (("gd", {"lr": 0.5}), ("adam", {"lr": 0.05}))),
    Preset("mse_ce", "MSE vs cross-entropy",
           "The same sigmoid net, optimizer and seeds trained on MSE and on cross-entropy (second colour). MSE's "
           "gradient carries a σ'(z) factor that fades when the output saturates; cross-entropy's gradient at "
           "the logit is just p − y. (The two loss values are not comparable.)",
           {"data": "xor", "hidden": "3", "act": "sigmoid", "loss": "mse", "init": "normal", "epochs": 1000,
            "cmp": "loss", "seeds": 10},
           (("gd", {"lr": 1.0}),)),
    Preset("order", "Order of examples (shuffle on/off, b = 1)",
           "Iris rows come sorted by species. With b = 1 and no shuffling every epoch ends on a run of virginica "
           "rows that pull the model towards that class; the compared run shuffles.",
           {"data": "iris", "hidden": "", "batch": 1, "shuffle": False, "epochs": 30, "cmp": "shuffle",
            "view": "f2,3"},
           (("gd", {"lr": 0.5}),)),
    Preset("body", "Body metrics: 50% or 100% by seed (raw vs standardized)",
           "MLPClassifier(hidden=(3,), logistic, adam) on the 11-person table: raw cm/kg inputs, 200 full-batch "
           "epochs, 20 seeds; the test set is the question's two people. Raw inputs saturate the sigmoid units; "
           "the compared run standardizes them.",
           {"data": "body_metrics", "hidden": "3", "act": "sigmoid", "std": False, "test": 0.0, "epochs": 200,
            "seeds": 20, "cmp": "standardize", "bnd": 3},
           (("adam", {"lr": 0.001}), ("adam", {"lr": 0.05}))),
    Preset("iris_ln3", "Iris stalls at 1.1 ≈ ln 3",
           "Raw Iris features into 16 sigmoid units with small random weights (σ = 0.01): the net predicts 1/3 for "
           "every class, loss ln 3 ≈ 1.0986, and the gradient there is tiny. Adam rescales the small gradient.",
           {"data": "iris", "hidden": "16", "act": "sigmoid", "std": False, "init": "normal", "sigma": 0.01,
            "epochs": 500, "view": "f2,3"},
           (("gd", {"lr": 0.1}), ("gd", {"lr": 0.01}), ("adam", {"lr": 0.01}))),
    Preset("adam", "Adam done right vs a buggy Adam",
           "A hand-written Adam from a question (a 3-unit sigmoid net) next to Adam, same lr = 0.05, 20 seeds. "
           "The loop stores the bias-corrected moments back (they compound), counts steps from 0 and multiplies "
           "the step by the gradient once more. Switch the bugs off one at a time in its settings.",
           {"data": "moons", "hidden": "3", "act": "sigmoid", "epochs": 200, "seeds": 20},
           (("seed_adam", {"lr": 0.05}), ("adam", {"lr": 0.05}))),
)
