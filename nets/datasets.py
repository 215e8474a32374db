"""Small datasets: fixed tables from the seed questions and seeded generators.

Nothing is downloaded: Iris comes from ``plotly.express.data.iris()`` (shipped
with plotly); the body-metrics table and the scaled line are typed from the
seed questions; moons, circles, spirals, blobs, sine and plane are drawn from a
seeded generator. Classification sets have integer labels; regression sets
(``DatasetEntry.regression``: scaled_line, sine, plane) have float targets.

``load(name, seed=..., test_fraction=..., standardize=...)`` returns a
:class:`Split`: a seeded, stratified train/test split, with features either raw
(what the seed questions feed in) or standardized with the mean and standard
deviation of the *train* part only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_N = 2000  # generated sets: more rows only slow the page down
MAX_NOISE = 2.0


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled table.

    Attributes
    ----------
    name : str
        Registry key.
    X : ndarray, shape (n, f)
        Features, float64.
    y : ndarray, shape (n,) or (n, m)
        Class labels ``0 .. C-1`` (int), or float targets for regression
        (shape (n,) for one target).
    feature_names : tuple of str, length f
    class_names : tuple of str, length C
        Empty for regression.
    title : str
    lesson : str
        One line: what this set shows.
    X_fixed_test, y_fixed_test : ndarray or None
        A held-out set that comes with the data (the two people the body-metrics
        question predicts). Used as the test set when ``test_fraction`` is 0.
    target_names : tuple of str, length m
        Regression only: the name of each target; empty for classification.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    title: str
    lesson: str
    X_fixed_test: np.ndarray | None = None
    y_fixed_test: np.ndarray | None = None
    target_names: tuple[str, ...] = ()

    @property
    def regression(self) -> bool:
        """True for float targets (a regression set)."""
        return bool(self.target_names)

    @property
    def n_targets(self) -> int:
        """Number of regression targets m (0 for classification)."""
        return len(self.target_names)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


@dataclass(frozen=True)
class DatasetEntry:
    """How to make one registered dataset.

    Attributes
    ----------
    make : callable
        ``make(seed, noise, n) -> Dataset``; fixed tables ignore all three.
    generated : bool
        True for the seeded generators (``seed``, ``noise`` and ``n`` matter).
    default_noise, default_n : float, int
    default_test_fraction : float
        0 for the tiny tables, where every row is needed for training.
    regression : bool
        Float targets: the net fits them with an identity output and MSE, and
        reports R² where a classifier reports accuracy.
    """

    name: str
    title: str
    lesson: str
    make: Callable[[int, float, int], Dataset]
    generated: bool = False
    default_noise: float = 0.0
    default_n: int = 0
    default_test_fraction: float = 0.0
    regression: bool = False


@dataclass(frozen=True, eq=False)
class Split:
    """A dataset split into train and test parts, ready for a network.

    Attributes
    ----------
    dataset : Dataset
        The raw data.
    X_train : ndarray, shape (n_train, f)
    y_train : ndarray, shape (n_train,) or (n_train, m)
        Integer class labels, or float targets for a regression set (raw: only
        the features are standardized).
    X_test : ndarray, shape (n_test, f)
        May have zero rows.
    y_test : ndarray, shape (n_test,) or (n_test, m)
    mean, scale : ndarray, shape (f,)
        ``X = (X_raw - mean) / scale``; zeros and ones when raw.
    train_index, test_index : ndarray of int
        Rows of ``dataset.X`` in each part (``test_index`` is empty when the
        fixed test set of the dataset is used).
    standardized : bool
    """

    dataset: Dataset
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray
    standardized: bool = field(default=False)

    def transform(self, X_raw: np.ndarray) -> np.ndarray:
        """Map raw features ``(..., f)`` into this split's feature space."""
        return (np.asarray(X_raw, dtype=np.float64) - self.mean) / self.scale

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """Map features ``(..., f)`` of this split back to raw units."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean


# -- fixed tables ----------------------------------------------------------------

def _logic(name: str, title: str, targets: tuple[int, int, int, int], lesson: str) -> Callable[..., Dataset]:
    def make(seed: int = 0, noise: float = 0.0, n: int = 0) -> Dataset:
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return Dataset(name, X, np.array(targets, dtype=np.int64), ("x₁", "x₂"), ("0", "1"), title, lesson)

    return make


XOR_LESSON = "Not linearly separable: needs a hidden layer; tanh nets can sit on a plateau before they solve it."
OR_LESSON = "Linearly separable: one sigmoid unit (logistic regression) solves it."
AND_LESSON = "Linearly separable; MSE with a sigmoid output learns it more slowly than cross-entropy."
BODY_LESSON = "11 people, raw features in cm/kg: unscaled inputs saturate sigmoid units and the seed decides the outcome."
IRIS_LESSON = "Three classes: a stalled run sits at loss ln 3 ≈ 1.10, predicting the uniform distribution."

xor = _logic("xor", "XOR", (0, 1, 1, 0), XOR_LESSON)
or_ = _logic("or", "OR", (0, 1, 1, 1), OR_LESSON)
and_ = _logic("and", "AND", (0, 0, 0, 1), AND_LESSON)

# Seed question 002 (sklearn MLPClassifier on body metrics), rows copied verbatim.
_BODY_X = [[181, 80, 44], [177, 70, 43], [160, 60, 38], [154, 54, 37], [166, 65, 40],
           [190, 90, 47], [175, 64, 39],
           [177, 70, 40], [159, 55, 37], [171, 75, 42], [181, 85, 43]]
_BODY_Y = ['male', 'male', 'female', 'female', 'male', 'male', 'female', 'female',
           'female', 'male', 'male']
# The two people the question predicts, with the labels it scores against.
_BODY_TEST_X = [[179, 69, 40], [175, 72, 45]]
_BODY_TEST_Y = ['female', 'male']
_BODY_CLASSES = ("female", "male")


def body_metrics(seed: int = 0, noise: float = 0.0, n: int = 0) -> Dataset:
    """The 11-row height/weight/shoe-size table of seed question 002 (female = 0, male = 1)."""
    to_int = {c: i for i, c in enumerate(_BODY_CLASSES)}
    return Dataset(
        "body_metrics",
        np.asarray(_BODY_X, dtype=np.float64),
        np.array([to_int[c] for c in _BODY_Y], dtype=np.int64),
        ("height (cm)", "weight (kg)", "shoe size"),
        _BODY_CLASSES,
        "Body metrics (11 people)",
        BODY_LESSON,
        X_fixed_test=np.asarray(_BODY_TEST_X, dtype=np.float64),
        y_fixed_test=np.array([to_int[c] for c in _BODY_TEST_Y], dtype=np.int64),
    )


def iris(seed: int = 0, noise: float = 0.0, n: int = 0) -> Dataset:
    """Fisher's Iris (150 rows, 4 features, 3 classes) from ``plotly.express.data.iris()``.

    Rows keep their file order (50 setosa, then versicolor, then virginica),
    which is what makes "shuffle off" visible with mini-batches.
    """
    import plotly.express as px  # plotly ships the CSV; import late so nets/ loads fast

    df = px.data.iris()
    feats = ("sepal_length", "sepal_width", "petal_length", "petal_width")
    classes = tuple(dict.fromkeys(df["species"]))
    to_int = {c: i for i, c in enumerate(classes)}
    return Dataset(
        "iris",
        df.loc[:, list(feats)].to_numpy(dtype=np.float64),
        np.array([to_int[c] for c in df["species"]], dtype=np.int64),
        tuple(f.replace("_", " ") + " (cm)" for f in feats),
        classes,
        "Iris (150 flowers)",
        IRIS_LESSON,
    )


# -- seeded generators -----------------------------------------------------------

def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 0xDA7A])


def _split_counts(n: int, c: int) -> np.ndarray:
    counts = np.full(c, n // c)
    counts[: n % c] += 1
    return counts


def moons(seed: int = 0, noise: float = 0.1, n: int = 200) -> Dataset:
    """Two interleaving half circles (as sklearn's ``make_moons``), Gaussian noise of std ``noise``."""
    rng = _rng(seed)
    n0, n1 = _split_counts(n, 2)
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1.0 - np.cos(t1), 0.5 - np.sin(t1)]])
    X += noise * rng.standard_normal(X.shape)
    y = np.repeat([0, 1], [n0, n1])
    return Dataset("moons", X, y, ("x₁", "x₂"), ("upper", "lower"), "Two moons",
                   "A curved boundary: one hidden layer of a few units bends it.")


