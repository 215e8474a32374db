"""Pure plotly figure builders and exports. No streamlit imports."""
