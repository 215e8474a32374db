"""The pages' links: values -> query string -> values, through the declared control models (no streamlit).

Reference: two encodings that must agree. Values encoded and decoded must
equal themselves, with no notice (compared through the runnable configs, so
labels, which the page derives, do not matter); garbage must come back as the
documented default together with a notice naming it, escaped.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs

import pytest

import landscapes
import optimizers
from common.controls import echo, notice_text
from optimizers.config import OptimizerConfig
from optimizers.transforms import SCHEDULES
from ui import networks_model as nm
from ui import surfaces_model as sm
from ui.codec import OptEntry, canonical


def _without_labels(values: dict) -> dict:
    return {**values, "optimizers": tuple(replace(e, config=replace(e.config, label="")) for e in values["optimizers"])}


def _full(name: str, **given) -> dict:
    return {s.name: given.get(s.name, s.default) for s in optimizers.REGISTRY[name].specs}


def _roundtrip(model, values: dict) -> tuple[dict, list[str]]:
    return model.decode(parse_qs(model.query_string(values), keep_blank_values=True))


def _entry(name: str, **kw) -> OptEntry:
    return OptEntry(canonical(OptimizerConfig.make(name, _full(name, **kw.pop("hp", {})), **kw)))


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [sm.MODEL, nm.MODEL], ids=["surfaces", "networks"])
def test_default_values_roundtrip_without_notice(model):
    """Reference: decode(encode(v)) == v for each page's defaults, with no notice; and the defaults encode to
    nothing but the optimizer list (non-defaults only)."""
    values = model.defaults()
    back, notices = _roundtrip(model, values)
    assert notices == []
    assert _without_labels(back) == _without_labels(values)
    assert all(k == "o0" or k.startswith("o") for k in model.encode(values)), model.encode(values)


def _transformed(name: str, sched: str) -> OptEntry:
    sspecs = SCHEDULES[sched].specs
    sparams = {s.name: (s.default * 2 if s.kind == "int" else s.default) for s in sspecs}
    return _entry(name, hp={"lr": 0.0123}, schedule=sched, schedule_params=sparams, clip_mode="norm",
                  clip_threshold=2.5, noise_sigma=0.1, noise_anneal=0.55, noise_seed=7, decoupled_weight_decay=0.01)


@pytest.mark.parametrize("sched", list(SCHEDULES))
def test_every_optimizer_with_every_transform_roundtrips(sched):
    """Reference: two encodings agree for every registered optimizer with a non-default lr, each schedule (with a
    moved parameter), clipping, noise and decoupled decay; in lists of at most the page's cap."""
    names = optimizers.names()
    for i in range(0, len(names), sm.MAX_OPTIMIZERS):
        values = sm.MODEL.defaults({"optimizers": tuple(_transformed(n, sched) for n in names[i:i + 8]),
                                    "steps": 123, "starts": 5, "spread": 0.1, "fps": 30,
                                    "layout": "small_multiples", "scale": "linear", "x": 0.25, "y": -0.75})
        back, notices = _roundtrip(sm.MODEL, values)
        assert notices == []
        assert _without_labels(back) == _without_labels(values)


def test_same_optimizer_twice_keeps_both_and_order():
    """Reference: the list [Adam lr=0.1, GD, Adam lr=0.001] comes back in the same order with both Adams."""
    entries = (_entry("adam", hp={"lr": 0.1}), _entry("gd"), _entry("adam", hp={"lr": 0.001}))
    for model in (sm.MODEL, nm.MODEL):
        back, notices = _roundtrip(model, model.defaults({"optimizers": entries}))
        assert notices == []
        assert [e.config.build().hparams for e in back["optimizers"]] == [e.config.build().hparams for e in entries]


def _moved_parameter(name: str) -> dict:
    """The first numeric parameter of surface ``name`` moved to another valid value ({} if none)."""
    for spec in landscapes.REGISTRY[name].specs:
        if spec.kind not in ("int", "float"):
            continue
        for cand in (spec.default * 0.5, spec.default + 1, spec.default - 1):
            cand = int(cand) if spec.kind == "int" else float(cand)
            if cand == spec.default:
                continue
            try:
                landscapes.get(name, **{spec.name: cand})
            except ValueError:
                continue
            return {spec.name: cand}
    return {}


@pytest.mark.parametrize("name", landscapes.names())
def test_every_landscape_roundtrips_with_a_changed_parameter(name):
    """Reference: decode(encode(v)) == v for each landscape with its first numeric parameter moved inside its
    range, the start at the moved surface's own start."""
    params = _moved_parameter(name)
    start = landscapes.get(name, **params).start
    values = sm.MODEL.defaults({"surface": name, "params": tuple(sorted(params.items())),
                                "x": float(f"{start[0]:.6g}"), "y": float(f"{start[1]:.6g}")})
    back, notices = _roundtrip(sm.MODEL, values)
    assert notices == []
    assert _without_labels(back) == _without_labels(values)
    assert dict(back["params"]) == params


