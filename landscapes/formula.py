"""A surface typed by the user, e.g. ``x^2 + 3*y^2``, read safely.

The text is never evaluated. It is parsed with :mod:`ast`, every node is
checked against a short whitelist (numbers, ``x``, ``y``, ``pi``, ``e``,
``+ - * / **``, unary signs and a few named functions), and the checked tree
is translated node by node into a SymPy expression. SymPy then gives the exact
gradient and Hessian, which are compiled to NumPy with ``lambdify``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from common.spec import Spec
from landscapes.base import Bounds, Landscape, as_points, stack_grad, stack_hessian

#: Longest formula accepted, in characters.
MAX_LENGTH = 200
#: Deepest nesting of powers and function calls; deeper towers (x^x^x^...) make SymPy's derivatives explode.
MAX_DEPTH = 8
#: Names a formula may call, mapped to their SymPy function names.
FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "log": "log", "sqrt": "sqrt",
    "abs": "Abs", "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "arctan": "atan", "atan": "atan",
}
CONSTANTS = ("pi", "e")
VARIABLES = ("x", "y")
# Numbers past this are kept as floats, so that SymPy never builds huge exact integers.
_EXACT_LIMIT = 10**6

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
_NAMED_NODES = {
    ast.Attribute: "attribute access (a dot after a name)",
    ast.Lambda: "lambda",
    ast.Subscript: "indexing with [ ]",
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else",
    ast.Tuple: "tuples or commas",
    ast.List: "lists",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.NamedExpr: "assignment",
    ast.JoinedStr: "strings",
}

Compiled = Callable[[np.ndarray, np.ndarray], list[Any]]


def _allowed_text() -> str:
    return (
        "use numbers, x, y, pi, e, + - * / ^ (or **) and "
        + ", ".join(sorted(set(FUNCTIONS)))
    )


def _fail(text: str, offset: int | None, why: str) -> ValueError:
    """A ValueError quoting the formula up to ``offset`` (0-based)."""
    where = text if offset is None else text[: max(offset, 1)]
    return ValueError(f"could not read the formula at {where.strip()!r}: {why}")


def _to_user_offset(text: str, offset: int) -> int:
    """Map an offset in the ``^``→``**`` rewritten text back to the user's text."""
    rewritten = 0
    for i, ch in enumerate(text):
        step = 2 if ch == "^" else 1
        if rewritten + step > offset:
            return i
        rewritten += step
    return len(text)


