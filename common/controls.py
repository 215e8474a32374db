"""Page controls declared once: the URL codec, caps and notices derive from the declarations.

A page lists its controls as :class:`Control` declarations, each wrapping a
:class:`common.spec.Spec` (URL key, default, valid range, log scale, help,
label). From that one list:

* :func:`decode` reads a query string: garbage becomes the default plus a
  notice, values above a cap are clamped with a notice;
* :func:`encode` writes the values that differ from their defaults;
* ``ui.controls`` draws the widgets (the only part that imports streamlit).

Controls are processed in order, so a control's dynamic default, choices or
visibility may read the values of the controls declared before it (a
dataset's own noise level, the feature pairs of the chosen dataset).

User text never becomes markup: :func:`echo` cuts a value to
:data:`ECHO_CHARS` characters and escapes every Markdown character, and
every notice built here goes through it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.spec import Spec

Values = dict[str, Any]
Query = Mapping[str, Sequence[str]]

#: Longest piece of user text echoed back in a message.
ECHO_CHARS = 40
#: Longest text a free-text control accepts from a link.
MAX_TEXT = 500
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&\"'=^])")


def echo(value: Any, limit: int = ECHO_CHARS) -> str:
    """``value`` as plain text for a Markdown message: cut to ``limit`` characters, every markup character escaped.

    Streamlit renders alerts as Markdown (links, images, math, colour
    directives); a backslash before each ASCII punctuation character makes it
    literal. Control characters and newlines become spaces.
    """
    text = "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in str(value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def notice_text(notices: Sequence[str], limit: int = 6) -> str:
    """One sentence naming what a link asked for that was replaced, for one warning box.

    ``notices`` are already escaped (built by :func:`decode` and :func:`echo`).
    """
    shown = list(notices[:limit])
    more = f" and {len(notices) - limit} more" if len(notices) > limit else ""
    return "Some link settings were ignored or capped: " + "; ".join(shown) + more + "."


def fmt_value(value: Any) -> str:
    """Shortest text that parses back to the same value (``repr`` for floats, ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Control:
    """One page control, declared once.

    Parameters
    ----------
    spec : Spec
        ``spec.name`` is the URL key and the key of the value in the page's
        values; ``low``/``high`` bound it (``high`` is the cap: larger values
        from a link are clamped to it with a notice), ``choices`` list the
        options, ``log``, ``help`` and ``label`` shape the widget.
    section : str
        The sidebar heading it is drawn under.
    widget : str
        ``""`` derives the widget from the spec (checkbox, selectbox, text,
        log select-slider, slider); or one of ``"radio"``, ``"number"``,
        ``"multiselect"``, ``"select_slider"``.
    shown : callable, optional
        ``shown(values)`` -> whether the control is drawn (its value is kept
        either way).
    choices : callable, optional
        ``choices(values)`` -> the allowed options, when they depend on other
        controls; overrides ``spec.choices``.
    default : callable, optional
        ``default(values)`` -> the default, when it depends on other controls.
    check : callable, optional
        ``check(value, values)`` raises ``ValueError`` with a plain message
        when a value that passed the spec is still unusable (e.g. hidden
        sizes ``"4,x"``). Returns the value to keep.
    fmt : callable, optional
        Option label for choice widgets.
    fmt_in : callable, optional
        ``fmt_in(option, values)``: an option label that depends on other
        controls (the X-ray names the optimizer it would show).
    resets : tuple of str
        Keys reset to their defaults when the user changes this control
        (a new dataset brings its own noise level and feature view).
    many : bool
        A list of choices (repeated URL key, multiselect).
    steps : tuple of numbers
        For ``widget="select_slider"``: the positions offered.
    url : str
        A short URL key when it differs from ``spec.name`` (a library
        parameter ``activation`` shown in links as ``act``).
    """

    spec: Spec
    section: str = ""
    widget: str = ""
    shown: Callable[[Mapping[str, Any]], bool] | None = None
    choices: Callable[[Mapping[str, Any]], Sequence[Any]] | None = None
    default: Callable[[Mapping[str, Any]], Any] | None = None
    check: Callable[[Any, Mapping[str, Any]], Any] | None = None
    fmt: Callable[[Any], str] | None = None
    fmt_in: Callable[[Any, Mapping[str, Any]], str] | None = None
    resets: tuple[str, ...] = ()
    many: bool = False
    steps: tuple[Any, ...] = ()
    url: str = ""

    def __post_init__(self) -> None:
        kind = self.spec.kind
        if kind in ("int", "float") and not (math.isfinite(self.spec.low) and math.isfinite(self.spec.high)):
            raise ValueError(f"control {self.key!r} needs a finite range, got {self.spec.range_text()}")

    @property
    def key(self) -> str:
        """URL key and value name."""
        return self.url or self.spec.name

    def formatter(self, values: Mapping[str, Any]) -> Callable[[Any], str] | None:
        """The option labels a widget shows: :attr:`fmt`, or :attr:`fmt_in` read against ``values``."""
        if self.fmt_in is not None:
            fmt_in = self.fmt_in
            return lambda option: fmt_in(option, values)
        return self.fmt

    def options(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """Allowed values for a choice control (``()`` for free values)."""
        if self.choices is not None:
            return tuple(self.choices(values))
        if self.steps:
            return self.steps
        return tuple(self.spec.choices)

    def default_for(self, values: Mapping[str, Any]) -> Any:
        """The default given the controls before it."""
        if self.default is not None:
            return self.default(values)
        if self.many:
            return ()
        return self.spec.default

    def is_shown(self, values: Mapping[str, Any]) -> bool:
        """Whether the widget is drawn for these values."""
        return self.shown is None or bool(self.shown(values))

    def coerce(self, value: Any, values: Mapping[str, Any]) -> Any:
        """Validate an already typed value (from a widget, a preset or a lesson).

        Raises
        ------
        ValueError
            With a plain message, when the value is unusable.
        """
        if self.many:
            opts = self.options(values)
            items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            bad = [v for v in items if v not in opts]
            if bad:
                raise ValueError(f"{self.key} must be among {', '.join(map(str, opts))}")
            return tuple(dict.fromkeys(items))
        opts = self.options(values)
        if opts:
            if value not in opts:
                raise ValueError(f"{self.key} must be one of {', '.join(map(str, opts[:12]))}")
        else:
            value = self.spec.validate(value)
        return self.check(value, values) if self.check is not None else value

    def parse(self, text: str, values: Mapping[str, Any]) -> tuple[Any, str | None]:
        """URL text to a value, and a notice (already escaped) or None.

        Never raises: unusable text gives the default and a notice; a number
        above the cap gives the cap and a notice.
        """
        where = f"{self.key}={echo(text)}"
        default = self.default_for(values)
        opts = self.options(values)
        if opts and self.spec.kind != "bool":
            typed = _typed_option(text, opts)
            if typed is _MISSING:
                return default, f"{where} (not one of the options)"
            try:
                return self.coerce(typed, values), None
            except ValueError as err:
                return default, f"{where} ({echo(err, 160)})"
        kind = self.spec.kind
        if kind == "bool":
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True, None
            if low in ("0", "false", "no", "off"):
                return False, None
            return default, f"{where} (use true or false)"
        if kind == "choice":  # free text
            if len(text) > MAX_TEXT:
                return default, f"{where} (longer than {MAX_TEXT} characters)"
            try:
                return self.coerce(text, values), None
            except ValueError as err:
                return default, f"{where} ({echo(err, 160)})"
        number = _number(text)
        if number is None:
            return default, f"{where} (not a finite number)"
        if kind == "int" and number != math.floor(number):
            return default, f"{where} (not a whole number)"
        spec = self.spec
        too_low = number <= spec.low if spec.low_open else number < spec.low
        if too_low:
            return default, f"{where} (must be {'>' if spec.low_open else '≥'} {spec.low:g})"
        capped = number > spec.high
        if capped:
            number = spec.high
        value: Any = int(number) if kind == "int" else float(number)
        try:
            value = self.coerce(value, values)
        except ValueError as err:
            return default, f"{where} ({echo(err, 160)})"
        return value, (f"{where} (capped at {fmt_value(value)})" if capped else None)

    def to_text(self, value: Any) -> str | list[str]:
        """URL text of a value."""
        if self.many:
            return [fmt_value(v) for v in value]
        return fmt_value(value)


_MISSING = object()


def _typed_option(text: str, options: Sequence[Any]) -> Any:
    """The option whose URL text is ``text`` (options may be numbers or strings)."""
    for opt in options:
        if fmt_value(opt) == text or str(opt) == text:
            return opt
    number = _number(text)
    if number is not None:
        for opt in options:
            if isinstance(opt, (int, float)) and not isinstance(opt, bool) and float(opt) == number:
                return opt
    return _MISSING


def _number(text: str) -> float | None:
    """A finite float from text, or None (also for text too long to be a sensible number)."""
    t = text.strip()
    if not t or len(t) > 40:
        return None
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def normalise(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{key: [text, ...]}`` from ``st.query_params``-like input (values as str or lists)."""
    out: dict[str, list[str]] = {}
    for k, v in params.items():
        out[str(k)] = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
    return out


def decode(controls: Sequence[Control], query: Mapping[str, Any], *,
           known: Callable[[str], bool] = lambda key: False, start: Mapping[str, Any] | None = None,
           ) -> tuple[Values, list[str]]:
    """Values for every control from a query, with an escaped notice per replaced value.

    Parameters
    ----------
    controls : sequence of Control
        In dependency order.
    query : mapping of str to str or list of str
    known : callable
        ``known(key)`` is true for keys the page decodes elsewhere (e.g.
        ``o0.lr``); any other key not declared gets an "unknown" notice.
    start : mapping, optional
        Values decoded before these controls (their keys count as known).

    Returns
    -------
    values : dict
        One usable value per control.
    notices : list of str
        Escaped, each naming the key, a cut echo of the value and the reason.
    """
    q = normalise(query)
    values: Values = dict(start or {})
    notices: list[str] = []
    for c in controls:
        texts = q.get(c.key)
        if not texts:
            values[c.key] = c.default_for(values)
            continue
        if c.many:
            opts = c.options(values)
            picked = []
            for t in texts:
                typed = _typed_option(t, opts)
                if typed is _MISSING:
                    notices.append(f"{c.key}={echo(t)} (not one of the options)")
                elif typed not in picked:
                    picked.append(typed)
            values[c.key] = tuple(picked)
            continue
        if len(texts) > 1:
            values[c.key] = c.default_for(values)
            notices.append(f"{c.key} given {len(texts)} times (default kept)")
            continue
        values[c.key], note = c.parse(texts[0], values)
        if note:
            notices.append(note)
    declared = {c.key for c in controls} | set(start or {})
    for key in q:
        if key not in declared and not known(key):
            notices.append(f"{echo(key)} (unknown setting)")
    return values, notices


def encode(controls: Sequence[Control], values: Mapping[str, Any], *,
           start: Mapping[str, Any] | None = None) -> dict[str, str | list[str]]:
    """Query parameters for the values that differ from their defaults (in declaration order).

    ``start`` holds values decoded apart (a surface's parameters) that dynamic defaults read.
    """
    out: dict[str, str | list[str]] = {}
    seen: Values = dict(start or {})
    for c in controls:
        value = values.get(c.key, c.default_for(seen))
        if value != c.default_for(seen):
            out[c.key] = c.to_text(value)
        seen[c.key] = value
    return out


def defaults(controls: Sequence[Control], given: Mapping[str, Any] | None = None) -> Values:
    """Every control's value: ``given`` where it is usable, else the (dynamic) default.

    Raises
    ------
    ValueError
        When a given value is unusable: presets and lessons are code, so a
        bad one is a bug to report, not a value to replace quietly.
    """
    given = dict(given or {})
    values: Values = {}
    for c in controls:
        if c.key in given:
            values[c.key] = c.coerce(given.pop(c.key), values)
        else:
            values[c.key] = c.default_for(values)
    if given:
        raise ValueError(f"unknown control(s) {', '.join(sorted(given))}")
    return values


def repair(controls: Sequence[Control], values: Mapping[str, Any]) -> Values:
    """``values`` with each one that no longer fits (its choices changed with another control) set to its default."""
    out: Values = {}
    for c in controls:
        value = values.get(c.key, _MISSING)
        if value is _MISSING:
            out[c.key] = c.default_for(out)
            continue
        try:
            out[c.key] = c.coerce(value, out)
        except (ValueError, TypeError):
            out[c.key] = c.default_for(out)
    return out


def keys(controls: Iterable[Control]) -> tuple[str, ...]:
    """The URL keys of ``controls``."""
    return tuple(c.key for c in controls)
