"""The basin-map section of the surfaces page: every start on a grid, per optimizer.

Thin: cached maps from :func:`ui.common.basins_cached`, the figure from
:func:`viz.basin_figure.basin_figure`, and a table of shares.
"""

from __future__ import annotations

import time

import streamlit as st

from landscapes.base import Landscape
from optimizers import fused
from ui.codec import OptEntry
from ui.common import basins_cached, config_key
from viz import palette
from viz.basin_figure import BasinPanel, basin_figure

#: Runs × steps the page will start for all its basin maps together: a few seconds each way.
BUDGET_FUSED = 150_000_000
BUDGET_NUMPY = 6_000_000

INTRO = (
    "Each pixel is a start point, coloured by where the optimizer ended after the same number of steps: "
    "the critical point it settled at, *elsewhere* (still moving or stuck on a slope), or whether it "
    "diverged or left the window. Borders between colours are the watersheds between basins; compare how "
    "momentum or Adam move them (*where a path ends depends on where it starts*)."
)


@st.cache_resource(max_entries=16, show_spinner=False)
def _figure(key: str, _surface: Landscape, _panels: list[BasinPanel]) -> object:
    return basin_figure(_surface, _panels)


def basin_section(values: dict, surface: Landscape) -> None:
    """Render the basin maps for ``values["basins"]`` starts per axis (nothing when 0)."""
    n = values["basins"]
    steps = values["steps"]
    entries: list[OptEntry] = list(values["optimizers"])
    if not n:
        return
    st.subheader(f"Basins of attraction: {n * n:,} starts × {steps} steps per optimizer")
    st.caption(INTRO)
    panels: list[BasinPanel] = []
    shown: list[str] = []  # what each panel ran (labels alone do not change with the settings)
    t0 = time.perf_counter()
    with st.spinner(f"Running {n * n:,} starts per optimizer…"):
        spent = {True: 0, False: 0}
        for i, cfg in enumerate(e.config for e in entries):
            work = n * n * steps
            try:
                compiled = fused.unsupported(surface, cfg.build()) is None
            except ValueError:
                compiled = False
            budget = BUDGET_FUSED if compiled else BUDGET_NUMPY
            if spent[compiled] + work > budget:
                st.info(f"**{cfg.display}**: no basin map. The maps on this page may run {budget:,} run-steps "
                        f"together{'' if compiled else ' without compiled kernels'}, and {n * n:,} starts × {steps} "
                        "steps would pass that; choose a smaller grid, fewer steps or fewer optimizers.")
                continue
            spent[compiled] += work
            try:
                b = basins_cached(values["surface"], values["params"], cfg, steps, n)
            except ValueError as err:
                st.warning(f"**{cfg.display}**: no basin map ({err}).")
                continue
            panels.append(BasinPanel(cfg.display, palette.color_for(i), b))
            shown.append(f"{i}:{cfg.display}:{config_key(cfg)}")
    if not panels:
        return
    elapsed = time.perf_counter() - t0
    key = repr((values["surface"], values["params"], shown, steps, n))
    st.plotly_chart(_figure(key, surface, panels), theme=None, key="surf.basin_maps", width="stretch")
    shares = [p.basins.shares() for p in panels]
    seen = [label for label in panels[0].basins.labels if any(s[label] > 0 for s in shares)]
    rows = [{"optimizer": p.label, **{label: f"{s[label]:.1%}" if s[label] else "—" for label in seen}}
            for p, s in zip(panels, shares, strict=True)]
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(f"{len(panels) * n * n:,} runs in {elapsed:.2f} s on this page load (cached afterwards).")
