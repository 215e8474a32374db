"""Declarative parameter specs.

Optimizers, landscapes and networks describe their knobs with :class:`Spec`.
The numerics use a spec to validate a value where it enters; the UI uses the
same spec to build a control. Nothing here imports streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Value = float | int | bool | str


@dataclass(frozen=True)
class Spec:
    """One named parameter with its default, valid range and help text.

    Parameters
    ----------
    name : str
        Keyword name, as passed to ``get(name, **params)``.
    default : float, int, bool or str
        Default value; its Python type decides the kind of control.
    low, high : float, optional
        Valid closed range. ``-inf``/``inf`` for unbounded sides.
    low_open : bool
        If true the lower bound itself is invalid (e.g. a learning rate > 0).
    log : bool
        Show on a log scale.
    help : str
        One line a user can act on.
    choices : tuple of str
        For a string parameter, the allowed values. A string parameter with
        no choices is free text: any string passes :meth:`validate` and the
        owner parses it (e.g. a formula). Its kind stays ``"choice"``.
    ui_low, ui_high : float, optional
        Slider range when the valid range is unbounded.
    label : str, optional
        Display label (may be LaTeX-free unicode, e.g. ``"β₁"``).
    """

    name: str
    default: Value
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    log: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    ui_low: float | None = None
    ui_high: float | None = None
    label: str | None = None
    step: float | None = field(default=None)

    @property
    def kind(self) -> str:
        """One of ``"bool"``, ``"choice"``, ``"int"``, ``"float"``."""
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, str):
            return "choice"
        if isinstance(self.default, int):
            return "int"
        return "float"

    @property
    def slider_range(self) -> tuple[float, float]:
        """Finite ``(low, high)`` for a slider."""
        lo = self.ui_low if self.ui_low is not None else self.low
        hi = self.ui_high if self.ui_high is not None else self.high
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"spec {self.name!r} needs ui_low/ui_high for a slider")
        return float(lo), float(hi)

    def validate(self, value: Any, owner: str = "") -> Value:
        """Coerce ``value`` to this spec's kind and check its range.

        Raises
        ------
        ValueError
            With a message naming the parameter, the valid range and the value.
        """
        where = f"{owner}: " if owner else ""
        kind = self.kind
        if kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ValueError(f"{where}{self.name} must be true or false, got {short_repr(value)}")
        if kind == "choice" and not self.choices:
            if not isinstance(value, str):
                raise ValueError(f"{where}{self.name} must be text, got {short_repr(value)}")
            return value
        if kind == "choice":
            if value not in self.choices:
                raise ValueError(
                    f"{where}{self.name} must be one of {', '.join(self.choices)}; got {short_repr(value)}"
                )
            return value
        # A bool is an int to Python, but True is never meant as a learning rate or a step count.
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{where}{self.name} must be a number, got {value!r}")
        if isinstance(value, (int, np.integer)):
            # Exact, so that a 5,000-digit integer is compared, not converted (float() would overflow).
            number: float | int = int(value)
        else:
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{where}{self.name} must be a number, got {short_repr(value)}") from None
            if math.isnan(number):
                raise ValueError(f"{where}{self.name} must be a number, got {short_repr(value)}")
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            raise ValueError(f"{where}{self.name} must be in {self.range_text()}, got {short_repr(value)}")
        # Past here only an infinite bound lets a huge or infinite value through.
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"{where}{self.name} must be finite, got {short_repr(value)}")
        if kind == "int":
            if number != int(number):
                raise ValueError(f"{where}{self.name} must be a whole number, got {short_repr(value)}")
            return int(number)
        try:
            return float(number)
        except OverflowError:
            raise ValueError(f"{where}{self.name} must be finite, got {short_repr(value)}") from None

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. ``(0, inf)``."""
        left = "(" if self.low_open or not math.isfinite(self.low) else "["
        right = "]" if math.isfinite(self.high) else ")"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"


def short_repr(value: Any) -> str:
    """``value`` for a message: its repr cut to 40 characters; a huge integer by its number of digits.

    A message never echoes 10 KB of a link, and a 5,000-digit integer, which
    Python refuses to turn into text, is described instead.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(int(value)) >= 10**40:
        return f"a number of about {int(int(value).bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    # Whole bounds in full (a seed's 4294967295, not 4.29497e+09); the rest short.
    return str(int(x)) if float(x).is_integer() and 1 <= abs(x) < 1e10 else f"{x:g}"


def resolve(specs: Sequence[Spec], given: Mapping[str, Any], owner: str) -> dict[str, Value]:
    """Validate ``given`` against ``specs`` and fill in defaults.

    Raises
    ------
    ValueError
        On an unknown name or an invalid value.
    """
    known = {s.name: s for s in specs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(
            f"{owner}: unknown parameter(s) {', '.join(unknown)}; "
            f"expected {', '.join(known) or 'none'}"
        )
    return {s.name: s.validate(given.get(s.name, s.default), owner) for s in specs}
