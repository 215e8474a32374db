"""The user-typed formula surface.

References: hand-coded landscapes (the formula for Rosenbrock must equal the
Rosenbrock module, value, gradient and Hessian: two implementations that must
agree), SymPy's symbolic diff (a reference implementation of the derivatives
the forward differentiation computes), Python's own ``**`` for ``^``, central
differences, and, for rejected input, the whitelist and limits stated in
landscapes/formula.py. The time limit on bombs is the issue's requirement,
measured in the test itself.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import landscapes
from landscapes import formula
from landscapes.formula import MAX_LENGTH, check


def central_difference(fn, points: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Derivative of ``fn`` along each coordinate: ``fn``'s shape plus a trailing axis of 2."""
    cols = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        cols.append((fn(points + e) - fn(points - e)) / (2.0 * h))
    return np.stack(cols, axis=-1)


def test_formula_equals_rosenbrock(rng: np.random.Generator) -> None:
    """Reference: landscapes/rosenbrock.py, written by hand; SymPy's derivatives must agree with it."""
    typed = landscapes.get("formula", expr="(1-x)**2+100*(y-x**2)**2", xmin=-2, xmax=2, ymin=-1, ymax=3)
    hand = landscapes.get("rosenbrock")
    pts = rng.uniform(-2.0, 2.0, size=(5, 4, 2))
    v1, g1 = typed.value_and_grad(pts)
    v2, g2 = hand.value_and_grad(pts)
    np.testing.assert_allclose(v1, v2, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-13, atol=1e-11)
    np.testing.assert_allclose(typed.hessian(pts), hand.hessian(pts), rtol=1e-13, atol=1e-11)
    assert typed.bounds == ((-2.0, 2.0), (-1.0, 3.0))


