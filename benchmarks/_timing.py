"""Timing helpers shared by the benchmarks: best-of-N, interleaved contenders, machine facts, goals."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Smallest wall time of ``repeats`` calls, and the last result.

    The minimum is the figure least disturbed by other work on the machine.
    """
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def interleaved(contenders: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Best-of-``repeats`` wall time of each contender, taking turns.

    Contenders run A, B, A, B, ... so a burst of load on a shared machine
    hits all of them, and the ratios stay fair.

    Returns
    -------
    times : dict of name to seconds (best of the repeats)
    results : dict of name to the last return value
    """
    times = {name: float("inf") for name in contenders}
    results: dict[str, Any] = {}
    for _ in range(max(1, repeats)):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times, results


@dataclass(frozen=True)
class Goal:
    """A speed or size goal: ``value`` compared with ``target`` (``<=`` or ``>=``)."""

    name: str
    value: float
    target: float
    kind: str  # "<=" or ">="
    unit: str = "×"
    note: str = ""

    @property
    def passed(self) -> bool:
        """Whether the measured value meets the target."""
        return self.value <= self.target if self.kind == "<=" else self.value >= self.target

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name, "value": self.value, "target": self.target, "kind": self.kind,
            "unit": self.unit, "passed": self.passed, "note": self.note,
        }


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, cores, load and library versions: what a figure needs to be read fairly."""
    import numpy as np

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    try:
        info["load_average_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    for name in ("scipy", "torch", "jax", "jaxlib", "streamlit", "plotly"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "?")
        except ImportError:
            info[name] = None
    return info


def fmt_seconds(s: float) -> str:
    """Seconds in a readable unit."""
    if s >= 100:
        return f"{s:,.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"
