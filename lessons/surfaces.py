"""Lessons on the analytic surfaces: saddles, ill-conditioning, two basins, a cliff, Robbins–Monro."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

import landscapes
import optimizers
from lessons.core import (
    Lesson,
    Predict,
    Result,
    SurfaceScenario,
    Variation,
    build_landscape,
    compute,
    first_at_or_below,
    fmt_int,
    pairs,
    set_landscape,
    set_optimizer,
    with_hparams,
)
from lessons.demos import demo_configs
from optimizers.config import OptimizerConfig
from optimizers.runner import CONVERGED, DIVERGED, LEFT_WINDOW


def _demo_scenario(name: str, steps: int, basins: int = 0) -> SurfaceScenario:
    """A surface with the optimizers and start it opens with (its ``demo`` and ``start``)."""
    land = landscapes.REGISTRY[name]()
    return SurfaceScenario(name, (), demo_configs(land), (land.start,), steps, basins)


def _values(r: Result, i: int) -> np.ndarray:
    """Recorded values of series ``i``, first start, up to where it stopped (``(n,)``)."""
    t = r.trajectories[i]
    return t.values[: t.last_record(0) + 1, 0]


# -- saddle -----------------------------------------------------------------------------------------
_SADDLE_NEAR = 0.1
_SADDLE_DONE = -0.99  # the minima sit at f = -1


def _saddle_facts(r: Result) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {}
    for i, key in enumerate(("gd", "noise", "mom", "adam")):
        t = r.trajectories[i]
        dist = np.linalg.norm(t.params[:, 0], axis=1)
        out[f"{key}_near"] = int(np.count_nonzero(dist < _SADDLE_NEAR))
        hit = first_at_or_below(_values(r, i), _SADDLE_DONE)
        out[f"{key}_reach"] = int(t.steps[hit]) if hit >= 0 else "never"
    # Near the saddle GD multiplies y by (1 + 2 lr) per step (f_y = -2y there).
    lr = float(dict(r.scenario.optimizers[0].hparams)["lr"])
    out["doubling"] = round(math.log(2) / math.log1p(2 * lr))
    out["escape0"] = f"{2 * abs(r.scenario.starts[0][1]):.2g}"
    return out


def _saddle_reach(r: Result) -> list[float]:
    return [float(v) if v != "never" else math.inf for k, v in _saddle_facts(r).items() if k.endswith("_reach")]


def _saddle_claim(r: Result) -> tuple[bool, str]:
    f = _saddle_facts(r)
    reach = _saddle_reach(r)
    ok = reach[0] > max(reach[1:]) and f["gd_near"] >= 20 and all(
        4 * int(f[f"{k}_near"]) <= int(f["gd_near"]) for k in ("noise", "mom", "adam"))
    return ok, (f"GD reaches a minimum last (step {f['gd_reach']}) after {f['gd_near']} steps within "
                f"{_SADDLE_NEAR} of the saddle; the others spend at most a quarter of that there")


def _saddle_notes(r: Result) -> list[tuple[int, float, str]]:
    t = r.trajectories[0]
    near = np.flatnonzero(np.linalg.norm(t.params[:, 0], axis=1) < _SADDLE_NEAR)
    if not near.size:
        return []
    a, b = int(t.steps[near[0]]), int(t.steps[near[-1]])
    return [(0, a, f"GD reaches the saddle, step {a}"), (0, b, f"GD finally leaves, step {b}")]


SADDLE = Lesson(
    key="saddle",
    title="Saddle points: why training pauses",
    question="Near a saddle point the gradient is almost zero. Does gradient descent get stuck there, and what helps?",
    scenario=_demo_scenario("saddle", 400),
    predict=Predict(
        "All four start just off the ridge that leads into the saddle. Which reaches a minimum last?",
        ("plain GD", "GD with gradient noise", "momentum", "Adam"),
        lambda r: int(np.argmax(_saddle_reach(r))),
    ),
    narration=(
        "Plain GD slides into the saddle and spends {gd_near} steps within 0.1 of it, reaching a minimum only at "
        "step {gd_reach}: the escaping part of the gradient, −2y, starts at {escape0} and only doubles every {doubling} steps. "
        "Gradient noise kicks it off the ridge at once (minimum at step {noise_reach}); momentum ({mom_reach}) "
        "and Adam ({adam_reach}) accelerate along the tiny escape direction instead of waiting."
    ),
    facts=_saddle_facts,
    annotations=_saddle_notes,
    variations=(
        Variation("start exactly on the ridge (y = 0)", lambda s: replace(s, starts=((-1.5, 0.0),))),
        Variation("GD with a 5× larger step (lr 0.1)", lambda s: set_optimizer(s, 0, with_hparams(s.optimizers[0], lr=0.1))),
    ),
    claim=_saddle_claim,
    compute=compute,
)


# -- ill-conditioning -------------------------------------------------------------------------------
def across_valley(r: Result, i: int) -> np.ndarray:
    """Coordinate of series ``i``'s path across the trough's floor (the steep direction), ``(R,)``."""
    theta = math.radians(float(dict(r.scenario.landscape_params).get("angle", 30.0)))
    return r.trajectories[i].params[:, 0] @ np.array([-math.sin(theta), math.cos(theta)])


def sign_changes(a: np.ndarray, n: int = 50) -> float:
    """Fraction of the first ``n`` steps whose movement ``Δa`` reverses the previous step's sign."""
    d = np.diff(a)[:n]
    return float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))


