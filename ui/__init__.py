"""Streamlit page code and UI components. Numerics never import from here."""