def test_formula_equals_himmelblau_with_caret(rng: np.random.Generator) -> None:
    """Reference: landscapes/himmelblau.py; '^' is read as power, as users type it."""
    typed = landscapes.get("formula", expr="(x^2 + y - 11)^2 + (x + y^2 - 7)^2")
    hand = landscapes.get("himmelblau")
    pts = rng.uniform(-4.0, 4.0, size=(20, 2))
    np.testing.assert_allclose(typed.value_and_grad(pts)[1], hand.value_and_grad(pts)[1], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(typed.hessian(pts), hand.hessian(pts), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize(
    ("caret", "python"),
    [("x^2 + 3*y^2", "x**2 + 3*y**2"), ("2^-1*x", "2**-1*x"), ("-x^2*y^3", "-x**2*y**3"), ("x^2^0.5", "x**2**0.5")],
)
def test_caret_is_power(caret: str, python: str, rng: np.random.Generator) -> None:
    """Reference: Python's own ``**`` evaluated on the same points (including its precedence)."""
    pts = rng.uniform(0.1, 2.0, size=(10, 2))
    land = landscapes.get("formula", expr=caret)
    x, y = pts[:, 0], pts[:, 1]
    expected = eval(python, {"x": x, "y": y})  # trusted literal from this test, not user input
    np.testing.assert_allclose(land.value(pts), expected, rtol=1e-13)


def test_functions_and_constants(rng: np.random.Generator) -> None:
    """Reference: central differences (h = 1e-5) of a formula using every whitelisted function and both constants."""
    expr = "sin(x)+cos(y)+tan(x/3)+exp(y/4)+log(2+x^2)+sqrt(3+y^2)+abs(x-5)+tanh(y)+sinh(x/2)+cosh(y/2)+atan(x)+arctan(y)+pi*e"
    land = landscapes.get("formula", expr=expr)
    pts = rng.uniform(-2.0, 2.0, size=(20, 2))
    np.testing.assert_allclose(land.value_and_grad(pts)[1], central_difference(land.value, pts), rtol=1e-6, atol=1e-7)
    fd = central_difference(lambda p: land.value_and_grad(p)[1], pts)
    np.testing.assert_allclose(land.hessian(pts), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("text", "quoted", "why"),
    [
        ("__import__('os')", "'__import__'", "unknown function"),
        ("x.real + 1", "'x.real'", "attribute"),
        ("(lambda: 1)()", "lambda", "lambda"),
        ("foo + x", "'foo'", "unknown name 'foo'"),
        ("x**", "'x**'", "check brackets"),
        ("sin(x, y)", "sin", "exactly one argument"),
        ("x[0]", "'x[0]'", "indexing"),
        ("'text'", "text", "only numbers"),
        ("x if y else 1", "if", "if/else"),
        ("9^9^9", "9^9^9", "exponent 387420489 is larger than the limit 64"),
        ("sqrt(-1) + x", "sqrt(-1)", "no real value"),
        ("open('f')", "'open'", "unknown function"),
    ],
)
def test_rejected_formulas_say_where_and_why(text: str, quoted: str, why: str) -> None:
    """Reference: the whitelist in landscapes/formula.py; the message quotes the formula up to the problem."""
    with pytest.raises(ValueError) as err:
        landscapes.get("formula", expr=text)
    message = str(err.value)
    assert message.startswith("could not read the formula at ")
    assert quoted in message and why in message


def test_too_long_and_empty_formulas() -> None:
    """Reference: the length cap MAX_LENGTH; an empty formula asks for an expression."""
    with pytest.raises(ValueError, match=f"under {MAX_LENGTH}"):
        check("x+" * 100 + "y")
    with pytest.raises(ValueError, match="empty"):
        check("   ")


def test_window_must_be_ordered() -> None:
    """Reference: the bounds specs; xmin ≥ xmax is rejected naming both."""
    with pytest.raises(ValueError, match="xmin must be less than xmax"):
        landscapes.get("formula", xmin=2.0, xmax=1.0)
    with pytest.raises(ValueError, match="ymin"):
        landscapes.get("formula", ymin=5.0, ymax=5.0)


def test_constant_and_non_finite_formulas_are_accepted() -> None:
    """Reference: the maths; a constant has zero gradient and Hessian, log(x) is nan/−inf off its domain, silently."""
    const = landscapes.get("formula", expr="7")
    v, g = const.value_and_grad(np.zeros((3, 2)))
    np.testing.assert_array_equal(v, np.full(3, 7.0))
    np.testing.assert_array_equal(g, np.zeros((3, 2)))
    np.testing.assert_array_equal(const.hessian(np.zeros(2)), np.zeros((2, 2)))
    logs = landscapes.get("formula", expr="log(x) + y")
    v, _ = logs.value_and_grad(np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    assert np.isnan(v[0]) and v[1] == -np.inf and v[2] == 0.0


def test_latex_shows_the_formula() -> None:
    """Reference: SymPy's LaTeX printer, on the instance (the class keeps a placeholder)."""
    land = landscapes.get("formula", expr="x^2 + 3*y^2")
    assert land.latex.startswith("f(x,y) = ") and "x^{2}" in land.latex
    assert landscapes.REGISTRY["formula"].latex != land.latex


def test_deep_towers_are_refused_before_sympy() -> None:
    """Reference: MAX_DEPTH in landscapes/formula.py; a power tower past it is refused with a clear message
    instead of a RecursionError from deep inside SymPy, while long flat sums and products stay allowed."""
    with pytest.raises(ValueError, match="nests powers and functions"):
        check("x" + "^x" * 60)
    with pytest.raises(ValueError, match="nests powers and functions"):
        check("sin(" * 30 + "x" + ")" * 30)
    land = landscapes.get("formula", expr="x*" * 99 + "y")
    assert land.value(np.array([1.5, 2.0])) == pytest.approx(1.5**99 * 2.0)


# --- Safety: structural limits, time to accept or refuse, and derivatives without computer algebra ----------

# The bombs, then invented ones: deep brackets, power towers of numbers, long and huge numbers,
# 10 KB of text, 5,000 terms, constant parts that overflow, and the largest formulas each limit still allows.
BOMBS = [
    "((2*x)^1000000)^1000000", "(2*x)^1000000", "sqrt(2)^1000000*x", "((x+y)^50)^50", "exp(x)^1000000",
    "(" * 1000 + "x" + ")" * 1000, "(" * 99 + "x" + ")" * 99, "-" * 199 + "x", "9**9**9", "2^2^2^2^2^2^2",
    "1" * 150 + "*x", "1e308*1e308*x", "x^(10^10^10)", "(pi+99999)^64*x", "exp(1000)*x", "x^(0^-1)",
    "x" * 10_000, "x+" * 5000 + "x", "x^x^x^x^x^x^x^x", "((x+y)^16)^16", "(999999*999999*999999*x)^64",
    "(x*(pi+99999))^64*(x*(pi+99999))^64*(x*(pi+99999))^64", "sin(sin(sin(sin(sin(sin(sin(sin(x*y))))))))",
    "sin(x*y)*cos(x*y)*tan(x*y)*exp(x*y)*log(x*y)*sqrt(x*y)*tanh(x*y)*sinh(x*y)*cosh(x*y)*atan(x*y)*abs(x*y)",
    "(x^y)^(y^x)*(y^x)^(x^y)*(x^x)^(y^y)*(y^y)^(x^x)*(x+y)^(x*y)*(x*y)^(x+y)", "x*" * 99 + "y",
]


@pytest.mark.parametrize("text", BOMBS, ids=[b[:30] for b in BOMBS])
def test_every_bomb_is_refused_or_built_within_100_ms(text: str) -> None:
    """Reference: the issue's requirement, measured: a formula is accepted or refused (with a plain
    ValueError, never Python's internal hints) in ≤ 100 ms, and an accepted one evaluates value,
    gradient and Hessian on a 50×50 grid within the same budget."""
    landscapes.get("formula", expr="x^2")  # the module's imports, paid once per process, are not the formula's
    formula._compile.cache_clear()
    # CPU time of this thread: the work the formula costs, not the time other processes on a busy machine take.
    t0 = time.thread_time()
    try:
        land = landscapes.get("formula", expr=text)
    except ValueError as err:
        message = str(err)
        assert "sys." not in message and "set_int_max_str_digits" not in message and len(message) < 400
        built = False
    else:
        grid = np.stack(np.meshgrid(np.linspace(-2, 2, 50), np.linspace(-2, 2, 50)), axis=-1)
        land.value_and_grad(grid), land.hessian(grid)
        built = True
    elapsed = time.thread_time() - t0
    assert elapsed <= 0.1, f"{'built' if built else 'refused'} in {elapsed * 1000:.0f} ms"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("((2*x)^1000000)^1000000", "exponent 1000000 is larger than the limit 64"),
        ("x^-65", "exponent -65 is larger than the limit 64"),
        ("((x+y)^50)^50", "its powers add up to degree 2500, larger than the limit 256"),
        ("(x^64*y^36)^3", "degree 300, larger than the limit 256"),
        ("(x^16)^16*y", "degree 257"),
        ("sqrt(2)^1000000*x", "exponent 1000000"),
        ("1234567890123*x", "the number is larger than the limit 1e+12"),
        ("(pi+99999)^64*x", "too large (it overflows)"),
        ("exp(1000)*x", "too large (it overflows)"),
        ("x/0", "divides by zero"),
        ("x^(0^-1)", "divides by zero"),
        ("log(-1)*x", "no real value"),
        ("(-8)^(1/3)*x", "no real value"),
    ],
)
def test_limits_are_named_in_plain_words(text: str, why: str) -> None:
    """Reference: the limits MAX_EXPONENT, MAX_DEGREE and MAX_NUMBER in landscapes/formula.py, and the
    float value of the formula's constant part; the message says which limit, with the user's number."""
    with pytest.raises(ValueError, match="could not read the formula at ") as err:
        formula.check(text)
    assert why in str(err.value)


def test_node_cap_holds_when_the_length_cap_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reference: MAX_NODES; it still bounds the work if MAX_LENGTH is ever raised past it."""
    monkeypatch.setattr(formula, "MAX_LENGTH", 100_000)
    t0 = time.thread_time()
    with pytest.raises(ValueError, match=f"keep it under {formula.MAX_NODES}"):
        formula.check("x+" * 300 + "x")
    assert time.thread_time() - t0 < 0.1
    formula.check("x+" * 99 + "x")  # 199 nodes


TEXTBOOK = {
    "rosenbrock": "(1-x)^2 + 100*(y-x^2)^2",
    "himmelblau": "(x^2+y-11)^2 + (x+y^2-7)^2",
    "beale": "(1.5-x+x*y)^2 + (2.25-x+x*y^2)^2 + (2.625-x+x*y^3)^2",
    "six_hump_camel": "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (4*y^2-4)*y^2",
    "rastrigin": "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
    # The registry's Ackley rounds its cone tip over δ = 1e-3.
    "ackley": "20 + e - 20*exp(-0.2*(sqrt((x^2+y^2)/2 + 1e-6) - 1e-3)) - exp((cos(2*pi*x)+cos(2*pi*y))/2)",
}


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_textbook_surfaces_stay_within_the_limits(name: str, rng: np.random.Generator) -> None:
    """Reference: the hand-written landscape modules of the same name (two implementations that must agree
    in value, gradient and Hessian), so the limits keep every textbook surface working."""
    typed = landscapes.get("formula", expr=TEXTBOOK[name])
    hand = landscapes.get(name)
    pts = rng.uniform(-1.9, 1.9, size=(40, 2))
    v1, g1 = typed.value_and_grad(pts)
    v2, g2 = hand.value_and_grad(pts)
    np.testing.assert_allclose(v1, v2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(typed.hessian(pts), hand.hessian(pts), rtol=1e-9, atol=1e-9)


SYMPY_CHECKED = [
    "x^y + y^x", "x/(1+y^2) - y/(2+sin(x))", "abs(x-y)^3 + tan(x/3)*atan(y)", "sqrt(x^2+y^2+1)^(1/3)",
    "log(2+x^2)*exp(-y^2)*cosh(x/2)", "tanh(x*y)*sinh(y) - 2^x*pi^y", "(x+y)^-2 + x^4*y^-3",
    "sin(sin(sin(x*y+1)))*cos(cos(x-y))", "-x^2^0.5 + (-y)^3 / e",
]


@pytest.mark.parametrize("text", SYMPY_CHECKED)
def test_forward_differentiation_equals_sympy(text: str, rng: np.random.Generator) -> None:
    """Reference: SymPy's exact diff of the same formula, evaluated with lambdify (a reference implementation
    of symbolic differentiation); value, gradient and the three Hessian entries agree to rounding."""
    sympy = pytest.importorskip("sympy")
    x, y = sympy.symbols("x y", real=True)
    expr = sympy.sympify(text.replace("^", "**"), locals={"x": x, "y": y, "e": sympy.E, "atan": sympy.atan})
    fx, fy = sympy.diff(expr, x), sympy.diff(expr, y)
    parts = [expr, fx, fy, sympy.diff(fx, x), sympy.diff(fx, y), sympy.diff(fy, y)]
    parts = [p.replace(sympy.DiracDelta, lambda *_: sympy.Integer(0)) for p in parts]
    reference = sympy.lambdify((x, y), parts, modules="numpy")
    px, py = rng.uniform(0.3, 1.7, size=(2, 30))  # positive, so that x^y and (-y)^3 / e are real and smooth
    land = landscapes.get("formula", expr=text)
    ours = land._parts(np.stack([px, py], axis=-1))
    for got, want in zip(ours, reference(px, py), strict=True):
        np.testing.assert_allclose(got, np.broadcast_to(want, px.shape), rtol=1e-11, atol=1e-11)


EXTREME_POINTS = np.array([[0.0, 0.0], [-1.0, 0.0], [0.0, -1.0], [1e6, -1e6], [-1e300, 1e300], [1e-300, 5.0]])


@pytest.mark.parametrize(
    "text",
    ["(x*(pi+99999))^64*(x*(pi+99999))^64*(x*(pi+99999))^64", "exp(exp(exp(x)))*y", "1e12*x^64*y^64*1e12",
     "log(x) + y", "x^y", "x^-64 + y/x", "sqrt(x)*abs(y)", "tan(pi/2)*x", "(999999*999999*999999*x)^64"],
)
def test_accepted_formulas_evaluate_anywhere_without_warnings_or_errors(text: str) -> None:
    """Reference: NumPy's float semantics: out of the domain a formula gives nan or inf, silently (pytest
    turns any RuntimeWarning into an error), and never raises; the runner then reports the run."""
    land = landscapes.get("formula", expr=text)
    v, g = land.value_and_grad(EXTREME_POINTS)
    h = land.hessian(EXTREME_POINTS)
    assert v.shape == (6,) and g.shape == (6, 2) and h.shape == (6, 2, 2)
    assert v.dtype == g.dtype == h.dtype == np.float64
