"""A surface typed by the user, e.g. ``x^2 + 3*y^2``, read safely.

The text is never evaluated. It is parsed with :mod:`ast`, every node is
checked against a short whitelist (numbers, ``x``, ``y``, ``pi``, ``e``,
``+ - * / **``, unary signs and a few named functions), and the checked tree
is sized before anything else happens (:func:`check`: length, node count,
nesting, exponents, degree, numbers), so a formula is accepted or refused in
well under a millisecond. The checked tree is then turned into NumPy code that
carries value, gradient and Hessian through every node (second-order forward
differentiation): exact derivatives whose cost is linear in the formula's
size, with no computer algebra (SymPy could hold the GIL for minutes, and
build integers of 10^12 bits, on a one-line formula), and into LaTeX.
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
#: Most nodes (numbers, names, operators, calls) in the parsed formula.
MAX_NODES = 200
#: Deepest nesting of powers and function calls (x^x^x^..., sin(sin(...))).
MAX_DEPTH = 8
#: Largest absolute constant exponent; x^64 already overflows float64 for |x| > 7e4.
MAX_EXPONENT = 64
#: Largest polynomial degree that nested and multiplied powers may add up to (((x+y)^50)^50 has 2500).
MAX_DEGREE = 256
#: Largest absolute number written in a formula.
MAX_NUMBER = 1e12
#: Names a formula may call.
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sinh", "cosh", "arctan", "atan")
CONSTANTS = ("pi", "e")
VARIABLES = ("x", "y")
# The same functions in floats, to size the constant parts of a formula.
_FLOAT_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "log": math.log, "sqrt": math.sqrt,
    "abs": abs, "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh, "arctan": math.atan, "atan": math.atan,
}
_FLOAT_CONSTANTS = {"pi": math.pi, "e": math.e}
# Messages quote at most this many characters, ending where the problem is.
_QUOTE = 40

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
    """A ValueError quoting the formula up to ``offset`` (0-based), at most its last ``_QUOTE`` characters."""
    where = (text if offset is None else text[: max(offset, 1)]).strip()
    if len(where) > _QUOTE:
        where = "…" + where[-_QUOTE:]
    return ValueError(f"could not read the formula at {where!r}: {why}")


def _to_user_offset(text: str, offset: int) -> int:
    """Map an offset in the ``^``→``**`` rewritten text back to the user's text."""
    rewritten = 0
    for i, ch in enumerate(text):
        step = 2 if ch == "^" else 1
        if rewritten + step > offset:
            return i
        rewritten += step
    return len(text)


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _read(text: str) -> tuple[ast.Expression, Callable[[ast.AST], int]]:
    """Parse the text as a Python expression after the ``^``→``**`` rewrite.

    Returns the tree and a function giving, for a node, the offset in the
    user's text just past it (for messages).
    """
    if not isinstance(text, str):
        raise ValueError(f"the formula must be text, got {type(text).__name__}")
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
    except (RecursionError, MemoryError):
        raise _fail(text, None, "it nests brackets too deeply; simplify it") from None

    def where(node: ast.AST) -> int:
        end = getattr(node, "end_col_offset", None)
        return _to_user_offset(text, lead + end) if end is not None else len(text)

    return tree, where


def _float_op(op: ast.operator, a: float, b: float) -> float:
    """``a op b`` in floats; NaN where it is undefined, inf where it overflows."""
    try:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        out = a**b
        return out if isinstance(out, float) else math.nan  # a negative base to a fractional power is complex
    except ZeroDivisionError:
        return math.nan
    except OverflowError:
        return math.inf