@pytest.mark.parametrize("preset", nm.PRESETS, ids=lambda p: p.key)
def test_every_network_preset_roundtrips(preset):
    """Reference: the preset itself: encode -> decode gives its values back unchanged, with no notice."""
    values = preset.values()
    back, notices = _roundtrip(nm.MODEL, values)
    assert notices == [], notices
    assert _without_labels(back) == _without_labels(values)


def test_float_values_survive_exactly():
    """Reference: repr-based encoding is exact: an lr like 0.1 + 0.2 and a start (1/3, -2/7) come back bit-identical."""
    lr = 0.1 + 0.2
    values = sm.MODEL.defaults({"optimizers": (_entry("gd", hp={"lr": lr}),), "x": 1 / 3, "y": -2 / 7})
    back, _ = _roundtrip(sm.MODEL, values)
    assert dict(back["optimizers"][0].config.hparams)["lr"] == lr
    assert (back["x"], back["y"]) == (1 / 3, -2 / 7)


@pytest.mark.parametrize("n", sm.BASIN_CHOICES)
def test_basin_grid_roundtrips(n):
    """Reference: decode(encode(v)) == v for every offered basin-map size; 0 (off) leaves the link without it."""
    values = sm.MODEL.defaults({"basins": n})
    back, notices = _roundtrip(sm.MODEL, values)
    assert notices == [] and back["basins"] == n
    assert ("basins" in sm.MODEL.encode(values)) == (n > 0)


# -- garbage -----------------------------------------------------------------------------------------
GARBAGE = [
    ({"o0": "adam", "o0.lr": "banana"}, "o0.lr", "banana"),
    ({"steps": "-5"}, "steps", "-5"),
    ({"steps": "2.5"}, "steps", "2.5"),
    ({"surface": "nope"}, "surface", "nope"),
    ({"x": "nan", "y": "0"}, "x", "nan"),
    ({"x": "inf", "y": "0"}, "x", "inf"),
    ({"layout": "sideways"}, "layout", "sideways"),
    ({"scale": "cubic"}, "scale", "cubic"),
    ({"o0": "nosuchopt"}, "o0", "nosuchopt"),
    ({"o0": "adam", "o0.lr": "-1"}, "o0.lr", "-1"),
    ({"o0": "adam", "o0.schedule": "weekly"}, "o0.schedule", "weekly"),
    ({"o0": "adam", "o0.clip": "hard"}, "o0.clip", "hard"),
    ({"o0": "adam", "o0.noise": "-0.1"}, "o0.noise", "-0.1"),
    ({"fps": "zero"}, "fps", "zero"),
    ({"ref": "NotAMethod"}, "ref", "NotAMethod"),
    ({"whatever": "1"}, "whatever", None),
    ({"basins": "37"}, "basins", "37"),
    ({"basins": "1e9"}, "basins", "1e9"),
    ({"basins": "lots"}, "basins", "lots"),
]


@pytest.mark.parametrize(("params", "key", "text"), GARBAGE, ids=[f"{k}={t}" for _, k, t in GARBAGE])
def test_garbage_falls_back_to_defaults_with_a_notice(params, key, text):
    """Reference: the declared default of the field, and a notice naming the key and the escaped value."""
    values, notices = sm.MODEL.decode(params)
    named = echo(key) if text is None else f"{key}={echo(text)}"
    assert any(n.startswith(named) for n in notices), (named, notices)
    d = sm.MODEL.defaults({"surface": values["surface"]})
    for k in ("steps", "surface", "layout", "scale", "fps", "basins", "ref"):
        if k in params:
            assert values[k] == d[k], k
    if "x" in params:
        assert values["x"] == d["x"]
    if params.get("o0") == "nosuchopt":
        assert values["optimizers"] == d["optimizers"]
    if "o0.lr" in params:
        spec = next(s for s in optimizers.REGISTRY["adam"].specs if s.name == "lr")
        assert dict(values["optimizers"][0].config.hparams)["lr"] == spec.default
    if "o0.schedule" in params:
        assert values["optimizers"][0].config.schedule == "constant"


def test_sizes_beyond_caps_are_clamped_with_a_notice():
    """Reference: the caps MAX_STEPS and MAX_STARTS themselves."""
    values, notices = sm.MODEL.decode({"steps": str(10 * sm.MAX_STEPS), "starts": "1000"})
    assert values["steps"] == sm.MAX_STEPS
    assert values["starts"] == sm.MAX_STARTS
    assert len(notices) == 2 and all("capped" in n for n in notices)


