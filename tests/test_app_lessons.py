"""The lessons page under Streamlit's AppTest, and the explorer links of the lessons.

References: a lesson's narration is ``lesson.narrate(lesson.compute(scenario))``, recomputed here
independently of the page (compute is deterministic), so the page must show that exact text, numbers
included; an explorer link must decode on the explorer page's own model to the lesson's settings without a
single notice (the model's encoder and decoder must agree).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import lessons
from ui import lessons_model as lm
from ui import networks_model, surfaces_model

PAGE = str(Path(__file__).resolve().parents[1] / "ui" / "pages" / "lessons.py")
APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 240


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.slow
@pytest.mark.parametrize("key", list(lessons.REGISTRY))
def test_every_lesson_shows_its_run_and_narration(key):
    """Each lesson: no exception or error, an animated figure, and after a prediction its narration filled from
    the run, word for word as the lesson computes it on its own."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["lesson"] = key
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    charts = _charts(at)
    assert charts and charts[0].get("frames")
    lesson = lessons.REGISTRY[key]
    before = [m.value for m in at.markdown]
    narration = lesson.narrate(lesson.compute(lesson.scenario))
    assert narration not in before  # the answer waits for a prediction
    at.radio(key=f"lesson.w.predict.{key}.0").set_value(0).run()
    assert not at.exception
    assert narration in [m.value for m in at.markdown]
    verdict = at.success[0].value
    right = lesson.predict.choices[lesson.predict.answer(lesson.compute(lesson.scenario))]
    assert right in verdict


def test_a_variation_reruns_the_lesson_and_lands_in_the_link():
    """One click on a variation: the page shows the varied run's narration and the link says v=1."""
    key = "ill_conditioning"
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["lesson"] = key
    at.run()
    at.get("button_group")[0].set_value(1).run()
    assert not at.exception
    assert at.query_params["v"] == ["1"] or at.query_params["v"] == "1"
    lesson = lessons.REGISTRY[key]
    at.radio(key=f"lesson.w.predict.{key}.1").set_value(0).run()
    varied = lesson.variations[0].apply(lesson.scenario)
    assert lesson.narrate(lesson.compute(varied)) in [m.value for m in at.markdown]


def test_hostile_lesson_link_falls_back_with_an_escaped_notice():
    """Garbage in ?lesson and ?v: the first lesson, one warning, markup escaped (no live link)."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["lesson"] = "[x](https://example.invalid) ![i](https://example.invalid/i.png)"
    at.query_params["v"] = "1e309"
    at.run()
    assert not at.exception
    text = at.warning[0].value
    assert "](https" not in text.replace("\\]\\(", "")
    assert "\\[" in text


def test_old_root_links_open_the_surfaces_page():
    """A link made when the surfaces page was the root (/?surface=...) still opens the surfaces page."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["surface"] = "two_basin"
    at.run()
    assert not at.exception
    assert at.selectbox(key="surf.w.surface").value == "two_basin"


@pytest.mark.parametrize("key", list(lessons.REGISTRY))
def test_explorer_links_decode_without_notices(key):
    """Every lesson and variation: the explorer link decodes on its page's model with no notice, to the same
    optimizers (two implementations of the URL form, encoder and decoder, must agree)."""
    lesson = lessons.REGISTRY[key]
    for v in range(1 + len(lesson.variations)):
        s = lm.scenario({"lesson": key, "v": v})
        page, query, _ = lm.explorer_link(s)
        model = surfaces_model.MODEL if page == "surfaces" else networks_model.MODEL
        values, notices = model.decode(query)
        assert notices == []
        assert model.encode(values) == query
        names = [e.config.name for e in values["optimizers"]]
        expected = [c.name for c in s.optimizers] if page == "surfaces" else [c.name for c, _ in s.runs]
        assert names == expected or (len(names) == 1 and names[0] == expected[0])
