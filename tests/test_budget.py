"""The work budget (common/budget.py) against numbers computed by hand from its documented formulas.

Reference: the module's own cost model, evaluated by hand below each case
(6 multiply-adds per weight per row at 3e8/s plus 60 µs per optimizer step;
2 multiply-adds per weight per row per slice point at 6e8/s; a surface
figure of optimizers × starts × (steps + 1) points, at most 40,000, and of
at most 6,000 frames × runs).
"""

from __future__ import annotations

import pytest

from common import budget


def test_surface_plan_of_the_heaviest_link():
    """8 optimizers × 16 starts × 5001 recorded points = 640,128 points; ceil(640,128 / 40,000) = 17, so every 17th
    step is drawn and 37,654.6 points remain; 128 moving runs get 6,000 // 128 = 46 frames instead of 150."""
    plan = budget.surface_plan(8, 16, 5000)
    assert plan.values == {"record_every": 17, "max_frames": 46}
    assert plan.estimate == pytest.approx(640_128 / 17)
    assert len(plan.reductions) == 2
    assert "every 17th step" in plan.reductions[0] and "640,128 points" in plan.reductions[0]
    assert "46 frames instead of 150" in plan.reductions[1]


@pytest.mark.parametrize(("n_opt", "starts", "steps", "every", "frames"), [
    (3, 1, 500, 1, 150),        # 1,503 points, 3 runs
    (1, 1, 39_999, 1, 150),     # exactly 40,000 points: still within
    (1, 1, 40_000, 2, 150),     # 40,001 points: one over
    (2, 10, 3_999, 2, 150),     # 80,000 points: twice the budget; 20 runs × 150 frames = 3,000 frame-runs
    (3, 16, 10, 1, 125),        # 48 runs: 6,000 // 48 = 125 frames
])
def test_surface_plan_at_the_boundary(n_opt, starts, steps, every, frames):
    """Points = optimizers × starts × (steps + 1), recorded every ceil(points / 40,000)-th step; frames
    = min(150, 6,000 // runs); a note for each reduction."""
    plan = budget.surface_plan(n_opt, starts, steps)
    assert plan.values == {"record_every": every, "max_frames": frames}
    assert len(plan.reductions) == (every > 1) + (frames < 150)


def test_net_cost_by_hand():
    """100 parameters, 50 rows in batches of 10, 20 epochs, 3 seeds, 2 runs:
    6·100·50·20·3·2 = 3.6e6 multiply-adds / 3e8 = 0.012 s, plus 60 µs × 5 steps × 20 epochs × 2 runs = 0.012 s."""
    cost = budget.net_cost(n_params=100, rows=50, batch=10, epochs=20, seeds=3, runs=2)
    assert cost == pytest.approx(0.024)


def test_net_plan_of_the_heaviest_link():
    """Spirals n=2000 (1,500 training rows), hidden 64,64,64 (8,577 parameters), 6 full-batch optimizers, 50 seeds,
    3,000 epochs. Per optimizer: 6·8577·1500·3000·50 / 3e8 = 38,596.5 s + 0.18 s of steps; × 6 = 231,580 s asked.
    Halving seeds to 1 still costs 4,632.7 s, so epochs become int(3000 · 6 / 4,632.7) = 3 (4.63 s)."""
    plan = budget.net_plan(n_params=8577, rows=1500, batches=[1500] * 6, epochs=3000, seeds=50)
    assert plan.values == {"seeds": 1, "epochs": 3}
    assert plan.estimate == pytest.approx(6 * (6 * 8577 * 1500 * 3 / 3e8 + 60e-6 * 3))
    assert plan.estimate <= budget.SECONDS
    (note,) = plan.reductions
    assert "1 seed instead of 50" in note and "3 epochs instead of 3,000" in note and "231,580 s" in note


def test_net_plan_within_budget_changes_nothing():
    """XOR-sized: 17 parameters, 4 rows, 3 optimizers, 500 epochs, 20 seeds: 6·17·4·500·20/3e8 ≈ 0.014 s per run."""
    plan = budget.net_plan(n_params=17, rows=4, batches=[4, 4, 4], epochs=500, seeds=20)
    assert plan.values == {"seeds": 20, "epochs": 500}
    assert plan.reductions == []


def test_net_plan_bounds_the_recorded_parameters_with_one_note():
    """Cheap in time (1 row, 1 epoch) but 8,577 parameters × 6 runs × 125 records: 50 seeds would keep
    125·50·8577·6 floats; the rule halves seeds 50 -> 25 -> 12 -> 6 -> 3 -> 1 (125·3·8577·6 = 19.3e6 is still over
    16e6), and the page says once that it runs 1 seed instead of 50."""
    plan = budget.net_plan(n_params=8577, rows=1, batches=[1] * 6, epochs=1, seeds=50)
    assert plan.values["seeds"] == 1
    (note,) = plan.reductions
    assert note.count("instead of 50") == 1 and "1 seed instead of 50" in note


def test_slice_plan_declines_when_even_the_smallest_grid_is_too_slow():
    """8,577 parameters × 1,500 rows: an r × r slice costs r² · 1500 · 8577 · 2 / 6e8 = 0.0429 r² s; 11 × 11 takes
    5.19 s > 2 s, so there is no slice, and the note names about 5 s."""
    plan = budget.slice_plan(n_params=8577, rows=1500, resolution=31)
    assert plan.values == {"resolution": 0}
    assert "11 × 11" in plan.reductions[0] and "about 5 s" in plan.reductions[0]


def test_slice_plan_steps_down_to_the_largest_grid_within_budget():
    """1,000 parameters × 1,200 rows: 0.004 r² s; 21² · 0.004 = 1.76 s fits 2 s, 23² · 0.004 = 2.12 s does not."""
    plan = budget.slice_plan(n_params=1000, rows=1200, resolution=41)
    assert plan.values == {"resolution": 21}
    assert plan.estimate == pytest.approx(1.764)
    assert plan.reductions == ["The landscape slice uses a 21 × 21 grid instead of 41 × 41."]
    assert budget.slice_plan(n_params=100, rows=100, resolution=41).values == {"resolution": 41}