def test_start_far_outside_the_map_is_rejected():
    """Reference: the landscape's bounds; a start 100 window widths away falls back to the default start."""
    name = sm.default_landscape()
    (x0, x1), _ = landscapes.get(name).bounds
    values, notices = sm.MODEL.decode({"surface": name, "x": str(x1 + 100 * (x1 - x0)), "y": "0"})
    d = sm.MODEL.defaults({"surface": name})
    assert values["x"] == d["x"]
    assert notices


def test_incompatible_combination_falls_back_to_optimizer_defaults():
    """Reference: OptimizerConfig.build raising ValueError for the decoded values -> that optimizer's defaults."""
    # beta1 = 1 is inside the closed spec range [0, 1] but rejected by the optimizer's own check.
    with pytest.raises(ValueError):
        OptimizerConfig.make("adam", _full("adam", beta1=1.0)).build()
    values, notices = sm.MODEL.decode({"o0": "adam", "o0.beta1": "1"})
    assert any("defaults used" in n for n in notices), notices
    assert dict(values["optimizers"][0].config.hparams)["beta1"] == _full("adam")["beta1"]


def test_notice_text_is_one_short_sentence():
    """Reference: at most six items are listed, the rest counted."""
    text = notice_text([f"p{i}=x" for i in range(10)])
    assert text.count(";") == 5 and "and 4 more" in text


def test_unknown_value_types_in_mapping_are_normalised():
    """Reference: a list value and a plain string decode to the same values."""
    a, _ = sm.MODEL.decode({"steps": "42"})
    b, _ = sm.MODEL.decode({"steps": ["42"]})
    assert a == b and a["steps"] == 42


def test_short_start_for_a_nan_coordinate_names_only_the_given_field():
    """QA (browser walk-through): the notice for x=nan names x and nothing else (the start is kept whole)."""
    values, notices = sm.MODEL.decode({"x": "nan"})
    assert notices == ["x=nan (not a finite number)"], notices
    assert values["x"] == sm.MODEL.defaults()["x"]


# -- networks ----------------------------------------------------------------------------------------
def test_network_garbage_falls_back_with_notices():
    """Reference: the declared defaults: unknown dataset, negative epochs, a broken hidden string, an unknown key
    and an unknown optimizer each give the default and a notice naming them."""
    values, notices = nm.MODEL.decode({"data": "nonsense", "epochs": "-5", "hidden": "4,x", "zzz": "1", "o0": "nope"})
    d = nm.MODEL.defaults()
    assert (values["data"], values["epochs"], values["hidden"]) == (d["data"], d["epochs"], d["hidden"])
    assert values["optimizers"] == d["optimizers"]
    for named in ("data=nonsense", f"epochs={echo('-5')}", f"hidden={echo('4,x')}", "zzz", "o0=nope"):
        assert any(n.startswith(named) for n in notices), (named, notices)


def test_network_link_sets_every_given_value():
    """Reference: the typed values of the link (circles, 8,8 relu, 40 epochs, b = 16, no shuffling, Adam 0.01,
    PCA slice at 21): decode gives them, and encode writes the same link back."""
    given = {"data": "circles", "hidden": "8,8", "act": "relu", "epochs": "40", "batch": "16",
             "shuffle": "false", "o0": "adam", "o0.lr": "0.01", "slice": "pca", "res": "21"}
    values, notices = nm.MODEL.decode(given)
    assert notices == []
    assert (values["data"], values["hidden"], values["act"], values["epochs"], values["batch"], values["shuffle"],
            values["slice"], values["res"]) == ("circles", "8,8", "relu", 40, 16, False, "pca", 21)
    assert dict(values["optimizers"][0].config.hparams)["lr"] == 0.01
    assert {k: v for k, v in nm.MODEL.encode(values).items()} == given


def test_parse_hidden():
    """Widths parse from text; bad text names the bad piece (reference: the typed strings)."""
    assert nm.parse_hidden("") == ()
    assert nm.parse_hidden(" 16, 16 ") == (16, 16)
    with pytest.raises(ValueError, match="'x' is not a number"):
        nm.parse_hidden("4,x")
    with pytest.raises(ValueError, match="units"):
        nm.parse_hidden("0")


def test_negative_hidden_width_is_not_called_not_a_number():
    """QA (browser walk-through): typing "-3" said "'-3' is not a number", and the page read
    "Hidden sizes: hidden sizes ...". Reference: the typed strings; -3 is a number, just not a width."""
    with pytest.raises(ValueError, match="is not a positive whole number"):
        nm.parse_hidden("-3")
    with pytest.raises(ValueError, match="'x' is not a number"):
        nm.parse_hidden("4,x")
    for text in ("-3", "4,x", "1" * (nm.MAX_HIDDEN_TEXT + 1)):
        with pytest.raises(ValueError) as err:
            nm.parse_hidden(text)
        assert not str(err.value).lower().startswith("hidden sizes"), str(err.value)