def circles(seed: int = 0, noise: float = 0.05, n: int = 200) -> Dataset:
    """A ring around a disc (radius 1 and 0.5), Gaussian noise of std ``noise``."""
    rng = _rng(seed)
    n0, n1 = _split_counts(n, 2)
    t = rng.uniform(0.0, 2 * np.pi, n0 + n1)
    r = np.repeat([1.0, 0.5], [n0, n1])
    X = np.c_[r * np.cos(t), r * np.sin(t)] + noise * rng.standard_normal((n0 + n1, 2))
    y = np.repeat([0, 1], [n0, n1])
    return Dataset("circles", X, y, ("x₁", "x₂"), ("outer", "inner"), "Circles",
                   "No straight line separates them: logistic regression is stuck near 50%.")


def spirals(seed: int = 0, noise: float = 0.1, n: int = 200) -> Dataset:
    """Two interleaved spiral arms (1.5 turns each), Gaussian noise of std ``noise``."""
    rng = _rng(seed)
    counts = _split_counts(n, 2)
    parts = []
    for arm, m in enumerate(counts):
        t = np.sqrt(rng.uniform(0.0, 1.0, m)) * 3.0 * np.pi  # sqrt: even density along the arm
        angle = t + arm * np.pi
        r = t / (3.0 * np.pi)
        parts.append(np.c_[r * np.cos(angle), r * np.sin(angle)])
    X = np.concatenate(parts) + noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], counts)
    return Dataset("spirals", X, y, ("x₁", "x₂"), ("arm A", "arm B"), "Two spirals",
                   "Hard for small nets: needs width or depth, and many epochs.")


