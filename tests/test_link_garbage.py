"""Garbage in every declared link key, markup in link values, impossible combinations (pure: no streamlit).

Reference: each control's declaration read by hand (issue 11, "Garbage per
control"): a value the spec accepts is kept; a finite number above the cap
becomes the cap; anything else becomes the declared default. Each replaced
value gets a notice that names the key and echoes the value escaped and cut
to about 40 characters. Validity of an optimizer's combination is judged by
the library itself (``OptimizerConfig.build``), validity of a start point by
the surface's window.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

import optimizers
from common.controls import ECHO_CHARS, Control, echo, fmt_value, notice_text
from optimizers.config import TRANSFORM_SPECS, OptimizerConfig
from optimizers.transforms import SCHEDULES
from ui import networks_model as nm
from ui import surfaces_model as sm

GARBAGE = {
    "empty": "",
    "abc": "abc",
    "nan": "nan",
    "inf": "inf",
    "1e309": "1e309",
    "-1": "-1",
    "2**63": str(2**63),
    "10KB": "9" * 10_240,
}
#: The codec closes a spec's open side at this value when parsing (ui.codec._bounded).
OPEN_CAP = 1e12
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
#: The longest notice a single replaced value may produce: key, a cut echo, a short reason.
MAX_NOTICE = 260


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) and len(text.strip()) <= 40 else None


def expected(spec, text: str, options: tuple = (), check=None, values: dict | None = None) -> tuple[str, Any]:
    """What a link value must become, from the declaration alone: ("keep", v), ("cap", v) or ("default", None)."""
    if spec.kind == "bool":
        t = text.strip().lower()
        return ("keep", True) if t in TRUE else ("keep", False) if t in FALSE else ("default", None)
    if options:
        for o in options:
            if fmt_value(o) == text or str(o) == text:
                return "keep", o
        x = _number(text)
        for o in options:
            if x is not None and isinstance(o, (int, float)) and not isinstance(o, bool) and float(o) == x:
                return "keep", o
        return "default", None
    if spec.kind == "choice":  # free text
        if len(text) > 500:
            return "default", None
        try:
            return "keep", (check(text, values or {}) if check else text)
        except ValueError:
            return "default", None
    x = _number(text)
    if x is None or (spec.kind == "int" and x != math.floor(x)):
        return "default", None
    if x < spec.low or (spec.low_open and x <= spec.low):
        return "default", None
    high = min(spec.high, OPEN_CAP)
    verdict, value = ("cap", high) if x > high else ("keep", x)
    value = int(value) if spec.kind == "int" else float(value)
    if check is not None:
        try:
            check(value, values or {})
        except ValueError:
            return "default", None
    return verdict, value


def _assert_notice(notices: list[str], key: str, text: str, verdict: str) -> None:
    named = f"{key}={echo(text)}"
    hits = [n for n in notices if n.startswith(named) or n.startswith(f"{key} given")]
    assert hits, (named[:80], notices)
    if verdict == "cap":
        assert any("capped" in n for n in hits), hits
    for n in notices:
        assert len(n) <= MAX_NOTICE, n[:120]
        assert text[:60] not in n or len(text) <= ECHO_CHARS


def _two_valid(c: Control, values: dict) -> list[str]:
    """Two different texts the control accepts on its own (for the repeated-key case)."""
    spec, opts = c.spec, c.options(values)
    if spec.kind == "bool":
        return ["true", "false"]
    if opts:
        return [fmt_value(o) for o in (opts[0], opts[-1])]
    if spec.kind == "choice":
        return ["3", "8,8"]
    d = c.default_for(values)
    cands = [d, d + 0.1 if spec.kind == "float" else d + 1, spec.low, min(spec.high, OPEN_CAP)]
    good = [fmt_value(v) for v in cands if expected(spec, fmt_value(v), (), c.check, values)[0] == "keep"]
    return good[:2]


def _control_cases(model, controls):
    return [pytest.param(model, c, id=f"{'surf' if model is sm.MODEL else 'net'}.{c.key}") for c in controls]


CONTROL_CASES = _control_cases(sm.MODEL, sm.CONTROLS) + _control_cases(nm.MODEL, nm.CONTROLS)
#: Links a control is tried in, when its options depend on another control (XOR has one boundary view only).
CONTEXT = {"view": {"data": "iris"}}


@pytest.mark.parametrize(("model", "c"), CONTROL_CASES)
def test_garbage_in_each_declared_control(model, c):
    """Reference: the declaration (see module docstring) for each of empty, abc, nan, inf, 1e309, -1, 2**63 and a
    10 KB value, and a repeated key: the value the declaration allows, a notice for each replaced one, no exception."""
    ctx = CONTEXT.get(c.key, {})
    base, _ = model.decode(ctx)
    for label, text in GARBAGE.items():
        values, notices = model.decode({**ctx, c.key: text})
        verdict, want = expected(c.spec, text, c.options(base), c.check, base)
        got = values[c.key]
        if c.many:
            want = (want,) if verdict == "keep" else ()
            assert got == want, (label, got)
        elif verdict == "default":
            assert got == c.default_for(values), (label, got)
        else:
            assert got == want and type(got) is type(want), (label, got, want)
        if verdict == "keep":
            assert not any(n.startswith(f"{c.key}=") for n in notices), (label, notices)
        else:
            _assert_notice(notices, c.key, text, verdict)
    pair = _two_valid(c, base)
    assert len(pair) == 2 and pair[0] != pair[1], pair
    values, notices = model.decode({**ctx, c.key: pair})
    if c.many:  # a list control: the repeated key is the list
        assert len(values[c.key]) == 2 and not notices
    else:
        assert values[c.key] == c.default_for(values)
        assert any(n.startswith(f"{c.key} given 2 times") for n in notices), notices


def _opt_cases():
    for name in optimizers.names():
        for spec in optimizers.REGISTRY[name].specs:
            yield pytest.param(name, spec.name, id=f"{name}.{spec.name}")


def _decoded_optimizer(model, query: dict) -> tuple[OptimizerConfig, dict, list[str]]:
    values, notices = model.decode(query)
    entry = values["optimizers"][0]
    return entry.config, dict(entry.extras), notices


@pytest.mark.parametrize(("name", "hp"), list(_opt_cases()))
def test_garbage_in_each_optimizer_hyperparameter(name, hp):
    """Reference: the hyperparameter's spec (open sides closed at 1e12), and the library's own check
    (OptimizerConfig.build) for a capped value: a combination it refuses gives that optimizer's defaults."""
    spec = next(s for s in optimizers.REGISTRY[name].specs if s.name == hp)
    for label, text in GARBAGE.items():
        cfg, _, notices = _decoded_optimizer(sm.MODEL, {"o0": name, f"o0.{hp}": text})
        assert cfg.name == name
        verdict, want = expected(spec, text, spec.choices)
        if verdict == "cap":
            try:
                OptimizerConfig.make(name, {hp: want}).build()
            except ValueError:
                verdict = "defaults"
        got = dict(cfg.hparams)[hp]
        if verdict in ("keep", "cap"):
            assert got == want, (label, got, want)
        else:
            assert got == spec.default, (label, got)
        if verdict != "keep":
            _assert_notice(notices, f"o0.{hp}", text, "cap" if verdict == "cap" else "default")
    cfg, _, notices = _decoded_optimizer(sm.MODEL, {"o0": name, f"o0.{hp}": [fmt_value(spec.default), "1"]})
    assert dict(cfg.hparams)[hp] == spec.default
    assert any(n.startswith(f"{echo(f'o0.{hp}')} given 2 times") for n in notices), notices


