"""Notes placed on a figure's curves where something happens ("GD stalls here, step 120").

Pure functions on a figure's dict form (what ``fig.to_dict()`` returns), so a
page can add a lesson's notes to a cached figure without rebuilding it.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

_DTYPES = {"f8": np.float64, "f4": np.float32, "i4": np.int32, "i2": np.int16, "i1": np.int8,
           "u4": np.uint32, "u2": np.uint16, "u1": np.uint8}


def _array(v: Any) -> np.ndarray:
    """A trace coordinate as a float array (plain lists, numpy arrays and plotly's typed arrays)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=_DTYPES[v["dtype"]]).astype(np.float64)
    return np.asarray([np.nan if x is None else x for x in v], dtype=np.float64) if isinstance(v, list) \
        else np.asarray(v, dtype=np.float64)


def curve_notes(spec: dict[str, Any], notes: Sequence[tuple[str, float, str]], *, xaxis: str = "x",
                yaxis: str = "y") -> list[dict[str, Any]]:
    """Plotly annotations pointing at curves.

    Parameters
    ----------
    spec : dict
        The figure as a dict (``data`` and ``layout``).
    notes : sequence of (trace name, x, text)
        Each note points at the first trace named so on the given axes, at the
        recorded point nearest to ``x``.
    xaxis, yaxis : str
        The panel's axes (``"x2"``, ``"y2"``).

    Returns
    -------
    list of dict
        Annotations (arrows), ready for ``layout.annotations``; notes whose
        trace or point is missing are left out.
    """
    layout = spec.get("layout", {})
    ykey = "yaxis" + yaxis[1:]
    log_y = layout.get(ykey, {}).get("type") == "log"
    log_x = layout.get("xaxis" + xaxis[1:], {}).get("type") == "log"
    out = []
    for k, (name, x, text) in enumerate(notes):
        trace = next((t for t in spec.get("data", []) if t.get("name") == name and t.get("xaxis", "x") == xaxis
                      and t.get("yaxis", "y") == yaxis and "x" in t and "y" in t), None)
        if trace is None:
            continue
        xs, ys = _array(trace["x"]), _array(trace["y"])
        ok = np.isfinite(xs) & np.isfinite(ys)
        if not ok.any() or not math.isfinite(x):
            continue
        i = int(np.flatnonzero(ok)[np.argmin(np.abs(xs[ok] - x))])
        px, py = float(xs[i]), float(ys[i])
        if (log_y and py <= 0) or (log_x and px <= 0):
            continue
        out.append(dict(
            x=math.log10(px) if log_x else px, y=math.log10(py) if log_y else py, xref=xaxis, yref=yaxis,
            text=text, showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1.2, ax=(40 + 25 * (k // 2)) * (1 if k % 2 == 0 else -1),
            ay=-30 - 22 * (k % 3), bgcolor="rgba(255,255,255,0.85)", bordercolor=trace.get("line", {}).get(
                "color", "#555"), borderwidth=1, font=dict(size=12),
        ))
    return out
