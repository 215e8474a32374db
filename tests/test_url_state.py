"""URL state: settings -> query string -> settings.

Reference: two encodings that must agree. A settings value encoded and decoded
must equal itself (compared through the runnable config, so labels, which the
page derives, do not matter), and garbage must come back as the documented
defaults together with a notice naming it.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

import landscapes
import optimizers
from optimizers.config import OptimizerConfig
from optimizers.transforms import SCHEDULES
from ui import state
from ui.state import Settings


def _without_labels(s: Settings) -> Settings:
    from dataclasses import replace

    return replace(s, optimizers=tuple(replace(c, label="") for c in s.optimizers))


def _full(name: str, **given) -> dict:
    return {s.name: given.get(s.name, s.default) for s in optimizers.REGISTRY[name].specs}


def _roundtrip(settings: Settings) -> tuple[Settings, list[str]]:
    qs = state.query_string(settings)
    return state.decode(parse_qs(qs, keep_blank_values=True))


def test_default_settings_roundtrip_without_notice():
    """Reference: decode(encode(s)) == s for the default view, with no notice."""
    s = state.default_settings()
    back, notices = _roundtrip(s)
    assert notices == []
    assert _without_labels(back) == _without_labels(s)


def test_every_optimizer_with_transforms_roundtrips():
    """Reference: two encodings agree for every registered optimizer, non-default lr, schedule, clip, noise, decay."""
    sched = next(n for n in SCHEDULES if SCHEDULES[n].specs)
    sspec = SCHEDULES[sched].specs[0]
    configs = []
    for name in optimizers.names():
        sparams = {s.name: s.default for s in SCHEDULES[sched].specs}
        sparams[sspec.name] = sspec.default * 2 if sspec.kind == "int" else sspec.default
        configs.append(OptimizerConfig.make(
            name, _full(name, lr=0.0123), schedule=sched, schedule_params=sparams, clip_mode="norm",
            clip_threshold=2.5, noise_sigma=0.1, noise_anneal=0.55, noise_seed=7, decoupled_weight_decay=0.01,
        ))
    s = Settings(landscape=state.default_landscape(), optimizers=tuple(configs[: state.MAX_OPTIMIZERS]),
                 start=(0.25, -0.75), steps=123, n_starts=5, spread=0.1, fps=30, layout="small_multiples",
                 scale="linear")
    back, notices = _roundtrip(s)
    assert notices == []
    assert _without_labels(back) == _without_labels(s)


def test_same_optimizer_twice_keeps_both_and_order():
    """Reference: the list [Adam lr=0.1, GD, Adam lr=0.001] comes back in the same order with both Adams."""
    names = optimizers.names()
    a, b = names[-1], names[0]
    cfgs = (OptimizerConfig.make(a, _full(a, lr=0.1)), OptimizerConfig.make(b, _full(b)),
            OptimizerConfig.make(a, _full(a, lr=0.001)))
    s = Settings(landscape=state.default_landscape(), optimizers=cfgs, start=(0.0, 0.0))
    back, notices = _roundtrip(s)
    assert notices == []
    assert [c.build().hparams for c in back.optimizers] == [c.build().hparams for c in cfgs]


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
    """Reference: decode(encode(s)) == s for each landscape with its first numeric parameter moved inside its range."""
    params = _moved_parameter(name)
    start = landscapes.get(name, **params).start
    s = Settings(landscape=name, landscape_params=tuple(sorted(params.items())),
                 optimizers=state.default_optimizers(), start=(float(start[0]), float(start[1])))
    back, notices = _roundtrip(s)
    assert notices == []
    assert _without_labels(back) == _without_labels(s)


def test_float_values_survive_exactly():
    """Reference: repr-based encoding is exact: an lr like 0.1 + 0.2 comes back bit-identical."""
    lr = 0.1 + 0.2
    name = optimizers.names()[0]
    s = Settings(landscape=state.default_landscape(), optimizers=(OptimizerConfig.make(name, _full(name, lr=lr)),),
                 start=(1 / 3, -2 / 7))
    back, _ = _roundtrip(s)
    assert dict(back.optimizers[0].hparams)["lr"] == lr
    assert back.start == (1 / 3, -2 / 7)


GARBAGE = [
    ({"o0": "adam", "o0.lr": "banana"}, "o0.lr=banana"),
    ({"steps": "-5"}, "steps=-5"),
    ({"steps": "2.5"}, "steps=2.5"),
    ({"surface": "nope"}, "surface=nope"),
    ({"x": "nan", "y": "0"}, "x=nan"),
    ({"x": "inf", "y": "0"}, "x=inf"),
    ({"layout": "sideways"}, "layout=sideways"),
    ({"scale": "cubic"}, "scale=cubic"),
    ({"o0": "nosuchopt"}, "o0=nosuchopt"),
    ({"o0": "adam", "o0.lr": "-1"}, "o0.lr=-1"),
    ({"o0": "adam", "o0.schedule": "weekly"}, "o0.schedule=weekly"),
    ({"o0": "adam", "o0.clip": "hard"}, "o0.clip=hard"),
    ({"o0": "adam", "o0.noise": "-0.1"}, "o0.noise=-0.1"),
    ({"fps": "zero"}, "fps=zero"),
    ({"ref": "NotAMethod"}, "ref=NotAMethod"),
    ({"whatever": "1"}, "whatever"),
    ({"basins": "37"}, "basins=37"),
    ({"basins": "1e9"}, "basins=1e9"),
    ({"basins": "lots"}, "basins=lots"),
]


@pytest.mark.parametrize(("params", "named"), GARBAGE)
def test_garbage_falls_back_to_defaults_with_a_notice(params, named):
    """Reference: the documented defaults (default_settings) for the field, and a notice naming the bad input."""
    settings, notices = state.decode(params)
    assert any(named in n for n in notices), notices
    d = state.default_settings(settings.landscape)
    if "steps" in params:
        assert settings.steps == d.steps
    if "surface" in params:
        assert settings.landscape == state.default_landscape()
    if "x" in params:
        assert settings.start == d.start
    if "layout" in params:
        assert settings.layout == d.layout
    if params.get("o0") == "nosuchopt":
        assert settings.optimizers == d.optimizers
    if "o0.lr" in params:
        spec = next(s for s in optimizers.REGISTRY["adam"].specs if s.name == "lr")
        assert dict(settings.optimizers[0].hparams)["lr"] == spec.default
    if "o0.schedule" in params:
        assert settings.optimizers[0].schedule == "constant"
    if "basins" in params:
        assert settings.basins == d.basins == 0


def test_sizes_beyond_caps_are_clamped_with_a_notice():
    """Reference: the caps MAX_STEPS and MAX_STARTS themselves."""
    settings, notices = state.decode({"steps": str(10 * state.MAX_STEPS), "starts": "1000"})
    assert settings.steps == state.MAX_STEPS
    assert settings.n_starts == state.MAX_STARTS
    assert len(notices) == 2


def test_start_far_outside_the_map_is_rejected():
    """Reference: the landscape's bounds; a start 100 window widths away falls back to the default start."""
    name = state.default_landscape()
    (x0, x1), _ = landscapes.get(name).bounds
    settings, notices = state.decode({"surface": name, "x": str(x1 + 100 * (x1 - x0)), "y": "0"})
    assert settings.start == state.default_settings(name).start
    assert notices


