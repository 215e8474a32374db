"""Lessons: each question from the seeds answered by a curated run, with its numbers read off that run.

``REGISTRY`` maps a key to a :class:`Lesson`, in the order a page lists them.
A page calls ``lesson.compute(lesson.scenario)`` (under a cache), draws the
result, fills ``lesson.narrate(result)`` and places ``lesson.annotations(result)``.
No streamlit here.
"""

from __future__ import annotations

from lessons.core import (
    Lesson,
    NetScenario,
    Predict,
    Result,
    Scenario,
    SurfaceScenario,
    Variation,
    compute,
)
from lessons.demos import demo_config, demo_configs
from lessons.networks import NET_LESSONS
from lessons.surfaces import SURFACE_LESSONS

REGISTRY: dict[str, Lesson] = {lesson.key: lesson for lesson in (*NET_LESSONS, *SURFACE_LESSONS)}

__all__ = [
    "REGISTRY",
    "Lesson",
    "NetScenario",
    "Predict",
    "Result",
    "Scenario",
    "SurfaceScenario",
    "Variation",
    "compute",
    "demo_config",
    "demo_configs",
]
