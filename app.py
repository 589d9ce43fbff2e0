"""Entry point: `streamlit run app.py`. Sets up the page and the navigation between the pages in pages/."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="Relevance explorer", page_icon="🔎", layout="wide")
navigation = st.navigation([
    st.Page(PAGES / "0_Search.py", title="Search", icon="🔎", default=True),
    st.Page(PAGES / "1_Dataset.py", title="Data set", icon="📚"),
    st.Page(PAGES / "2_Models.py", title="Models and device", icon="⚙️"),
    st.Page(PAGES / "3_Load_data.py", title="Load data", icon="📥"),
])
navigation.run()