def blobs(seed: int = 0, noise: float = 0.6, n: int = 200) -> Dataset:
    """Three Gaussian clusters (std ``noise``) around the corners of a triangle."""
    rng = _rng(seed)
    counts = _split_counts(n, 3)
    angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    centres = 1.5 * np.c_[np.cos(angles), np.sin(angles)]
    X = np.repeat(centres, counts, axis=0) + noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1, 2], counts)
    return Dataset("blobs", X, y, ("x₁", "x₂"), ("A", "B", "C"), "Three blobs",
                   "Three classes, softmax output; the noise level sets how much they overlap.")


# -- regression ------------------------------------------------------------------

SCALED_LINE_LESSON = ("A straight line y = (1.2x + 1)/10 on raw inputs 1..9: a sigmoid unit saturates and the "
                      "output sits at the mean of y; standardize the input and it fits.")


def scaled_line(seed: int = 0, noise: float = 0.0, n: int = 0) -> Dataset:
    """The regression question's table: x = 1..9 (integers), y = (1.2x + 1)/10, no noise."""
    x = np.arange(1.0, 10.0)
    return Dataset("scaled_line", x[:, None], (1.2 * x + 1.0) / 10.0, ("x",), (), "Scaled line (x = 1..9)",
                   SCALED_LINE_LESSON, target_names=("y",))


def sine(seed: int = 0, noise: float = 0.1, n: int = 100) -> Dataset:
    """``y = sin(x) + noise·N(0, 1)`` for x drawn uniformly on [−π, π]."""
    rng = _rng(seed)
    x = rng.uniform(-np.pi, np.pi, n)
    y = np.sin(x) + noise * rng.standard_normal(n)
    return Dataset("sine", x[:, None], y, ("x",), (), "Sine", "A curve: a linear model fits R² ≈ 0.6 at best; "
                   "a few tanh units bend it.", target_names=("y",))


def plane(seed: int = 0, noise: float = 0.1, n: int = 200) -> Dataset:
    """``y = 0.8·x₁ − 0.5·x₂ + 0.3 + noise·N(0, 1)`` for x uniform on [−2, 2]²."""
    rng = _rng(seed)
    X = rng.uniform(-2.0, 2.0, (n, 2))
    y = X @ np.array([0.8, -0.5]) + 0.3 + noise * rng.standard_normal(n)
    return Dataset("plane", X, y, ("x₁", "x₂"), (), "Plane", "A linear target: no hidden layer is needed, "
                   "and gradient descent finds the least-squares plane.", target_names=("y",))


def _entry(make: Callable[..., Dataset], generated: bool = False, noise: float = 0.0, n: int = 0,
           test_fraction: float = 0.0, regression: bool = False) -> DatasetEntry:
    d = make(0, noise, n)
    return DatasetEntry(d.name, d.title, d.lesson, make, generated, noise, n, test_fraction, regression)


DATASETS: dict[str, DatasetEntry] = {
    "xor": DatasetEntry("xor", "XOR", XOR_LESSON, xor),
    "or": DatasetEntry("or", "OR", OR_LESSON, or_),
    "and": DatasetEntry("and", "AND", AND_LESSON, and_),
    "body_metrics": DatasetEntry("body_metrics", "Body metrics (11 people)", BODY_LESSON, body_metrics),
    "iris": DatasetEntry("iris", "Iris (150 flowers)", IRIS_LESSON, iris, default_test_fraction=0.25),
    "moons": _entry(moons, True, 0.1, 200, 0.25),
    "circles": _entry(circles, True, 0.05, 200, 0.25),
    "spirals": _entry(spirals, True, 0.1, 200, 0.25),
    "blobs": _entry(blobs, True, 0.6, 200, 0.25),
    "scaled_line": _entry(scaled_line, regression=True),
    "sine": _entry(sine, True, 0.1, 100, 0.25, regression=True),
    "plane": _entry(plane, True, 0.1, 200, 0.25, regression=True),
}


