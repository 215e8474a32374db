"""Exports decoded by independent readers.

References: Python's HTML parser (standalone HTML with frames, no remote scripts), Pillow (GIF/PNG frame count
and size), the ISO-BMFF layout and imageio's ffmpeg reader (MP4 frame count), pandas (CSV equals the
Trajectory that was exported).
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from html.parser import HTMLParser

import numpy as np
import pytest

import landscapes
import optimizers
from viz import export, palette
from viz.surface_figure import Series, animated_figure, frame_steps


@pytest.fixture(scope="module")
def land():
    return landscapes.get("rosenbrock")


@pytest.fixture(scope="module")
def series(land):
    a = optimizers.run(land, optimizers.get("adam", lr=0.05), np.array([[-1.5, 2.0]]), 80)
    b = optimizers.run(land, optimizers.get("gd", lr=1e-3), np.array([[-1.5, 2.0], [1.5, -0.5]]), 80)
    return [Series("Adam", palette.color_for(0), a), Series("GD", palette.color_for(1), b)]


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []
        self.inline: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in = True
            src = dict(attrs).get("src")
            if src:
                self.srcs.append(src)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.inline.append(data)


def test_html_is_standalone_and_holds_frames(land, series):
    """Reference: html.parser — no http(s) script src, plotly.js inline, and the figure's frames are in it."""
    fig = animated_figure(land, series, max_frames=30)
    html = export.to_html(fig)
    p = _Scripts()
    p.feed(html)
    assert not [s for s in p.srcs if re.match(r"https?://", s)]
    code = "".join(p.inline)
    assert "Plotly.newPlot" in code and len(code) > 1_000_000  # plotly.js itself is inlined
    m = re.search(r"Plotly\.addFrames\('[^']+',\s*(\[.*?\])\);", code, flags=re.S)
    assert m, "frames are added after newPlot"
    frames = json.loads(m.group(1))
    assert [f["name"] for f in frames] == [str(s) for s in frame_steps(series, 30)]
    # Played by the frame player: its script is inlined and the figure's buttons are the player's.
    assert "window.DescentLabPlayer" in code and '"player:forward"' in code


def test_gif_decodes_to_expected_frames(land, series):
    """Reference: Pillow — frame count equals the animation's frames, size equals the matplotlib canvas."""
    from PIL import Image

    data = export.to_gif(land, series, max_frames=20, dpi=50)
    im = Image.open(io.BytesIO(data))
    assert im.format == "GIF"
    assert im.n_frames == len(frame_steps(series, 20))
    w, h = im.size
    assert (w, h) == (550 // 2 * 2, 240 // 2 * 2)  # 11 x 4.8 inches at 50 dpi, cropped to even


def test_mp4_is_valid_and_reads_back(land, series):
    """Reference: ISO-BMFF (an 'ftyp' box first) and imageio-ffmpeg's reader counting the frames."""
    import imageio_ffmpeg

    data = export.to_mp4(land, series, max_frames=15, dpi=50)
    assert data[4:8] == b"ftyp"
    fd, path = tempfile.mkstemp(suffix=".mp4")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        reader = imageio_ffmpeg.read_frames(path)
        meta = next(reader)
        n = sum(1 for _ in reader)
    finally:
        os.unlink(path)
    assert n == len(frame_steps(series, 15))
    assert tuple(meta["size"]) == (550 // 2 * 2, 240 // 2 * 2)


def test_png_decodes(land, series):
    """Reference: Pillow decodes it at the requested resolution; different frames give different pictures."""
    from PIL import Image

    first = export.to_png(land, series, frame=0, dpi=40)
    last = export.to_png(land, series, dpi=40)
    im = Image.open(io.BytesIO(last))
    assert im.format == "PNG" and im.size == (440, 192)
    a = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"), dtype=int)
    b = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(a - b).sum() > 0
    with pytest.raises(ValueError, match="frame"):
        export.to_png(land, series, frame=10_000)


def test_png_marker_drawn_at_trajectory_point(land):
    """Reference: the Trajectory — the current-position marker's colour appears at its pixel position."""
    from PIL import Image

    tr = optimizers.run(land, optimizers.get("adam", lr=0.05), np.array([[-1.5, 2.0]]), 40)
    color = "#EE6677"
    scene = export.surface_scene(land, [Series("A", color, tr)], dpi=60, max_frames=40)
    rgb = next(export.render_frames(scene, [scene.n_frames - 1]))
    ax = scene.figure.axes[0]
    px, py = ax.transData.transform(tr.params[-1, 0])
    row, col = round(rgb.shape[0] - py), round(px)
    patch = rgb[row - 2 : row + 3, col - 2 : col + 3].reshape(-1, 3).astype(int)
    want = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    assert np.abs(patch - want).sum(axis=1).min() < 40
    im = Image.fromarray(rgb)
    assert im.size[0] > 0


def test_csv_round_trips(series):
    """Reference: the Trajectory — pandas reads back one row per recorded point up to each run's status step."""
    import pandas as pd

    table = pd.read_csv(io.StringIO(export.trajectories_csv(series)))
    assert list(table.columns) == ["optimizer", "run", "step", "x", "y", "value", "grad_norm", "status"]
    expected_rows = sum(s.trajectory.last_record(r) + 1 for s in series for r in range(s.trajectory.k))
    assert len(table) == expected_rows
    for s in series:
        tr = s.trajectory
        for r in range(tr.k):
            part = table[(table.optimizer == s.label) & (table.run == r)]
            m = tr.last_record(r) + 1
            np.testing.assert_array_equal(part.step.to_numpy(), tr.steps[:m])
            np.testing.assert_array_equal(part[["x", "y"]].to_numpy(), tr.params[:m, r])
            np.testing.assert_array_equal(part.value.to_numpy(), tr.values[:m, r])
            np.testing.assert_array_equal(part.grad_norm.to_numpy(), tr.grad_norms[:m, r])
            assert set(part.status) == {tr.status[r]}


def test_generic_frames_callback():
    """Reference: Pillow — a plain draw_frame(ax, i) callback yields exactly n_frames GIF frames."""
    from PIL import Image

    def draw(ax, i):
        ax.plot([0, i], [0, i])

    data = export.to_gif_frames(draw, 5, figsize=(2, 2), dpi=40)
    assert Image.open(io.BytesIO(data)).n_frames == 5
