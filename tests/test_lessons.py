"""Lessons: every claim holds on the run it narrates, and its numbers are recomputed independently."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import landscapes
import lessons
from lessons.core import first_at_or_below
from lessons.demos import demo_configs
from lessons.networks import sklearn_stop
from lessons.surfaces import lr_sums

_CACHE: dict[str, lessons.Result] = {}


def _result(key: str) -> lessons.Result:
    if key not in _CACHE:
        lesson = lessons.REGISTRY[key]
        _CACHE[key] = lesson.compute(lesson.scenario)
    return _CACHE[key]


@pytest.mark.parametrize("key", list(lessons.REGISTRY))
def test_claim_holds_and_narration_is_filled(key: str) -> None:
    """Reference: the lesson's own claim on its run; the narration's placeholders against its facts."""
    lesson = lessons.REGISTRY[key]
    r = _result(key)
    ok, why = lesson.claim(r)
    assert ok, why
    assert lesson.placeholders <= set(lesson.facts(r)), lesson.placeholders - set(lesson.facts(r))
    text = lesson.narrate(r)
    assert "{" not in text and "seed 0" not in text
    assert 2 <= len(lesson.predict.choices) <= 4 and 0 <= lesson.predict.answer(r) < len(lesson.predict.choices)
    for series, at, note in lesson.annotations(r):
        assert 0 <= series < len(r.trajectories) and math.isfinite(at) and note
    assert 1 <= len(lesson.variations) <= 3
    for v in lesson.variations:
        assert type(v.apply(lesson.scenario)) is type(lesson.scenario)
    hash(lesson.scenario)


def test_trough_zigzag_from_the_hessian() -> None:
    """Reference: the steep direction is the Hessian's top eigenvector (not the angle formula the lesson uses)."""
    r = _result("ill_conditioning")
    land = r.problems[0]
    w, v = np.linalg.eigh(land.hessian(np.zeros(2)))
    steep = v[:, np.argmax(w)]
    for i, expect_zigzag in ((0, True), (1, False)):
        d = np.diff(r.trajectories[i].params[:, 0] @ steep)[:50]
        flips = np.mean(np.sign(d[1:]) != np.sign(d[:-1]))
        assert (flips >= 0.8) == expect_zigzag, (i, flips)


def test_trough_steps_to_1e6_recomputed_from_values() -> None:
    """Reference: the first step whose recorded value is <= 1e-6, read straight off traj.values."""
    r = _result("ill_conditioning")
    facts = lessons.REGISTRY["ill_conditioning"].facts(r)
    for i, key in enumerate(("gd", "mom", "adam")):
        t = r.trajectories[i]
        step = int(t.steps[np.flatnonzero(t.values[:, 0] <= 1e-6)[0]])
        assert facts[f"{key}_steps"] == f"{step:,}"


def test_adam_needs_an_axis_aligned_trough() -> None:
    """Reference: two runs that must differ: Adam on the trough rotated 30° and aligned with the x axis."""
    lesson = lessons.REGISTRY["ill_conditioning"]
    aligned = lesson.compute(lesson.variations[0].apply(lesson.scenario))

    def steps(r: lessons.Result) -> int:
        return first_at_or_below(r.trajectories[2].values[:, 0], 1e-6)

    assert 0 < steps(aligned) < 0.75 * steps(_result("ill_conditioning"))


def test_shampoo_variation_turns_with_the_trough_where_adam_does_not() -> None:
    """Reference: two runs that must agree (Shampoo's path rotates with the problem, so its steps to 1e-6 are the
    same on the tilted and the aligned trough) and two that must not (Adam's); read straight off traj.values."""
    lesson = lessons.REGISTRY["ill_conditioning"]
    add = next(v for v in lesson.variations if "Shampoo" in v.label)
    align = next(v for v in lesson.variations if "θ = 0" in v.label)
    tilted = lesson.compute(add.apply(lesson.scenario))
    aligned = lesson.compute(align.apply(add.apply(lesson.scenario)))

    def steps(r: lessons.Result, i: int) -> int:
        return int(r.trajectories[i].steps[first_at_or_below(r.trajectories[i].values[:, 0], 1e-6)])

    assert steps(tilted, 3) == steps(aligned, 3)
    assert steps(tilted, 3) < steps(tilted, 2)  # Shampoo before Adam on the tilted trough
    assert steps(aligned, 2) < 0.75 * steps(tilted, 2)
    assert any(note.startswith("Shampoo reaches 1e-6") for _, _, note in lesson.annotations(tilted))


def test_two_basin_each_basin_takes_a_quarter() -> None:
    """Reference: counts of the basin map's outcome grid, by the kind of critical point."""
    bm = _result("local_minimum").basin_maps[0]
    for kind in ("global", "local"):
        share = np.isin(bm.outcome, [i for i, k in enumerate(bm.kinds) if k == kind]).mean()
        assert share >= 0.25, (kind, share)


def test_robbins_monro_sums_match_the_closed_form() -> None:
    """Reference: Σηₜ and Σηₜ² of η₀/(1+κ(t−1)) and η₀γ^(t−1) summed by hand."""
    s = lessons.REGISTRY["robbins_monro"].scenario
    t = np.arange(1, s.steps + 1)
    inv = 0.5 / (1 + 0.1 * (t - 1))
    se, se2 = lr_sums(s.optimizers[1], s.steps)
    assert np.allclose(se, np.cumsum(inv), rtol=1e-12) and np.allclose(se2, np.cumsum(inv**2), rtol=1e-12)
    se, _ = lr_sums(s.optimizers[2], s.steps)
    assert se[-1] == pytest.approx(0.05 * (1 - 0.9**s.steps) / (1 - 0.9), rel=1e-12)