def names() -> list[str]:
    """Registered dataset names, in display order."""
    return list(DATASETS)


def make(name: str, *, seed: int = 0, noise: float | None = None, n: int | None = None) -> Dataset:
    """The raw dataset ``name`` (generators use ``seed``, ``noise`` and ``n``).

    Raises
    ------
    ValueError
        On an unknown name, or ``noise``/``n`` out of range.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    entry = DATASETS[name]
    noise = entry.default_noise if noise is None else float(noise)
    n = entry.default_n if n is None else n
    if entry.generated:
        if not 0.0 <= noise <= MAX_NOISE:
            raise ValueError(f"noise must be in [0, {MAX_NOISE:g}], got {noise!r}")
        if int(n) != n or not 10 <= n <= MAX_N:
            raise ValueError(f"n (number of rows) must be a whole number in [10, {MAX_N}], got {n!r}")
    data = entry.make(int(seed), noise, int(n))
    if data.regression != entry.regression:
        raise ValueError(f"dataset {name!r}: its registry entry says regression={entry.regression}, its data disagrees")
    return data


def _stratified_test_rows(y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of the test rows: ``round(test_fraction * n)`` rows, class shares kept (largest remainder).

    Float targets (regression) have no classes: the rows are drawn at random, leaving one for training.
    """
    n = y.shape[0]
    if y.dtype.kind == "f":
        return np.sort(rng.permutation(n)[: min(round(test_fraction * n), n - 1)]).astype(np.int64)
    n_test = round(test_fraction * n)
    classes, counts = np.unique(y, return_counts=True)
    quota = test_fraction * counts
    take = np.floor(quota).astype(int)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: max(0, n_test - take.sum())]] += 1
    take = np.minimum(take, counts - 1)  # every class keeps a training row
    rows = [rng.permutation(np.flatnonzero(y == c))[:t] for c, t in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(rows)).astype(np.int64)


def load(
    name: str,
    *,
    seed: int = 0,
    noise: float | None = None,
    n: int | None = None,
    test_fraction: float | None = None,
    standardize: bool = True,
) -> Split:
    """A dataset split into train and test parts.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    seed : int
        Seeds the generator (generated sets) and the split.
    noise : float, optional
        Noise level of a generated set (its default when omitted).
    n : int, optional
        Rows of a generated set.
    test_fraction : float, optional
        Share of rows held out, stratified by class (at random for regression), in ``[0, 0.9]``. With 0
        the dataset's fixed test rows are used if it has some (body metrics:
        the two people the seed question predicts), else the test set is empty.
        Defaults to the dataset's ``default_test_fraction``.
    standardize : bool
        Subtract the train mean and divide by the train standard deviation.

    Returns
    -------
    Split

    Raises
    ------
    ValueError
        On an unknown name or bad setting, or a split that leaves no test row.
    """
    data = make(name, seed=seed, noise=noise, n=n)
    frac = DATASETS[name].default_test_fraction if test_fraction is None else float(test_fraction)
    if not 0.0 <= frac <= 0.9:
        raise ValueError(f"test_fraction must be in [0, 0.9], got {test_fraction!r}")
    if frac > 0:
        test_idx = _stratified_test_rows(data.y, frac, np.random.default_rng([int(seed), 0x5E1F]))
        if test_idx.size == 0:
            raise ValueError(
                f"test_fraction {frac:g} of {data.n} rows of {name} leaves no test row; "
                f"use 0 (train on all rows) or at least {1.0 / data.n:.2g}"
            )
        train_idx = np.setdiff1d(np.arange(data.n), test_idx)
        X_test_raw, y_test = data.X[test_idx], data.y[test_idx]
    else:
        train_idx, test_idx = np.arange(data.n), np.zeros(0, dtype=np.int64)
        if data.X_fixed_test is not None:
            X_test_raw, y_test = data.X_fixed_test, data.y_fixed_test
        else:
            X_test_raw, y_test = np.zeros((0, data.n_features)), np.zeros((0, *data.y.shape[1:]), dtype=data.y.dtype)
    X_train_raw = data.X[train_idx]
    if standardize:
        mean = X_train_raw.mean(axis=0)
        scale = X_train_raw.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        mean, scale = np.zeros(data.n_features), np.ones(data.n_features)
    return Split(
        dataset=data,
        X_train=(X_train_raw - mean) / scale,
        y_train=data.y[train_idx],
        X_test=(np.asarray(X_test_raw, dtype=np.float64) - mean) / scale,
        y_test=np.asarray(y_test, dtype=data.y.dtype),
        mean=mean,
        scale=scale,
        train_index=train_idx,
        test_index=test_idx,
        standardized=bool(standardize),
    )
