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
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ValueError(f"{where}{self.name} must be true or false, got {value!r}")
        if kind == "choice" and not self.choices:
            if not isinstance(value, str):
                raise ValueError(f"{where}{self.name} must be text, got {value!r}")
            return value
        if kind == "choice":
            if value not in self.choices:
                raise ValueError(
                    f"{where}{self.name} must be one of {', '.join(self.choices)}; got {value!r}"
                )
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}{self.name} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{where}{self.name} must be finite, got {value!r}")
        if kind == "int":
            if number != int(number):
                raise ValueError(f"{where}{self.name} must be a whole number, got {value!r}")
            number = int(number)
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            raise ValueError(f"{where}{self.name} must be in {self.range_text()}, got {value!r}")
        return number

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. ``(0, inf)``."""
        left = "(" if self.low_open or not math.isfinite(self.low) else "["
        right = "]" if math.isfinite(self.high) else ")"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:g}"


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
