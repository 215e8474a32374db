"""The user-typed formula surface.

References: hand-coded landscapes (the formula for Rosenbrock must equal the
Rosenbrock module, value, gradient and Hessian: two implementations that must
agree), Python's own ``**`` for ``^``, and, for rejected input, the whitelist
stated in landscapes/formula.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import landscapes
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