TRANSFORM_CASES = [(attr, spec, {}) for attr, spec in TRANSFORM_SPECS.items()] + [
    (f"schedule_params.{s.name}", s, {"o0.schedule": sched}) for sched, entry in SCHEDULES.items() for s in entry.specs
]


@pytest.mark.parametrize(("model", "attr", "spec", "ctx"),
                         [pytest.param(m, a, s, c, id=f"{tag}.{a}") for m, tag in ((sm.MODEL, "surf"), (nm.MODEL, "net"))
                          for a, s, c in TRANSFORM_CASES])
def test_garbage_in_each_transform_key(model, attr, spec, ctx):
    """Reference: the transform's or schedule parameter's spec (open sides closed at 1e12) and the library's check,
    on both pages (the same codec, through each page's model)."""
    sched = ctx.get("o0.schedule")
    key = f"o0.schedule.{spec.name}" if sched else f"o0.{spec.name}"
    for label, text in GARBAGE.items():
        cfg, _, notices = _decoded_optimizer(model, {"o0": "adam", **ctx, key: text})
        verdict, want = expected(spec, text, spec.choices)
        if verdict == "cap":
            try:
                OptimizerConfig.make("adam", {}, schedule=sched or "constant",
                                     schedule_params={spec.name: want} if sched else None,
                                     **({} if sched else {attr: want})).build()
            except ValueError:
                verdict = "defaults"
        got = dict(cfg.schedule_params)[spec.name] if sched else getattr(cfg, attr)
        if verdict in ("keep", "cap"):
            assert got == want, (label, got, want)
        else:
            assert got == spec.default, (label, got)
        if verdict != "keep":
            _assert_notice(notices, key, text, "cap" if verdict == "cap" else "default")