def check(text: str) -> ast.Expression:
    """Refuse a formula past any structural limit, or with no real value.

    The limits are ``MAX_LENGTH``, ``MAX_NODES``, ``MAX_DEPTH``,
    ``MAX_EXPONENT``, ``MAX_DEGREE``, ``MAX_NUMBER`` and the whitelist of
    names. Constant parts are computed in floats on the way: one that
    overflows, divides by zero or is complex (``sqrt(-1)``) is refused. The
    cost is linear in the length of the text, which is checked first.

    Parameters
    ----------
    text : str
        The formula; ``^`` means power.

    Returns
    -------
    ast.Expression
        The checked tree.

    Raises
    ------
    ValueError
        ``"could not read the formula at '...': ..."`` naming the first part
        that breaks a rule, e.g. ``"exponent 1000000 is larger than the limit 64"``.
    """
    tree, where = _read(text)
    nodes = sum(isinstance(n, ast.expr) for n in ast.walk(tree))
    if nodes > MAX_NODES:
        raise _fail(text, None, f"it has {nodes} parts (numbers, names, operators); keep it under {MAX_NODES}")

    def size(node: ast.AST, depth: int) -> tuple[float | None, float]:
        """``(value, degree)``: the float value of a constant part (None if it has x or y) and its degree."""
        if depth > MAX_DEPTH:
            raise _fail(text, where(node), f"it nests powers and functions more than {MAX_DEPTH} deep; simplify it")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(text, where(node), f"only numbers are allowed here; {_allowed_text()}")
            if not abs(value) <= MAX_NUMBER:  # exact for ints of any size; NaN cannot be written
                raise _fail(text, where(node), f"the number is larger than the limit {MAX_NUMBER:g}")
            return float(value), 0.0
        if isinstance(node, ast.Name):
            if node.id in VARIABLES:
                return None, 1.0
            if node.id in _FLOAT_CONSTANTS:
                return _FLOAT_CONSTANTS[node.id], 0.0
            if node.id in FUNCTIONS:
                raise _fail(text, where(node), f"{node.id} is a function; write {node.id}(...)")
            raise _fail(text, where(node), f"unknown name {node.id!r}; {_allowed_text()}")
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            value, degree = size(node.operand, depth)
            return (None if value is None else -value if isinstance(node.op, ast.USub) else value), degree
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            is_pow = isinstance(node.op, ast.Pow)
            (lv, ld), (rv, rd) = size(node.left, depth + is_pow), size(node.right, depth + is_pow)
            if not is_pow:
                degree = max(ld, rd) if isinstance(node.op, (ast.Add, ast.Sub)) else ld + rd
                value = None if lv is None or rv is None else _float_op(node.op, lv, rv)
            elif rv is None:
                value, degree = None, ld + rd
            else:
                if not math.isfinite(rv):
                    raise _fail(text, where(node), "the exponent is not a finite real number")
                if abs(rv) > MAX_EXPONENT:
                    raise _fail(
                        text, where(node), f"exponent {_fmt_number(rv)} is larger than the limit {MAX_EXPONENT}"
                    )
                value, degree = (None if lv is None else _float_op(node.op, lv, rv)), ld * abs(rv)
            if value is not None and math.isinf(value):
                raise _fail(text, where(node), "a number in it is too large (it overflows)")
            if (value is not None and math.isnan(value)) or (isinstance(node.op, ast.Div) and rv == 0):
                raise _fail(text, where(node), "it divides by zero or has no real value")
            if degree > MAX_DEGREE:
                raise _fail(
                    text, where(node),
                    f"its powers add up to degree {_fmt_number(degree)}, larger than the limit {MAX_DEGREE}",
                )
            return value, degree
        if isinstance(node, ast.Call):
            func = node.func.id if isinstance(node.func, ast.Name) else None
            if func not in FUNCTIONS:
                shown = func if func is not None else ast.unparse(node.func)
                raise _fail(text, where(node.func), f"unknown function {shown!r}; {_allowed_text()}")
            if node.keywords or len(node.args) != 1:
                raise _fail(text, where(node), f"{func} takes exactly one argument")
            value, degree = size(node.args[0], depth + 1)
            if value is not None:
                try:
                    value = float(_FLOAT_FUNCTIONS[func](value))
                except OverflowError:
                    raise _fail(text, where(node), "a number in it is too large (it overflows)") from None
                except ValueError:
                    value = math.nan
                if math.isnan(value):
                    raise _fail(text, where(node), "it has no real value (log or sqrt of a negative number)")
            return value, degree
        kind = _NAMED_NODES.get(type(node))
        if kind is None and isinstance(node, (ast.BinOp, ast.UnaryOp)):
            kind = "this operator"
        raise _fail(text, where(node), f"not allowed here: {kind or type(node).__name__}; {_allowed_text()}")

    size(tree.body, 0)
    return tree


