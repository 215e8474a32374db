"""Shared by the AppTest modules: scan the installed packages for Streamlit components once per test session.

Every new ``AppTest`` scans the metadata of every installed distribution for component manifests
(``streamlit.components.v2.manifest_scanner.scan_component_manifests``): about 0.4 s of CPU each, a third
of the UI suite. The installed packages do not change during a test session, so one scan serves all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_component_scan() -> Iterator[None]:
    """Cache the component-manifest scan for the session (undone at its end)."""
    from streamlit.components.v2 import manifest_scanner

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests",
                   functools.cache(manifest_scanner.scan_component_manifests))
        yield
