import streamlit as st

st.title("Surfaces")
st.info("Being built.")