@pytest.mark.parametrize("c", nm.OPTIMIZER_EXTRAS, ids=lambda c: c.key)
def test_garbage_in_each_per_optimizer_extra(c):
    """Reference: the extra's declaration (o0.batch: one of -1 = as the page, 0 = full batch, 1, 2, … 256)."""
    for label, text in GARBAGE.items():
        _, extras, notices = _decoded_optimizer(nm.MODEL, {"o0": "gd", f"o0.{c.key}": text})
        verdict, want = expected(c.spec, text, c.options({}))
        assert extras[c.key] == (want if verdict == "keep" else c.default_for({})), label
        if verdict != "keep":
            _assert_notice(notices, f"o0.{c.key}", text, verdict)


@pytest.mark.parametrize("label", list(GARBAGE))
def test_garbage_in_optimizer_heads_and_indices(label):
    """Reference: the optimizer list's rules: an unusable name or index is dropped with a notice and, when nothing
    usable is left, the page's default list is shown."""
    text = GARBAGE[label]
    for model in (sm.MODEL, nm.MODEL):
        values, notices = model.decode({"o0": text})
        assert values["optimizers"] == model.defaults()["optimizers"]
        assert any(n.startswith(f"o0={echo(text)}") for n in notices), notices
        values, notices = model.decode({f"o{text}": "gd"})
        assert values["optimizers"] == model.defaults()["optimizers"]
        assert notices and all(len(n) <= MAX_NOTICE for n in notices)
    values, notices = sm.MODEL.decode({"o0": ["gd", "adam"]})
    assert values["optimizers"] == sm.MODEL.defaults()["optimizers"]
    assert any(n.startswith("o0 given 2 times") for n in notices)


def test_optimizer_index_of_5000_digits_is_not_an_optimizer():
    """QA (issue 11): an optimizer key `o` followed by 5,000 digits ended in a traceback. Reference: the key rules
    (o0 … o99): it is an unknown setting, echoed cut to about 40 characters."""
    key = "o" + "7" * 5000
    values, notices = sm.MODEL.decode({key: "adam", f"{key}.lr": "0.1"})
    assert values["optimizers"] == sm.MODEL.defaults()["optimizers"]
    assert len(notices) == 2 and all(len(n) < 80 for n in notices), notices


def test_more_optimizers_than_the_cap_are_dropped_with_a_notice():
    """Reference: MAX_OPTIMIZERS of each page: the first ones are kept in order, the rest named in one notice."""
    for model, cap in ((sm.MODEL, sm.MAX_OPTIMIZERS), (nm.MODEL, nm.MAX_OPTIMIZERS)):
        names = optimizers.names()
        query = {f"o{i}": names[i % len(names)] for i in range(cap + 3)}
        values, notices = model.decode(query)
        assert [e.config.name for e in values["optimizers"]] == [names[i % len(names)] for i in range(cap)]
        assert notices == [f"more than {cap} optimizers (the rest dropped)"]


# -- injection ---------------------------------------------------------------------------------------
PAYLOAD = "**Session expired** [sign in](https://example.invalid) ![x](https://example.invalid/t.png)"


def unescaped(markdown: str, token: str) -> bool:
    """Whether ``token`` occurs with its first character not escaped by a backslash (an odd run of them)."""
    for m in re.finditer(re.escape(token), markdown):
        i, slashes = m.start() - 1, 0
        while i >= 0 and markdown[i] == "\\":
            slashes, i = slashes + 1, i - 1
        if slashes % 2 == 0:
            return True
    return False


