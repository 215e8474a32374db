"""Surfaces page: the script Streamlit runs on every rerun; the page itself is :mod:`ui.surfaces_page`.

Imported once per process rather than executed on every rerun, so its cached
functions are made (and their source hashed) once, not in every session's run.
"""

from ui.page import run_page
from ui.surfaces_page import P, main

run_page(P, main)