def _trough_facts(r: Result) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {}
    for i, key in enumerate(("gd", "mom", "adam")):
        out[f"{key}_flips"] = round(100 * sign_changes(across_valley(r, i)))
        hit = first_at_or_below(_values(r, i), 1e-6)
        out[f"{key}_steps"] = fmt_int(r.trajectories[i].steps[hit]) if hit >= 0 else "never"
    land = build_landscape(r.scenario)
    out["kappa"] = f"{land.condition_number:g}"
    out["angle"] = f"{land.params['angle']:g}"
    return out


def _steps_to_1e6(r: Result, i: int) -> float:
    hit = first_at_or_below(_values(r, i), 1e-6)
    return float(r.trajectories[i].steps[hit]) if hit >= 0 else math.inf


def _trough_claim(r: Result) -> tuple[bool, str]:
    gd, mom = sign_changes(across_valley(r, 0)), sign_changes(across_valley(r, 1))
    ok = gd >= 0.8 and mom < gd and _steps_to_1e6(r, 1) < _steps_to_1e6(r, 0)
    return ok, (f"GD's step across the trough reverses on {gd:.0%} of the first 50 steps, momentum's on {mom:.0%}; "
                "momentum reaches 1e-6 first")


def _trough_notes(r: Result) -> list[tuple[int, float, str]]:
    notes: list[tuple[int, float, str]] = [(0, 5, "GD bounces from wall to wall")]
    # A variation may add optimizers after the lesson's three; they are named by their registry title.
    names = ["GD", "momentum", "Adam", *(optimizers.REGISTRY[c.name].title for c in r.scenario.optimizers[3:])]
    for i, name in enumerate(names):
        s = _steps_to_1e6(r, i)
        if math.isfinite(s):
            notes.append((i, s, f"{name} reaches 1e-6, step {fmt_int(s)}"))
    return notes


#: Full-matrix preconditioning for the trough lesson's last variation: one 2×2 matrix per run turns with the
#: valley, where Adam's one scale per axis cannot.
SHAMPOO = OptimizerConfig.make("shampoo", {"lr": 0.5})