def visible(markdown: str) -> str:
    """The text a reader sees: backslash escapes resolved."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_unescaped_helper_finds_markup():
    """Reference: hand-written strings: raw markup is found, escaped markup is not, an escaped backslash does not
    escape what follows it."""
    assert unescaped("a [b](c)", "](") and unescaped("**x**", "**") and unescaped("\\\\[x]", "[")
    assert not unescaped("a \\[b\\]\\(c\\)", "](") and not unescaped("\\*\\*x", "**")


INJECTION_LINKS = {
    "surfaces": (sm.MODEL, {"surface": PAYLOAD, "o0": PAYLOAD, "o1": "gd", "o1.lr": PAYLOAD, PAYLOAD: "1",
                            "zzz": PAYLOAD, "surface.expr": PAYLOAD}),
    "networks": (nm.MODEL, {"data": PAYLOAD, "hidden": PAYLOAD, "o0": PAYLOAD, "o1": "adam", "o1.lr": PAYLOAD,
                            PAYLOAD: "1", "zzz": PAYLOAD}),
}


@pytest.mark.parametrize("page", list(INJECTION_LINKS))
def test_markup_in_link_values_is_escaped_and_cut(page):
    """Reference: Markdown's rules (a backslash makes the next punctuation literal): the notice sentence has no
    unescaped `[`, `](`, `![` or `**`; each echo of the payload is cut to ECHO_CHARS visible characters, so the
    image address never appears."""
    model, query = INJECTION_LINKS[page]
    values, notices = model.decode(query)
    text = notice_text(notices, limit=len(notices))
    for token in ("[", "](", "![", "**", "<"):
        assert not unescaped(text, token), (token, text)
    seen = visible(text)
    assert "example.invalid/t.png" not in seen
    assert seen.count(PAYLOAD[: ECHO_CHARS - 1] + "…") >= 4, seen
    assert "https://example.invalid)" not in seen
    assert values["optimizers"][-1].config.name in optimizers.REGISTRY


# -- impossible combinations ------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "rows", "where"), [
    ({"data": "iris", "test": "0.9", "batch": "16"}, 15, "batch"),
    ({"data": "xor", "batch": "8"}, 4, "batch"),
    ({"data": "xor", "o0": "gd", "o0.batch": "8"}, 4, "o0.batch"),
])
def test_batch_larger_than_the_training_rows_becomes_full_batch(query, rows, where):
    """Reference: the split's own row count (nets.load: Iris 150 rows with 90% held out leaves 15, XOR 4): each value
    is valid alone, together they fall back to full batch (0) with a notice naming the rows."""
    values, notices = nm.MODEL.decode(query)
    assert nm.train_rows(values) == rows
    if where == "batch":
        assert values["batch"] == 0
    else:
        assert values["optimizers"][0].extra("batch") == 0
    assert any(n.startswith(f"{where}=") and f"{rows} training rows" in n and "full batch" in n for n in notices), notices


def _surface_param_cases():
    import landscapes

    for name in landscapes.names():
        for spec in landscapes.REGISTRY[name].specs:
            if spec.kind in ("int", "float"):
                yield pytest.param(name, spec, id=f"{name}.{spec.name}")


@pytest.mark.parametrize(("name", "spec"), list(_surface_param_cases()))
def test_garbage_in_each_surface_parameter(name, spec):
    """Reference: the surface parameter's spec, and the library (landscapes.get) for whether the surface builds with
    the capped value: a surface that does not build falls back to its defaults with a notice."""
    import landscapes

    key = f"surface.{spec.name}"
    for label, text in GARBAGE.items():
        values, notices = sm.MODEL.decode({"surface": name, key: text})
        verdict, want = expected(spec, text)
        if verdict == "cap":
            try:
                landscapes.get(name, **{spec.name: want})
            except ValueError:
                verdict = "defaults"
        got = dict(values["params"]).get(spec.name, spec.default)
        assert got == (want if verdict in ("keep", "cap") else spec.default), (label, got, want)
        if verdict != "keep":
            _assert_notice(notices, key, text, "cap" if verdict == "cap" else "default")
    values, notices = sm.MODEL.decode({"surface": name, key: [fmt_value(spec.default), fmt_value(spec.high)]})
    assert values["params"] == ()
    assert any(n.startswith(f"{echo(key)} given 2 times") for n in notices), notices