def parse(text: str) -> Any:
    """Check a formula and turn it into a SymPy expression in ``x`` and ``y``.

    Parameters
    ----------
    text : str
        The formula. ``^`` means power, as users expect.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        ``"could not read the formula at '...': ..."`` naming the first part
        that is not allowed and what is.
    """
    if not isinstance(text, str):
        raise ValueError(f"the formula must be text, got {text!r}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"the formula is {len(text)} characters long; keep it under {MAX_LENGTH}")
    if not text.strip():
        raise ValueError("the formula is empty; type an expression in x and y, e.g. x^2 + 3*y^2")
    source = text.replace("^", "**")
    # Python would call leading blanks an indent; offsets below are into the unstripped text.
    lead = len(source) - len(source.lstrip())
    try:
        tree = ast.parse(source[lead:], mode="eval")
    except SyntaxError as err:
        end = lead + (err.offset or len(source))
        raise _fail(text, _to_user_offset(text, end), f"{err.msg}; check brackets and operators") from None
    import sympy  # a heavy import, paid only when someone types a formula

    names = {"x": sympy.Symbol("x", real=True), "y": sympy.Symbol("y", real=True), "pi": sympy.pi, "e": sympy.E}

    def where(node: ast.AST) -> int:
        end = getattr(node, "end_col_offset", None)
        return _to_user_offset(text, lead + end) if end is not None else len(text)

    def build(node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _fail(text, where(node), f"it nests powers and functions more than {MAX_DEPTH} deep; simplify it")
        if isinstance(node, ast.Expression):
            return build(node.body, depth)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(text, where(node), f"only numbers are allowed here; {_allowed_text()}")
            if isinstance(value, int) and abs(value) <= _EXACT_LIMIT:
                return sympy.Integer(value)
            if not math.isfinite(float(value)):
                raise _fail(text, where(node), "the number is too large")
            return sympy.Float(float(value))
        if isinstance(node, ast.Name):
            if node.id in names:
                return names[node.id]
            if node.id in FUNCTIONS:
                raise _fail(text, where(node), f"{node.id} is a function; write {node.id}(...)")
            raise _fail(text, where(node), f"unknown name {node.id!r}; {_allowed_text()}")
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            inner = build(node.operand, depth)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            deeper = depth + isinstance(node.op, ast.Pow)
            left, right = build(node.left, deeper), build(node.right, deeper)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
            if left.is_Number and right.is_Number:
                # Exact powers of numbers can explode (9**9**9); fold them in floats instead.
                try:
                    return sympy.Float(float(left) ** float(right))
                except (OverflowError, ZeroDivisionError, TypeError):
                    raise _fail(text, where(node), "this power of numbers is too large or undefined") from None
            return left**right
        if isinstance(node, ast.Call):
            func = node.func.id if isinstance(node.func, ast.Name) else None
            if func not in FUNCTIONS:
                shown = func if func is not None else ast.get_source_segment(source[lead:], node.func)
                raise _fail(text, where(node.func), f"unknown function {shown!r}; {_allowed_text()}")
            if node.keywords or len(node.args) != 1:
                raise _fail(text, where(node), f"{func} takes exactly one argument")
            return getattr(sympy, FUNCTIONS[func])(build(node.args[0], depth + 1))
        kind = _NAMED_NODES.get(type(node))
        if kind is None and isinstance(node, (ast.BinOp, ast.UnaryOp)):
            kind = "this operator"
        raise _fail(text, where(node), f"not allowed here: {kind or type(node).__name__}; {_allowed_text()}")

    expr = build(tree)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise _fail(text, None, "it divides by zero or is undefined everywhere")
    if expr.has(sympy.I):
        raise _fail(text, None, "it has complex values (e.g. sqrt or log of a negative number)")
    return expr


@lru_cache(maxsize=64)
def _compile(text: str) -> tuple[Compiled, str]:
    """Value, gradient and Hessian entries of a formula as one NumPy function, plus its LaTeX."""
    import sympy

    expr = parse(text)
    x, y = sympy.Symbol("x", real=True), sympy.Symbol("y", real=True)
    try:
        fx, fy = sympy.diff(expr, x), sympy.diff(expr, y)
        parts = [expr, fx, fy, sympy.diff(fx, x), sympy.diff(fx, y), sympy.diff(fy, y)]
        # |x| differentiates to sign(x) and then to a delta; the delta is zero wherever it can be evaluated.
        parts = [p.replace(sympy.DiracDelta, lambda *_: sympy.Integer(0)) for p in parts]
        return sympy.lambdify((x, y), parts, modules="numpy"), sympy.latex(expr)
    except (RecursionError, MemoryError, OverflowError) as err:
        raise _fail(text, None, f"its derivatives are too large to work out ({type(err).__name__}); simplify it") from None


class Formula(Landscape):
    r"""A surface from a formula in ``x`` and ``y``, with exact derivatives from SymPy.

    The critical points are unknown (``minima`` is empty). A formula that is
    not finite at the start, or is constant, is accepted; the runner reports
    what happens.

    Parameters
    ----------
    expr : str
        The formula, at most 200 characters, e.g. ``"(1-x)^2 + 100*(y-x^2)^2"``.
    xmin, xmax, ymin, ymax : float
        The view window; runs stop when they leave it.
    """

    name = "formula"
    title = "Your own formula"
    latex = r"f(x,y) = \text{your formula}"
    lesson = "Type any surface and watch the optimizers on it."
    specs = (
        Spec(
            "expr", "x^2 + 3*y^2",
            help="A formula in x and y: + - * / ^, pi, e, sin cos tan exp log sqrt abs tanh sinh cosh atan.",
            label="f(x, y) =",
        ),
        Spec("xmin", -3.0, low=-1e6, high=1e6, ui_low=-10.0, ui_high=10.0, help="Left edge of the window.", label="x min"),
        Spec("xmax", 3.0, low=-1e6, high=1e6, ui_low=-10.0, ui_high=10.0, help="Right edge of the window.", label="x max"),
        Spec("ymin", -3.0, low=-1e6, high=1e6, ui_low=-10.0, ui_high=10.0, help="Bottom edge of the window.", label="y min"),
        Spec("ymax", 3.0, low=-1e6, high=1e6, ui_low=-10.0, ui_high=10.0, help="Top edge of the window.", label="y max"),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        for low, high in (("xmin", "xmax"), ("ymin", "ymax")):
            if not p[low] < p[high]:
                raise ValueError(f"{self.name}: {low} must be less than {high}, got {low}={p[low]}, {high}={p[high]}")
        self._fn, tex = _compile(p["expr"])
        self.latex = f"f(x,y) = {tex}"

    @property
    def bounds(self) -> Bounds:
        p = self.params
        return ((p["xmin"], p["xmax"]), (p["ymin"], p["ymax"]))

    @property
    def start(self) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.bounds
        return (x0 + 0.8 * (x1 - x0), y0 + 0.75 * (y1 - y0))

    def _parts(self, points: np.ndarray) -> list[np.ndarray]:
        p = as_points(points)
        with np.errstate(all="ignore"):
            raw = self._fn(p[..., 0], p[..., 1])
            # Constant parts (a zero second derivative, say) come back as scalars.
            return [np.broadcast_to(np.asarray(r, dtype=np.float64), p.shape[:-1]).copy() for r in raw]

    def value_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, fx, fy, *_ = self._parts(points)
        return f, stack_grad(fx, fy)

    def hessian(self, points: np.ndarray) -> np.ndarray:
        _, _, _, fxx, fxy, fyy = self._parts(points)
        return stack_hessian(fxx, fxy, fyy)