# --- Value, gradient and Hessian by second-order forward differentiation of the checked tree ----------
#
# SymPy's diff and lambdify took seconds on some short formulas (a product of a dozen functions),
# holding the GIL all the while. Carrying (value, gradient, Hessian) through the tree instead costs a
# fixed number of array operations per node: compiling is linear in the formula's size, and so is
# every evaluation.

#: ``(f, fx, fy, fxx, fxy, fyy)`` at some points; ``None`` stands for a derivative that is zero everywhere.
Jet = tuple[Any, Any, Any, Any, Any, Any]
_Z = None


def _add(a: Any, b: Any) -> Any:
    return a if b is None else b if a is None else a + b


def _mul(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a * b


def _neg(a: Any) -> Any:
    return None if a is None else -a


def _sub(a: Any, b: Any) -> Any:
    return _add(a, _neg(b))


def _chain(u: Jet, f0: Any, f1: Any, f2: Any) -> Jet:
    """The jet of ``f(u)`` given ``f(u)``, ``f'(u)`` and ``f''(u)``."""
    _, ux, uy, uxx, uxy, uyy = u
    return (
        f0, _mul(f1, ux), _mul(f1, uy),
        _add(_mul(f2, _mul(ux, ux)), _mul(f1, uxx)),
        _add(_mul(f2, _mul(ux, uy)), _mul(f1, uxy)),
        _add(_mul(f2, _mul(uy, uy)), _mul(f1, uyy)),
    )


def _times(a: Jet, b: Jet) -> Jet:
    av, ax, ay, axx, axy, ayy = a
    bv, bx, by, bxx, bxy, byy = b
    return (
        av * bv, _add(_mul(ax, bv), _mul(av, bx)), _add(_mul(ay, bv), _mul(av, by)),
        _add(_add(_mul(axx, bv), _mul(2.0, _mul(ax, bx))), _mul(av, bxx)),
        _add(_add(_mul(axy, bv), _add(_mul(ax, by), _mul(ay, bx))), _mul(av, bxy)),
        _add(_add(_mul(ayy, bv), _mul(2.0, _mul(ay, by))), _mul(av, byy)),
    )


def _divide(a: Jet, b: Jet) -> Jet:
    """``q = a / b`` with ``q' = (a' - q b') / b`` and ``q'' = (a'' - q'b'ᵀ - b'q'ᵀ - q b'') / b``."""
    av, ax, ay, axx, axy, ayy = a
    bv, bx, by, bxx, bxy, byy = b
    q = av / bv
    inv = 1.0 / bv
    qx, qy = _mul(_sub(ax, _mul(q, bx)), inv), _mul(_sub(ay, _mul(q, by)), inv)
    qxx = _mul(_sub(_sub(axx, _mul(2.0, _mul(qx, bx))), _mul(q, bxx)), inv)
    qxy = _mul(_sub(_sub(_sub(axy, _mul(qx, by)), _mul(qy, bx)), _mul(q, bxy)), inv)
    qyy = _mul(_sub(_sub(ayy, _mul(2.0, _mul(qy, by))), _mul(q, byy)), inv)
    return q, qx, qy, qxx, qxy, qyy


def _power_const(u: Jet, c: float) -> Jet:
    """``u^c`` for a constant ``c``: ``c u^(c-1)`` and ``c (c-1) u^(c-2)``."""
    f0 = np.power(u[0], c)
    f1 = None if c == 0 else c * np.power(u[0], c - 1.0)
    f2 = None if c * (c - 1.0) == 0 else c * (c - 1.0) * np.power(u[0], c - 2.0)
    return _chain(u, f0, f1, f2)


def _power(u: Jet, w: Jet) -> Jet:
    """``u^w`` for a variable exponent: the jet of ``exp(w log u)``, valued by ``power`` itself."""
    log_u = _chain(u, np.log(u[0]), 1.0 / u[0], -1.0 / (u[0] * u[0]))
    exponent = _times(w, log_u)
    f0 = np.power(u[0], w[0])
    return _chain(exponent, f0, f0, f0)


def _sec2(u: Any) -> Any:
    return 1.0 + np.tan(u) ** 2


# name -> (f, f', f'') as functions of the argument's values.
_JET_FUNCTIONS: dict[str, Callable[[Any], tuple[Any, Any, Any]]] = {
    "sin": lambda u: (np.sin(u), np.cos(u), -np.sin(u)),
    "cos": lambda u: (np.cos(u), -np.sin(u), -np.cos(u)),
    "tan": lambda u: (np.tan(u), _sec2(u), 2.0 * np.tan(u) * _sec2(u)),
    "exp": lambda u: (np.exp(u),) * 3,
    "log": lambda u: (np.log(u), 1.0 / u, -1.0 / (u * u)),
    "sqrt": lambda u: (np.sqrt(u), 0.5 / np.sqrt(u), -0.25 / (u * np.sqrt(u))),
    # The second derivative of |u| is a delta: zero wherever it can be evaluated.
    "abs": lambda u: (np.abs(u), np.sign(u), None),
    "tanh": lambda u: (np.tanh(u), 1.0 - np.tanh(u) ** 2, -2.0 * np.tanh(u) * (1.0 - np.tanh(u) ** 2)),
    "sinh": lambda u: (np.sinh(u), np.cosh(u), np.sinh(u)),
    "cosh": lambda u: (np.cosh(u), np.sinh(u), np.cosh(u)),
    "atan": lambda u: (np.arctan(u), 1.0 / (1.0 + u * u), -2.0 * u / (1.0 + u * u) ** 2),
}
_JET_FUNCTIONS["arctan"] = _JET_FUNCTIONS["atan"]

Evaluator = Callable[[np.ndarray, np.ndarray], Jet]


def _jet_compile(tree: ast.Expression) -> Evaluator:
    """A function ``(x, y) -> jet`` for a tree that :func:`check` accepted, one closure per node.

    Constant parts are folded once here, in NumPy floats (so an overflow is inf, never an exception).
    """

    def constant(value: float) -> Evaluator:
        jet = (np.float64(value), _Z, _Z, _Z, _Z, _Z)
        return lambda x, y: jet

    def walk(node: ast.AST) -> tuple[Evaluator, bool]:
        """The node's evaluator, and whether it is constant."""
        if isinstance(node, ast.Constant):
            return constant(float(node.value)), True
        if isinstance(node, ast.Name):
            if node.id == "x":
                return (lambda x, y: (x, 1.0, _Z, _Z, _Z, _Z)), False
            if node.id == "y":
                return (lambda x, y: (y, _Z, 1.0, _Z, _Z, _Z)), False
            return constant(_FLOAT_CONSTANTS[node.id]), True
        if isinstance(node, ast.UnaryOp):
            inner, const = walk(node.operand)
            fn: Evaluator = inner
            if isinstance(node.op, ast.USub):
                def fn(x: np.ndarray, y: np.ndarray, inner: Evaluator = inner) -> Jet:
                    return tuple(_neg(part) for part in inner(x, y))  # type: ignore[return-value]
            return fold(fn, const)
        if isinstance(node, ast.BinOp):
            (left, lc), (right, rc) = walk(node.left), walk(node.right)
            op = node.op
            if isinstance(op, ast.Add):
                def fn(x: np.ndarray, y: np.ndarray) -> Jet:
                    return tuple(_add(a, b) for a, b in zip(left(x, y), right(x, y), strict=True))  # type: ignore[return-value]
            elif isinstance(op, ast.Sub):
                def fn(x: np.ndarray, y: np.ndarray) -> Jet:
                    return tuple(_sub(a, b) for a, b in zip(left(x, y), right(x, y), strict=True))  # type: ignore[return-value]
            elif isinstance(op, ast.Mult):
                def fn(x: np.ndarray, y: np.ndarray) -> Jet:
                    return _times(left(x, y), right(x, y))
            elif isinstance(op, ast.Div):
                def fn(x: np.ndarray, y: np.ndarray) -> Jet:
                    return _divide(left(x, y), right(x, y))
            elif rc:
                c = float(right(np.zeros(1), np.zeros(1))[0])

                def fn(x: np.ndarray, y: np.ndarray) -> Jet:
                    return _power_const(left(x, y), c)
            else:
                def fn(x: np.ndarray, y: np.ndarray) -> Jet:
                    return _power(left(x, y), right(x, y))
            return fold(fn, lc and rc)
        assert isinstance(node, ast.Call)  # check() let nothing else through
        inner, const = walk(node.args[0])
        table = _JET_FUNCTIONS[node.func.id]

        def fn(x: np.ndarray, y: np.ndarray) -> Jet:
            u = inner(x, y)
            return _chain(u, *table(u[0]))
        return fold(fn, const)

    def fold(fn: Evaluator, const: bool) -> tuple[Evaluator, bool]:
        if not const:
            return fn, False
        with np.errstate(all="ignore"):
            return constant(fn(np.zeros(1), np.zeros(1))[0]), True

    return walk(tree.body)[0]


# --- LaTeX straight from the checked tree: linear in its size, as the user wrote it ----------------------

_LATEX_FUNCTIONS = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "exp": r"\exp", "log": r"\log", "tanh": r"\tanh",
    "sinh": r"\sinh", "cosh": r"\cosh", "atan": r"\arctan", "arctan": r"\arctan",
}
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Pow: 4}


