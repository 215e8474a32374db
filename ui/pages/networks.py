"""Networks page: the script Streamlit runs on every rerun; the page itself is :mod:`ui.networks_page`.

Imported once per process rather than executed on every rerun, so its cached
functions are made (and their source hashed) once, not in every session's run.
"""

from ui.networks_page import P, main
from ui.page import run_page

run_page(P, main)