TROUGH = Lesson(
    key="ill_conditioning",
    title="Ill-conditioning: zig-zag in a narrow trough",
    question="The loss surface is a long narrow valley. Why does gradient descent bounce between the walls, "
             "and does momentum or Adam fix it?",
    scenario=SurfaceScenario(
        "narrow_trough", pairs(condition_number=100.0, angle=30.0),
        (OptimizerConfig.make("gd", {"lr": 0.019}), OptimizerConfig.make("momentum", {"lr": 0.01, "momentum": 0.8}),
         OptimizerConfig.make("adam", {"lr": 0.1})),
        (landscapes.get("narrow_trough", condition_number=100.0, angle=30.0).start,), 600,
    ),
    predict=Predict(
        "The trough is 100 times steeper across than along. Which reaches the bottom (1e-6) first?",
        ("GD", "momentum", "Adam"),
        lambda r: int(np.argmin([_steps_to_1e6(r, i) for i in range(3)])),
    ),
    narration=(
        "The trough is {kappa} times steeper across than along, tilted {angle}°. GD needs lr < 2/κ to stay stable, "
        "so across the trough it overshoots: its step reverses on {gd_flips}% of the first 50 steps, while along "
        "the floor it crawls (1e-6 at step {gd_steps}). Momentum's velocity cancels the bounces (reversals on "
        "{mom_flips}%) and adds up along the floor: 1e-6 at step {mom_steps}. Adam rescales x and y separately, "
        "which matches the trough only when it is axis-aligned: here it needs {adam_steps} steps; align it to compare."
    ),
    facts=_trough_facts,
    annotations=_trough_notes,
    variations=(
        # The start turns with the trough, so the aligned problem is the tilted one rotated, nothing else.
        Variation("align the trough with the x axis (θ = 0)",
                  lambda s: replace(set_landscape(s, angle=0.0),
                                    starts=(landscapes.get("narrow_trough", **{**dict(s.landscape_params),
                                                                               "angle": 0.0}).start,))),
        Variation("milder trough (κ = 10)", lambda s: set_landscape(s, condition_number=10.0)),
        Variation("add Shampoo: a full 2×2 preconditioner", lambda s: replace(s, optimizers=(*s.optimizers, SHAMPOO))),
    ),
    claim=_trough_claim,
    compute=compute,
)


# -- two basins -------------------------------------------------------------------------------------
def _share(r: Result, i: int, kind: str) -> float:
    bm = r.basin_maps[i]
    return sum(v for lab, v in bm.shares().items() if bm.kinds[bm.labels.index(lab)] == kind)


def _basin_facts(r: Result) -> dict[str, float | int | str]:
    out: dict[str, float | int | str] = {}
    for i, key in enumerate(("gd", "mom")):
        out[f"{key}_global"] = round(100 * _share(r, i, "global"))
        out[f"{key}_local"] = round(100 * _share(r, i, "local"))
    out["lr"] = f"{dict(r.scenario.optimizers[0].hparams)['lr']:g}"
    out["gd_end"] = _end_kind(r, 0)
    return out


def _end_kind(r: Result, i: int) -> str:
    """Which minimum run ``i`` from the first start ended nearest to."""
    land = r.problems[i]
    end = r.trajectories[i].final_params[0]
    crit = [c for c in land.minima if c.kind != "saddle"]
    best = min(crit, key=lambda c: float(np.hypot(*(end - np.asarray(c.point)))))
    return "the deep (global) basin" if best.kind == "global" else "the shallow (local) basin"


def _basin_claim(r: Result) -> tuple[bool, str]:
    g, loc = _share(r, 0, "global"), _share(r, 0, "local")
    return g >= 0.25 and loc >= 0.25, f"GD's basin map: {g:.0%} of starts end in the global minimum, {loc:.0%} in the local one"


TWO_BASIN = Lesson(
    key="local_minimum",
    title="Local vs global minimum: where you start decides",
    question="My network ends in a worse solution on some runs. Is it stuck in a local minimum, and is that "
             "decided by the optimizer or by the start?",
    scenario=_demo_scenario("two_basin", 200, basins=100),
    predict=Predict(
        "GD starts at the lower left, next to the shallow basin. Where does it end?",
        ("the deep (global) basin", "the shallow (local) basin"),
        lambda r: ["the deep (global) basin", "the shallow (local) basin"].index(_end_kind(r, 0)),
    ),
    narration=(
        "From the lower-left start GD ends in {gd_end}. The basin map runs GD (lr {lr}) from 10,000 starts: "
        "{gd_global}% end in the deep minimum and {gd_local}% in the shallow one, split by the ridge through the "
        "saddle. Momentum carries some starts over that ridge and moves the border ({mom_global}% deep, "
        "{mom_local}% shallow), but no first-order method sees the other valley from inside this one."
    ),
    facts=_basin_facts,
    annotations=lambda r: [(0, float(r.trajectories[0].status_step[0]), f"GD settles in {_end_kind(r, 0)}")],
    variations=(
        Variation("GD at lr 1 (too large for the deep well)",
                  lambda s: set_optimizer(s, 0, with_hparams(s.optimizers[0], lr=1.0))),
        Variation("start at the upper left", lambda s: replace(s, starts=((-2.6, 2.4),))),
    ),
    claim=_basin_claim,
    compute=compute,
)