@pytest.mark.slow
def test_robbins_monro_over_noise_seeds() -> None:
    """Reference: the claim repeated over 10 gradient-noise seeds; 1/t ends closest in >= 8."""
    lesson = lessons.REGISTRY["robbins_monro"]
    wins = 0
    for seed in range(10):
        s = replace(lesson.scenario, optimizers=tuple(replace(c, noise_seed=seed) for c in lesson.scenario.optimizers))
        wins += lesson.claim(lesson.compute(s))[0]
    assert wins >= 8


@pytest.mark.slow
def test_sorted_rows_end_higher_in_8_of_10_seeds() -> None:
    """Reference: the same two runs over 10 seeds; sorted rows (b = 1) end with the higher loss in >= 8."""
    lesson = lessons.REGISTRY["order_of_examples"]
    r = lesson.compute(replace(lesson.scenario, seeds=10, record_every=0))
    worse = (r.trajectories[0].extras["train_loss"][-1] > r.trajectories[1].extras["train_loss"][-1]).sum()
    assert worse >= 8


def test_cross_entropy_first_in_8_of_10_seeds() -> None:
    """Reference: epochs to 100% recomputed from the recorded accuracy of each of the 10 seeds."""
    r = _result("mse_vs_cross_entropy")
    assert r.scenario.seeds == 10

    def first(i: int, j: int) -> float:
        hit = np.flatnonzero(r.trajectories[i].extras["train_acc"][:, j] >= 1.0)
        return float(r.x[i][hit[0]]) if hit.size else math.inf

    assert sum(first(1, j) < first(0, j) for j in range(10)) >= 8


def test_sklearn_stop_rule_rebuilt_by_hand() -> None:
    """Reference: scikit-learn's rule worked by hand: improve by 0.01 for 5 epochs, then by 1e-5 per epoch.

    Epochs 6.. improve by less than tol, so the count reaches 11 > 10 at epoch 5 + 11 = 16.
    """
    loss = np.concatenate([1.0 - 0.01 * np.arange(5), 0.96 - 1e-5 * np.arange(1, 40)])
    assert sklearn_stop(loss) == 16
    assert sklearn_stop(loss, patience=2) == 8
    assert sklearn_stop(1.0 - 0.01 * np.arange(30)) == 30


def test_zero_init_units_stay_identical() -> None:
    """Reference: the hidden units' weights compared directly in the final parameters."""
    r = _result("sigmoid_stuck")
    prob = r.problems[0]
    W, b = prob.unpack(r.trajectories[0].final_params)[0]
    assert np.ptp(W, axis=2).max() == 0 and np.ptp(b, axis=2).max() == 0


def test_compute_is_deterministic() -> None:
    """Reference: two runs of the same scenario must agree bit for bit."""
    lesson = lessons.REGISTRY["exploding_gradients"]
    a, b = lesson.compute(lesson.scenario), lesson.compute(lesson.scenario)
    assert all(np.array_equal(x.params, y.params) for x, y in zip(a.trajectories, b.trajectories, strict=True))


def test_every_surface_demo_builds_and_the_cliff_has_a_clipped_twin() -> None:
    """Reference: each demo entry rebuilt as an OptimizerConfig; the cliff's clipped label and clip mode."""
    for name, cls in landscapes.REGISTRY.items():
        cfgs = demo_configs(cls)
        assert cfgs, name
        for c in cfgs:
            c.build()
    cliff = demo_configs(landscapes.REGISTRY["cliff"])
    assert any(c.clip_mode == "norm" and "clipped" in c.display for c in cliff)
    with pytest.raises(ValueError, match="unknown key"):
        lessons.demo_config({"name": "gd", "lrr": 0.1})


def test_surface_demos_show_their_lesson() -> None:
    """Reference: the lesson's claim on the surface's own demo (optimizers and start) with default parameters."""
    for key in ("saddle", "local_minimum", "exploding_gradients"):
        lesson = lessons.REGISTRY[key]
        land = landscapes.REGISTRY[lesson.scenario.landscape]()
        assert lesson.scenario.optimizers == demo_configs(land) and lesson.scenario.starts == (land.start,)
    land = landscapes.get("narrow_trough")
    gd, mom = demo_configs(land)[:2]
    import optimizers
    from lessons.surfaces import sign_changes

    steep = np.linalg.eigh(land.hessian(np.zeros(2)))[1][:, 1]
    flips = [sign_changes(optimizers.run(land, c.build(), np.array([land.start]), 60).params[:, 0] @ steep)
             for c in (gd, mom)]
    assert flips[0] >= 0.8 > flips[1]


def test_order_narration_names_the_class_blocks_of_its_own_split():
    """The sorted-rows narration counts each class block of the run's training rows (reference: np.unique on
    y_train, which is sorted for Iris)."""
    lesson = lessons.REGISTRY["order_of_examples"]
    r = lesson.compute(lesson.scenario)
    y = r.problems[0].y_train
    assert np.all(np.diff(y) >= 0)
    names = r.problems[0].split.dataset.class_names
    counts = np.unique(y, return_counts=True)[1]
    expected = ", then ".join(f"{c} {names[i]}" for i, c in enumerate(counts))
    assert expected in lesson.narrate(r)