def test_incompatible_combination_falls_back_to_optimizer_defaults():
    """Reference: OptimizerConfig.build raising ValueError for the decoded values -> that optimizer's defaults."""
    name = next((n for n in optimizers.names() if any(s.name == "beta1" for s in optimizers.REGISTRY[n].specs)), None)
    assert name is not None, "the registry has Adam-family optimizers with beta1"
    # beta1 = 1 is inside the closed spec range [0, 1] but rejected by the optimizer's own check.
    settings, notices = state.decode({"o0": name, "o0.beta1": "1"})
    try:
        OptimizerConfig.make(name, _full(name, beta1=1.0)).build()
    except ValueError:
        assert notices
        assert dict(settings.optimizers[0].hparams)["beta1"] == _full(name)["beta1"]
    else:
        assert notices == []


def test_notice_text_is_one_short_sentence():
    """Reference: at most six items are listed, the rest counted."""
    text = state.notice_text([f"p{i}=x" for i in range(10)])
    assert text.count(";") == 5 and "and 4 more" in text


def test_unknown_value_types_in_mapping_are_normalised():
    """Reference: a list value (repeated key) and a plain string decode to the same settings."""
    a, _ = state.decode({"steps": "42"})
    b, _ = state.decode({"steps": ["42"]})
    assert a == b and a.steps == 42


@pytest.mark.parametrize("n", state.BASIN_CHOICES)
def test_basin_grid_roundtrips(n):
    """Reference: decode(encode(s)) == s for every offered basin-map size; 0 (off) leaves the link unchanged."""
    from dataclasses import replace

    s = replace(state.default_settings(), basins=n)
    back, notices = _roundtrip(s)
    assert notices == [] and back.basins == n
    assert ("basins" in state.encode(s)) == (n > 0)