# -- cliff ------------------------------------------------------------------------------------------
def _first_step(r: Result, i: int) -> float:
    """Length of the first step series ``i`` took (or tried to take, if it left at once)."""
    t = r.trajectories[i]
    p0 = t.params[0, 0]
    if t.status[0] in (DIVERGED, LEFT_WINDOW) and t.status_step[0] == 1 and t.escape is not None:
        return float(np.linalg.norm(t.escape[0] - p0))
    return float(np.linalg.norm(t.params[1, 0] - p0))


def _cliff_facts(r: Result) -> dict[str, float | int | str]:
    plain, clipped = r.trajectories
    return {
        "plain_step": f"{_first_step(r, 0):.3g}",
        "plain_fate": plain.reason[0],
        "clip_step": f"{_first_step(r, 1):.3g}",
        "clip_fate": clipped.reason[0],
        "lr": f"{dict(r.scenario.optimizers[0].hparams)['lr']:g}",
        "slope": f"{plain.grad_norms[0, 0]:.3g}",
    }


def _cliff_claim(r: Result) -> tuple[bool, str]:
    plain, clipped = r.trajectories
    land = r.problems[0]
    end = clipped.final_params[0]
    ok = (plain.status[0] in (DIVERGED, LEFT_WINDOW) and plain.status_step[0] <= 2 and clipped.status[0] == CONVERGED
          and float(np.hypot(*(end - np.asarray(land.minima[0].point)))) < 1e-3)
    return ok, f"unclipped GD: {plain.reason[0]}; clipped GD: {clipped.reason[0]}"


CLIFF = Lesson(
    key="exploding_gradients",
    title="Exploding gradients: clipping on a cliff",
    question="My loss suddenly jumps to a huge value and training never recovers. What is an exploding gradient "
             "and how does clipping help?",
    scenario=_demo_scenario("cliff", 200),
    predict=Predict(
        "Both start on the cliff face with the same learning rate. Which one reaches the bottom of the bowl?",
        ("plain GD", "clipped GD", "both", "neither"),
        lambda r: {(True, True): 2, (False, True): 1, (True, False): 0}.get(
            (r.trajectories[0].status[0] == CONVERGED, r.trajectories[1].status[0] == CONVERGED), 3),
    ),
    narration=(
        "On the cliff face the slope is {slope}, so plain GD at lr {lr} tries a step of length {plain_step} and "
        "{plain_fate}. Clipping the gradient's norm to 1 caps every step at lr × 1: the clipped twin's first step is "
        "{clip_step} long, it walks down the face and {clip_fate}."
    ),
    facts=_cliff_facts,
    annotations=lambda r: [(0, 1, "GD is thrown off the cliff, step 1"),
                           (1, float(r.trajectories[1].status_step[0]), "clipped GD arrives")],
    variations=(
        Variation("a gentler cliff (k = 5)", lambda s: set_landscape(s, steepness=5.0)),
        Variation("clip by value instead of by norm",
                  lambda s: set_optimizer(s, 1, replace(s.optimizers[1], clip_mode="value", label="GD, clipped (value ≤ 1)"))),
    ),
    claim=_cliff_claim,
    compute=compute,
)


# -- Robbins–Monro ----------------------------------------------------------------------------------
_RM_NOISE = {"noise_sigma": 1.0, "noise_seed": 0}


