"""Exports without a browser: standalone HTML, GIF, MP4, PNG and CSV.

HTML comes from plotly (plotly.js inlined). GIF/MP4/PNG are drawn with matplotlib in the same colours,
contour lines, tails and markers as the plotly figure, and encoded with pillow (GIF, PNG) and the ffmpeg
binary shipped inside the imageio-ffmpeg wheel (MP4).

The frame machinery is generic: a :class:`Scene` is a matplotlib figure plus the artists that change and an
``update(i)`` callback. Static content is rasterised once and each frame only redraws the changing artists
(blitting), which keeps 120 frames to a couple of seconds. Other pages can build their own ``Scene`` or use
:func:`to_gif_frames` with a plain ``draw_frame(ax, i)`` callback.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from landscapes.base import Landscape
from optimizers.runner import DIVERGED, LEFT_WINDOW
from viz import palette
from viz.surface_figure import Series, contour_data, frame_steps, last_records, loss_for_plot

# ---------------------------------------------------------------------------------------------------------------
# HTML and CSV
# ---------------------------------------------------------------------------------------------------------------
_KEYS_JS = """
var gd = document.getElementById('{plot_id}');
document.addEventListener('keydown', function (ev) {
  if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') { return; }
  var sl = gd._fullLayout.sliders && gd._fullLayout.sliders[0];
  if (!sl) { return; }
  var i = Math.max(0, Math.min(sl.steps.length - 1, (sl.active || 0) + (ev.key === 'ArrowRight' ? 1 : -1)));
  Plotly.animate(gd, [sl.steps[i].args[0][0]], {mode: 'immediate', frame: {duration: 0, redraw: false},
                                                transition: {duration: 0}});
});
"""


def to_html(fig: go.Figure) -> str:
    """Standalone HTML that plays offline: plotly.js inlined, frames included, played by the frame player.

    Parameters
    ----------
    fig : go.Figure

    Returns
    -------
    str
        A complete HTML document.
    """
    import plotly.io as pio

    from viz.player import player_post_script, use_player

    spec = fig.to_dict()
    try:
        # The frame player: the display rate instead of ~15 frames/s, and one-frame ◀/▶ buttons (and ←/→).
        spec["layout"] = use_player(spec["layout"])
        script = player_post_script()
    except ValueError:  # no Play button or slider to drive: plotly's own controls, plus the ←/→ keys
        script = _KEYS_JS
    return pio.to_html(spec, include_plotlyjs=True, full_html=True, auto_play=False, post_script=script,
                       config={"displaylogo": False, "responsive": True}, validate=False)


def trajectories_csv(series: Sequence[Series]) -> str:
    """All recorded points of all runs as CSV.

    Columns: ``optimizer, run, step, x, y`` (``x0 .. x{d-1}`` when d != 2), ``value, grad_norm, status``.
    Each run's rows stop at its status step (later records only repeat the last point).

    Parameters
    ----------
    series : sequence of Series

    Returns
    -------
    str
    """
    import pandas as pd

    frames = []
    for s in series:
        tr = s.trajectory
        d = tr.params.shape[2]
        names = ["x", "y"] if d == 2 else [f"x{i}" for i in range(d)]
        last = last_records(tr)
        for r in range(tr.k):
            m = last[r] + 1
            cols: dict[str, Any] = {"optimizer": s.label, "run": r, "step": tr.steps[:m]}
            for j, nm in enumerate(names):
                cols[nm] = tr.params[:m, r, j]
            cols.update(value=tr.values[:m, r], grad_norm=tr.grad_norms[:m, r], status=str(tr.status[r]))
            frames.append(pd.DataFrame(cols))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table.to_csv(index=False, float_format="%.17g")


# ---------------------------------------------------------------------------------------------------------------
# Generic frame rendering and encoding
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Scene:
    """A matplotlib figure prepared for animation.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        Everything that does not change is already drawn on it.
    animated : list of matplotlib.artist.Artist
        Artists that ``update`` changes; drawn on top of the cached background each frame.
    update : callable
        ``update(i)`` sets the animated artists for frame ``i``.
    n_frames : int
    """

    figure: Any
    animated: list[Any] = field(default_factory=list)
    update: Callable[[int], None] = lambda i: None
    n_frames: int = 1


def render_frames(scene: Scene, indices: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Yield frames of ``scene`` as RGB arrays, blitting the animated artists over a cached background.

    Parameters
    ----------
    scene : Scene
    indices : sequence of int, optional
        Frames to render (default all).

    Yields
    ------
    ndarray of uint8, shape (H, W, 3)
        H and W even (video encoders need that).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = scene.figure
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    for a in scene.animated:
        a.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    for i in range(scene.n_frames) if indices is None else indices:
        canvas.restore_region(background)
        scene.update(i)
        for a in scene.animated:
            fig.draw_artist(a)
        rgba = np.asarray(canvas.buffer_rgba())
        h, w = rgba.shape[0] // 2 * 2, rgba.shape[1] // 2 * 2
        yield np.ascontiguousarray(rgba[:h, :w, :3])


def encode_gif(frames: Iterator[np.ndarray] | Sequence[np.ndarray], fps: int = 20,
               palette_from: Sequence[np.ndarray] = ()) -> bytes:
    """Frames ``(H, W, 3)`` uint8 -> an animated GIF that loops.

    One palette serves all frames: it is fitted once (on ``palette_from`` plus the first frame) and every frame
    is mapped through a 15-bit lookup table, which is several times faster than quantizing each frame.
    """
    from PIL import Image

    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("no frames to encode")
    sample = np.concatenate([first, *[np.asarray(p)[: first.shape[0], : first.shape[1]] for p in palette_from]])
    pal_img = Image.fromarray(sample).quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    pal = np.asarray(pal_img.getpalette()[: 3 * 256], dtype=np.float32).reshape(-1, 3)
    lut = _nearest_lut(pal)
    flat_pal = pal.astype(np.uint8).ravel().tolist()

    def to_p(rgb: np.ndarray) -> Image.Image:
        key = ((rgb[..., 0] >> 3).astype(np.uint16) << 10) | ((rgb[..., 1] >> 3).astype(np.uint16) << 5) | (rgb[..., 2] >> 3)
        im = Image.fromarray(lut[key], mode="P")
        im.putpalette(flat_pal)
        return im

    images = [to_p(first)] + [to_p(rgb) for rgb in it]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, round(1000 / fps)), loop=0)
    return buf.getvalue()


def _nearest_lut(pal: np.ndarray) -> np.ndarray:
    """``(32768,)`` uint8: index of the nearest palette colour for every 5-bit-per-channel RGB cell."""
    v = (np.arange(32) * 8 + 4).astype(np.float32)
    cells = np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(-1, 3)
    out = np.empty(len(cells), dtype=np.uint8)
    for i in range(0, len(cells), 4096):
        d = ((cells[i : i + 4096, None, :] - pal[None, :, :]) ** 2).sum(-1)
        out[i : i + 4096] = d.argmin(axis=1)
    return out


def encode_mp4(frames: Iterator[np.ndarray] | Sequence[np.ndarray], fps: int = 20) -> bytes:
    """Frames ``(H, W, 3)`` uint8 (H, W even) -> H.264 MP4 bytes, using imageio-ffmpeg's bundled ffmpeg."""
    import imageio_ffmpeg

    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("no frames to encode")
    h, w = first.shape[:2]
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = imageio_ffmpeg.write_frames(path, (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                             quality=7, macro_block_size=1,
                                             output_params=["-movflags", "+faststart"])
        writer.send(None)
        writer.send(first)
        for rgb in it:
            writer.send(rgb)
        writer.close()
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def encode_png(rgb: np.ndarray) -> bytes:
    """One frame ``(H, W, 3)`` uint8 -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def to_gif_frames(draw_frame: Callable[[Any, int], None], n_frames: int, *, fps: int = 20,
                  figsize: tuple[float, float] = (8.0, 5.0), dpi: int = 100, fmt: str = "gif") -> bytes:
    """Animation from a plain drawing callback: ``draw_frame(ax, i)`` draws frame ``i`` on a cleared axes.

    Slower than a blitted :class:`Scene` (everything is redrawn), but needs no set-up.

    Parameters
    ----------
    draw_frame : callable
        ``draw_frame(ax, i)``.
    n_frames : int
    fps : int
    figsize : (float, float)
    dpi : int
    fmt : {"gif", "mp4"}

    Returns
    -------
    bytes
    """
    from matplotlib.figure import Figure

    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_subplot()

    def update(i: int) -> None:
        ax.clear()
        draw_frame(ax, i)

    def frames() -> Iterator[np.ndarray]:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
        for i in range(n_frames):
            update(i)
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
            h, w = rgba.shape[0] // 2 * 2, rgba.shape[1] // 2 * 2
            yield np.ascontiguousarray(rgba[:h, :w, :3])

    if fmt == "gif":
        return encode_gif(frames(), fps)
    if fmt == "mp4":
        return encode_mp4(frames(), fps)
    raise ValueError(f"fmt must be 'gif' or 'mp4', got {fmt!r}")


# ---------------------------------------------------------------------------------------------------------------
# The surfaces scene (matches viz.surface_figure.animated_figure)
# ---------------------------------------------------------------------------------------------------------------
def surface_scene(landscape: Landscape, series: Sequence[Series], *, max_frames: int = 120, tail: int = 25,
                  dpi: int = 100, loss_scale: str = "log", figsize: tuple[float, float] = (11.0, 4.8)) -> Scene:
    """Matplotlib twin of the plotly figure: contour map with paths and tails, loss curves, a step line.

    Parameters
    ----------
    landscape : Landscape
    series : sequence of Series
    max_frames : int
    tail : int
        Tail length in frames.
    dpi : int
    loss_scale : {"log", "linear"}
    figsize : (float, float)
        Inches.

    Returns
    -------
    Scene
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    from viz.surface_figure import TAIL_SEGMENTS, series_frames

    if not series:
        raise ValueError("nothing to draw: add at least one optimizer")
    log = loss_scale == "log"
    cdata = contour_data(landscape)
    (x0, x1), (y0, y1) = landscape.bounds
    steps_f = frame_steps(series, max_frames)
    f_min = landscape.f_min
    floor_base = min(float(np.min(s.trajectory.values)) for s in series) if log else None

    fig = Figure(figsize=figsize, dpi=dpi, facecolor=palette.PAPER_BG)
    gs = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.25], left=0.06, right=0.98, bottom=0.12, top=0.86, wspace=0.22)
    ax = fig.add_subplot(gs[0])
    lax = fig.add_subplot(gs[1])
    font = dict(fontsize=11, color=palette.TEXT_COLOR)

    n_bands = len(cdata.levels) + 1
    band_colors = [tuple(palette.hex_rgb(palette.interp_color(palette.FILL_COLORSCALE, t)) / 255) for t in np.linspace(0, 1, n_bands)]
    band = np.searchsorted(cdata.levels, np.nan_to_num(cdata.z, nan=np.inf))
    ax.imshow(band, origin="lower", extent=(x0, x1, y0, y1), cmap=ListedColormap(band_colors),
              vmin=-0.5, vmax=n_bands - 0.5, interpolation="nearest", aspect="equal" if _equal(landscape) else "auto")
    for line, color in zip(cdata.lines, cdata.colors, strict=True):
        if len(line):
            ax.plot(line[:, 0], line[:, 1], color=color, lw=0.7)
    symbols = {"global": ("*", 15, palette.MINIMUM_COLOR), "local": ("D", 7, palette.MINIMUM_COLOR),
               "saddle": ("x", 9, palette.SADDLE_COLOR)}
    for c in landscape.minima:
        m, size, color = symbols.get(c.kind, ("o", 6, "k"))
        ax.plot([c.point[0]], [c.point[1]], marker=m, ms=size, color=color, mec="white" if m != "x" else color,
                mew=0.8 if m != "x" else 2.0, ls="none", zorder=5)

    updaters = []
    animated: list[Any] = []
    lo_all, hi_all = np.inf, -np.inf
    for s in series:
        tr = s.trajectory
        last = last_records(tr)
        idx = np.clip(np.searchsorted(tr.steps, steps_f, side="right") - 1, 0, None)
        loss_all = loss_for_plot(tr.values, f_min, log, floor_base)
        ls = "--" if s.dashed else "-"
        stopped = np.isin(tr.status, [DIVERGED, LEFT_WINDOW])
        for r in range(tr.k):
            m = last[r] + 1
            ax.plot(tr.params[:m, r, 0], tr.params[:m, r, 1], color=s.color, alpha=0.38, lw=1.2, ls=ls)
            lax.plot(tr.steps[:m], loss_all[:m, r], color=s.color, lw=1.8, ls=ls, label=s.label if r == 0 else None)
            lo_all, hi_all = min(lo_all, float(loss_all[:m, r].min())), max(hi_all, float(loss_all[:m, r].max()))
            end = tr.params[last[r], r]
            if stopped[r]:
                ax.plot([end[0]], [end[1]], marker="X", ms=9, color=s.color, mec="#222222", ls="none", zorder=6)
                lax.plot([tr.steps[last[r]]], [loss_all[last[r], r]], marker="X", ms=9, color=s.color, mec="#222222")
            else:
                ax.plot([end[0]], [end[1]], marker="o", ms=6, color=s.color, mec="white", ls="none", zorder=6)
        ax.plot(tr.params[0, :, 0], tr.params[0, :, 1], marker="o", ms=8, mfc="white", mec=s.color, mew=1.8,
                ls="none", zorder=6)
        ups = series_frames(tr, last, idx, loss_all, tail)
        tails = [ax.plot([], [], color=s.color, alpha=a, lw=w * 0.8, ls=ls, solid_capstyle="round", zorder=7)[0]
                 for a, w in TAIL_SEGMENTS]
        cur = ax.plot([], [], marker="o", ms=10, color=s.color, mec="#1A1A1A", mew=1.4, ls="none", zorder=8)[0]
        lcur = lax.plot([], [], marker="o", ms=7, color=s.color, mec="#1A1A1A", mew=1.1, ls="none", zorder=8)[0]
        animated += [*tails, cur, lcur]
        updaters.append((ups, tails, cur, lcur))

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x", **font)
    ax.set_ylabel("y", **font)
    if log:
        lax.set_yscale("log")
        lo_all = max(lo_all, 1e-300)
        if hi_all / lo_all < 10:
            lo_all, hi_all = lo_all / 3, hi_all * 3
        lax.set_ylim(lo_all / 1.4, hi_all * 1.4)
    lax.set_xlim(0, max(int(steps_f[-1]), 1))
    lax.set_xlabel("step", **font)
    lax.set_ylabel("f − f*" if (log and math.isfinite(f_min)) else "f", **font)
    lax.grid(True, color=palette.GRID_COLOR, lw=0.8)
    lax.set_facecolor(palette.PLOT_BG)
    for a in (ax, lax):
        a.tick_params(labelsize=9, colors="#444444")
        for sp in a.spines.values():
            sp.set_color("#BBBBBB")
    lax.legend(loc="upper right", fontsize=9, frameon=True, framealpha=0.85)
    fig.text(0.06, 0.94, landscape.title or landscape.name, fontsize=14, fontweight="bold", color=palette.TEXT_COLOR)
    vline = lax.axvline(0, color="#3C3C3C", lw=1.0, ls=":", alpha=0.6)
    step_text = fig.text(0.98, 0.94, "", ha="right", fontsize=12, color=palette.TEXT_COLOR)
    animated += [vline, step_text]

    def update(j: int) -> None:
        for ups, tails, cur, lcur in updaters:
            for t, up in zip(tails, ups[j][: len(tails)], strict=True):
                t.set_data(up["x"], up["y"])
            cur.set_data(ups[j][-2]["x"], ups[j][-2]["y"])
            lcur.set_data(ups[j][-1]["x"], ups[j][-1]["y"])
        vline.set_xdata([steps_f[j], steps_f[j]])
        step_text.set_text(f"step {int(steps_f[j])}")

    return Scene(figure=fig, animated=animated, update=update, n_frames=len(steps_f))


