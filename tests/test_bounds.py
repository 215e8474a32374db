"""Bounded numbers: every numeric spec has a finite range, and garbage is a ValueError.

References: the declared contract of issue 11 ("every integer and float spec
has finite bounds"); each spec's own declared range (a value just inside is
accepted, just outside refused, compared exactly for integers); and the
exception types Python itself would raise without the checks (OverflowError,
TypeError, MemoryError), which must never escape.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import landscapes
import nets
import optimizers
from common.spec import Spec, short_repr
from optimizers import transforms
from optimizers.config import TRANSFORM_SPECS, OptimizerConfig
from optimizers.runner import MAX_RECORDED_FLOATS, MAX_STEPS_CAP


def _registry_specs() -> list[tuple[str, Spec]]:
    found: list[tuple[str, Spec]] = []
    for name, cls in optimizers.REGISTRY.items():
        found += [(f"optimizer {name}", s) for s in cls.specs]
    for name, cls in transforms.SCHEDULES.items():
        found += [(f"schedule {name}", s) for s in cls.specs]
    found += [("transforms", s) for s in TRANSFORM_SPECS.values()]
    for name, cls in landscapes.REGISTRY.items():
        found += [(f"landscape {name}", s) for s in cls.specs]
    found += [("nets", s) for s in nets.SPECS]
    return found


NUMERIC = [(owner, s) for owner, s in _registry_specs() if s.kind in ("int", "float")]
IDS = [f"{owner}.{s.name}" for owner, s in NUMERIC]


def test_registries_hold_numeric_specs() -> None:
    """Reference: the registries themselves; the walk below must see every kind of owner."""
    owners = {owner.split()[0] for owner, _ in NUMERIC}
    assert owners == {"optimizer", "schedule", "transforms", "landscape", "nets"}


@pytest.mark.parametrize(("owner", "spec"), NUMERIC, ids=IDS)
def test_every_numeric_spec_has_finite_bounds_around_its_default_and_slider(owner: str, spec: Spec) -> None:
    """Reference: the declared contract: finite low and high, the default inside them, and a slider range
    (ui_low/ui_high) that never reaches outside the valid range."""
    assert math.isfinite(spec.low) and math.isfinite(spec.high), f"{owner}: {spec.name} is {spec.range_text()}"
    assert spec.validate(spec.default) == spec.default
    lo, hi = spec.slider_range
    assert spec.low <= lo <= hi <= spec.high


GARBAGE = [10**400, -(10**400), 10**4999, math.inf, -math.inf, math.nan, True, False, np.bool_(True), "abc", "",
           "1e400", None, [1.0], 2**63, -(2**63)]


@pytest.mark.parametrize(("owner", "spec"), NUMERIC, ids=IDS)
def test_every_numeric_spec_turns_garbage_into_a_short_value_error(owner: str, spec: Spec) -> None:
    """Reference: the spec's range; each garbage value that is outside it, or no number at all, raises
    ValueError (not OverflowError/TypeError) with a message naming the parameter in under 200 characters."""
    for bad in GARBAGE:
        if isinstance(bad, int) and not isinstance(bad, bool) and spec.low <= bad <= spec.high:
            continue  # a big integer inside a wide range is a valid value, not garbage
        with pytest.raises(ValueError, match=spec.name.replace(".", r"\.")) as err:
            spec.validate(bad, owner)
        assert len(str(err.value)) < 200


@pytest.mark.parametrize(("owner", "spec"), NUMERIC, ids=IDS)
def test_bounds_are_exact_at_the_edges(owner: str, spec: Spec) -> None:
    """Reference: integer arithmetic: an int spec accepts its high bound and refuses high + 1 exactly,
    even past 2**53 where floats cannot tell them apart; a float spec refuses the next float above high."""
    if spec.kind == "int":
        assert spec.validate(int(spec.high)) == int(spec.high)
        with pytest.raises(ValueError):
            spec.validate(int(spec.high) + 1)
    else:
        assert spec.validate(spec.high) == spec.high
        with pytest.raises(ValueError):
            spec.validate(math.nextafter(spec.high, math.inf))


def test_int_spec_compares_huge_integers_exactly() -> None:
    """Reference: Python's exact int comparison; 2**63 + 1 vs a bound of 2**63 would be equal as floats."""
    spec = Spec("n", 1, low=0, high=2**63)
    assert spec.validate(2**63) == 2**63
    with pytest.raises(ValueError, match=r"must be in \[0, 9.22337e\+18\], got 9223372036854775809"):
        spec.validate(2**63 + 1)