def lr_sums(cfg: OptimizerConfig, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Partial sums of ``η_t`` and ``η_t²`` over ``t = 1 … steps``, from the schedule the optimizer uses.

    Returns
    -------
    sum_eta, sum_eta2 : ndarray, shape (steps,)
    """
    opt = cfg.build()
    eta = np.array([opt.lr_at(t) for t in range(1, steps + 1)])
    return np.cumsum(eta), np.cumsum(eta * eta)


def late_distance(r: Result, i: int) -> float:
    """Mean distance to the minimum over the last fifth of series ``i``'s steps."""
    p = r.trajectories[i].params[:, 0]
    tail = p[-max(1, len(p) // 5):]
    return float(np.linalg.norm(tail, axis=1).mean())


def _rm_facts(r: Result) -> dict[str, float | int | str]:
    s = r.scenario
    out: dict[str, float | int | str] = {"steps": fmt_int(s.steps)}
    for i, key in enumerate(("const", "inv", "exp")):
        se, se2 = lr_sums(s.optimizers[i], s.steps)
        half = s.steps // 2 - 1
        out[f"{key}_sum"] = f"{se[-1]:.3g}"
        out[f"{key}_sum_half"] = f"{se[half]:.3g}"
        out[f"{key}_sum2"] = f"{se2[-1]:.3g}"
        out[f"{key}_sum2_tail"] = f"{se2[-1] - se2[half]:.2g}"
        out[f"{key}_dist"] = f"{late_distance(r, i):.2g}"
    return out


def _rm_claim(r: Result) -> tuple[bool, str]:
    d = [late_distance(r, i) for i in range(3)]
    se_exp, _ = lr_sums(r.scenario.optimizers[2], r.scenario.steps)
    start = float(np.linalg.norm(r.scenario.starts[0]))
    ok = d[1] < d[0] and d[1] < d[2] and se_exp[-1] < start
    return bool(ok), (f"late distance to the minimum: constant {d[0]:.2g}, 1/t {d[1]:.2g}, exponential {d[2]:.2g}; "
                f"the exponential schedule's whole Σηₜ = {se_exp[-1]:.2g} is shorter than the way ({start:.2g})")


def _rm_notes(r: Result) -> list[tuple[int, float, str]]:
    se, _ = lr_sums(r.scenario.optimizers[2], r.scenario.steps)
    spent = int(np.searchsorted(se, 0.99 * se[-1])) + 1
    return [(2, spent, f"exponential: 99% of its Σηₜ spent by step {spent}"),
            (0, 0.8 * r.scenario.steps, "constant lr: still hovering")]


ROBBINS_MONRO = Lesson(
    key="robbins_monro",
    title="Robbins–Monro: why the learning rate must decay, but not too fast",
    question="A lecture says SGD converges when Σηₜ = ∞ and Σηₜ² < ∞. What do these two conditions mean in practice?",
    scenario=SurfaceScenario(
        "narrow_trough", pairs(condition_number=2.0, angle=30.0),
        (OptimizerConfig.make("gd", {"lr": 0.1}, label="constant lr 0.1", **_RM_NOISE),
         OptimizerConfig.make("gd", {"lr": 0.5}, {"decay": 0.1}, schedule="inverse_time", label="1/t: 0.5/(1+0.1(t−1))",
                              **_RM_NOISE),
         OptimizerConfig.make("gd", {"lr": 0.05}, {"gamma": 0.9}, schedule="exponential", label="exponential: 0.05·0.9^(t−1)",
                              **_RM_NOISE)),
        (landscapes.get("narrow_trough", condition_number=2.0, angle=30.0).start,), 600,
    ),
    predict=Predict(
        "Every gradient carries the same noise. Which schedule ends closest to the minimum?",
        ("constant lr", "1/t decay", "fast exponential decay"),
        lambda r: int(np.argmin([late_distance(r, i) for i in range(3)])),
    ),
    narration=(
        "With a constant lr, Σηₜ² grows without bound ({const_sum2} after {steps} steps), so the noise never stops "
        "kicking: it hovers {const_dist} from the minimum. The 1/t schedule keeps Σηₜ growing ({inv_sum_half} at "
        "half way, {inv_sum} at the end: enough to go anywhere) while Σηₜ² has all but stopped (the second half added "
        "{inv_sum2_tail}): it settles to {inv_dist}. The fast exponential decay has Σηₜ = {exp_sum} in total, "
        "less than the way to go, so it freezes {exp_dist} away."
    ),
    facts=_rm_facts,
    annotations=_rm_notes,
    variations=(
        Variation("no noise (exact gradients)", lambda s: replace(s, optimizers=tuple(replace(c, noise_sigma=0.0) for c in s.optimizers))),
        Variation("10× more noise (σ = 10)", lambda s: replace(s, optimizers=tuple(replace(c, noise_sigma=10.0) for c in s.optimizers))),
    ),
    claim=_rm_claim,
    compute=compute,
)

SURFACE_LESSONS: tuple[Lesson, ...] = (SADDLE, TROUGH, TWO_BASIN, CLIFF, ROBBINS_MONRO)
