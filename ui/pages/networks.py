import streamlit as st

st.title("Networks")
st.info("Being built.")