def _equal(landscape: Landscape) -> bool:
    (x0, x1), (y0, y1) = landscape.bounds
    return 1 / 3 <= (y1 - y0) / (x1 - x0) <= 3


def to_gif(landscape: Landscape, series: Sequence[Series], *, fps: int = 20, max_frames: int = 120,
           dpi: int = 100) -> bytes:
    """Animated GIF of the paths and loss curves (loops).

    Parameters
    ----------
    landscape : Landscape
    series : sequence of Series
    fps : int
    max_frames : int
    dpi : int
        Pixels per inch of the 11 x 4.8 inch figure.

    Returns
    -------
    bytes
    """
    scene = surface_scene(landscape, series, max_frames=max_frames, dpi=dpi)
    # The last frame holds every colour that appears (tails and markers over the map), so fit the palette on it.
    last = next(render_frames(scene, [scene.n_frames - 1]))
    return encode_gif(render_frames(scene), fps, palette_from=[last])


def to_mp4(landscape: Landscape, series: Sequence[Series], *, fps: int = 20, max_frames: int = 200,
           dpi: int = 100) -> bytes:
    """H.264 MP4 of the paths and loss curves (for slides).

    Parameters
    ----------
    landscape : Landscape
    series : sequence of Series
    fps : int
    max_frames : int
    dpi : int

    Returns
    -------
    bytes
    """
    scene = surface_scene(landscape, series, max_frames=max_frames, dpi=dpi)
    return encode_mp4(render_frames(scene), fps)


def to_png(landscape: Landscape, series: Sequence[Series], *, frame: int | None = None, dpi: int = 150,
           max_frames: int = 300) -> bytes:
    """PNG of one animation frame (default: the last).

    Parameters
    ----------
    landscape : Landscape
    series : sequence of Series
    frame : int, optional
        Frame index as in the plotly figure built with the same ``max_frames`` (negative counts from the end).
    dpi : int
    max_frames : int

    Returns
    -------
    bytes
    """
    scene = surface_scene(landscape, series, max_frames=max_frames, dpi=dpi)
    j = scene.n_frames - 1 if frame is None else frame
    if not -scene.n_frames <= j < scene.n_frames:
        raise ValueError(f"frame must be in [0, {scene.n_frames - 1}], got {frame}")
    return encode_png(next(render_frames(scene, [j % scene.n_frames])))
