"""Descent Lab: the entry script only routes (st.navigation over pages)."""

import streamlit as st

from ui.page import FAVICON

st.set_page_config(page_title="Descent Lab", page_icon=FAVICON, layout="wide")
page = st.navigation(
    [
        st.Page("ui/pages/lessons.py", title="Lessons", icon=":material/school:", default=True, url_path="lessons"),
        st.Page("ui/pages/surfaces.py", title="Surfaces", icon=":material/map:", url_path="surfaces"),
        st.Page("ui/pages/networks.py", title="Networks", icon=":material/neurology:", url_path="networks"),
    ]
)
# Streamlit's default top padding (6rem) pushes a figure's Play controls below the fold on a 1280x720 projector.
st.html("<style>.block-container, [data-testid=\"stMainBlockContainer\"] { padding-top: 2.2rem; padding-bottom: 2rem; }</style>")
page.run()