def test_short_repr_never_echoes_a_long_value() -> None:
    """Reference: the issue: echoed values are cut to about 40 characters, and a 5,000-digit integer (which
    str() refuses past 4,300 digits) is described by its size."""
    assert short_repr(10**4999) == "a number of about 5000 digits"
    assert len(short_repr("x" * 10_000)) == 40
    assert short_repr(0.5) == "0.5"


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: optimizers.get("adam", lr=10**400), "lr must be in (0, 1000], got a number of about 401 digits"),
        (lambda: optimizers.get("sgd" if "sgd" in optimizers.REGISTRY else "gd", lr=10**4999), "about 5000 digits"),
        (lambda: optimizers.get("adam", lr=True), "lr must be a number, got True"),
        (lambda: optimizers.get("momentum", momentum=np.bool_(True)), "momentum must be a number"),
        (lambda: OptimizerConfig.make("adam", noise_sigma=0.1, noise_seed=math.inf).build(), "noise.seed must be in"),
        (lambda: OptimizerConfig.make("adam", noise_sigma=0.1, noise_seed=2**63).build(), "noise.seed must be in"),
        (lambda: OptimizerConfig.make("adam", noise_sigma=0.1, noise_seed=True).build(), "noise.seed must be a number"),
        (lambda: OptimizerConfig.make("adam", clip_mode="norm", clip_threshold=1e400).build(), "clip.threshold"),
        (lambda: OptimizerConfig.make("adam", decoupled_weight_decay=10**400).build(), "dwd must be in"),
        (lambda: OptimizerConfig.make("adam", schedule="cosine", schedule_params={"period": 1e20}).build(),
         "period must be in [1, 1000000], got 1e+20"),
        (lambda: OptimizerConfig.make("adam", schedule="cosine", schedule_params={"period": 2**63}).build(),
         "period must be in [1, 1000000], got 9223372036854775808"),
        (lambda: OptimizerConfig.make("adam", schedule="step", schedule_params={"step_size": 1e20}).build(),
         "step_size must be in [1, 1000000]"),
        (lambda: OptimizerConfig.make("adam", schedule="step", schedule_params={"step_size": 2**63}).build(),
         "step_size must be in [1, 1000000]"),
        (lambda: OptimizerConfig.make("adam", schedule="warmup", schedule_params={"warmup_steps": True}).build(),
         "warmup_steps must be a number"),
    ],
)
def test_the_issues_cases_raise_value_error(build, words: str) -> None:
    """Reference: the issue's list (lr=10**400 and noise_seed=inf raised OverflowError; schedule periods of
    1e20 and 2**63 and a 5,000-digit number broke pages); each is now a ValueError naming the range."""
    with pytest.raises(ValueError) as err:
        build()
    assert words in str(err.value)


def _run(steps, k: int = 1, **kw):
    return optimizers.run(landscapes.get("rosenbrock"), optimizers.get("gd"), np.zeros((k, 2)), steps, **kw)


BAD_STEPS = [True, False, 10**8, MAX_STEPS_CAP + 1, -1, 2.0, "10", 10**4999, None]


@pytest.mark.parametrize("steps", BAD_STEPS, ids=[short_repr(s) for s in BAD_STEPS])
def test_run_refuses_bad_step_counts(steps) -> None:
    """Reference: MAX_STEPS_CAP and the type contract of run (a whole number; bool is not one): steps=True
    raised TypeError and steps=10**8 MemoryError before."""
    with pytest.raises(ValueError, match=f"steps must be a whole number in \\[0, {MAX_STEPS_CAP}\\]"):
        _run(steps)


def test_run_refuses_to_record_more_than_its_cap() -> None:
    """Reference: MAX_RECORDED_FLOATS = records × k × (d + 2); 1,000 runs × 100,000 recorded steps would
    need 3.2 GB, and are refused before anything is allocated, while recording only the ends is fine."""
    k = 1000
    assert (MAX_STEPS_CAP // 2 + 2) * k * 4 > MAX_RECORDED_FLOATS
    with pytest.raises(ValueError, match="record less often"):
        _run(MAX_STEPS_CAP // 2, k=k)
    traj = _run(5, k=k, record_end_only=True)
    assert traj.params.shape == (2, k, 2)
    assert _run(np.int64(3)).steps.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="record_every"):
        _run(3, record_every=True)