def _latex_number(value: float) -> str:
    text = _fmt_number(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def _latex(node: ast.AST) -> tuple[str, int]:
    """LaTeX of a checked node and its precedence (5 for atoms)."""

    def wrapped(child: ast.AST, below: int) -> str:
        text, prec = _latex(child)
        return rf"\left({text}\right)" if prec < below else text

    if isinstance(node, ast.Constant):
        return _latex_number(float(node.value)), 5
    if isinstance(node, ast.Name):
        return {"pi": r"\pi"}.get(node.id, node.id), 5
    if isinstance(node, ast.UnaryOp):
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        return sign + wrapped(node.operand, 3), 3
    if isinstance(node, ast.BinOp):
        prec = _PRECEDENCE[type(node.op)]
        if isinstance(node.op, ast.Div):
            return rf"\frac{{{_latex(node.left)[0]}}}{{{_latex(node.right)[0]}}}", 5
        if isinstance(node.op, ast.Pow):
            return f"{wrapped(node.left, 5)}^{{{_latex(node.right)[0]}}}", prec
        if isinstance(node.op, ast.Mult):
            right = wrapped(node.right, 2)
            glue = r" \cdot " if isinstance(node.right, ast.Constant) or right[0] in "+-" else " "
            return wrapped(node.left, 2) + glue + right, prec
        sign = " + " if isinstance(node.op, ast.Add) else " - "
        return wrapped(node.left, 1) + sign + wrapped(node.right, prec + isinstance(node.op, ast.Sub)), prec
    assert isinstance(node, ast.Call)  # check() let nothing else through
    name, (arg, _) = node.func.id, _latex(node.args[0])
    if name == "sqrt":
        return rf"\sqrt{{{arg}}}", 5
    if name == "abs":
        return rf"\left|{arg}\right|", 5
    return rf"{_LATEX_FUNCTIONS[name]}\left({arg}\right)", 5


@lru_cache(maxsize=64)
def _compile(text: str) -> tuple[Compiled, str]:
    """Value, gradient and Hessian entries of a formula as one NumPy function, plus its LaTeX."""
    tree = check(text)
    evaluate = _jet_compile(tree)

    def fn(x: np.ndarray, y: np.ndarray) -> list[Any]:
        return [0.0 if part is None else part for part in evaluate(x, y)]

    return fn, _latex(tree.body)[0]


class Formula(Landscape):
    r"""A surface from a formula in ``x`` and ``y``, with exact derivatives (forward differentiation).

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
