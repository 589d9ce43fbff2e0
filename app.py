"""Entry point: `streamlit run app.py`. Sets up the page and the navigation between the pages in pages/."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="Relevance explorer", page_icon=":material/search:", layout="wide")
# The Search page is served at the root; /search, where people look for it, leads there too.
search = st.Page(PAGES / "0_Search.py", title="Search", icon=":material/search:", url_path="explore", default=True)
navigation = st.navigation([
    search,
    st.Page(lambda: st.switch_page(search), title="Search", url_path="search", visibility="hidden"),
    st.Page(PAGES / "1_Dataset.py", title="Data set", icon=":material/dataset:", url_path="dataset"),
    st.Page(PAGES / "2_Models.py", title="Models and device", icon=":material/memory:", url_path="models"),
    st.Page(PAGES / "3_Load_data.py", title="Load data", icon=":material/upload_file:", url_path="load"),
    st.Page(PAGES / "4_Train.py", title="Train a reranker", icon=":material/model_training:", url_path="train"),
    st.Page(PAGES / "5_Attention.py", title="See why: attention", icon=":material/visibility:", url_path="attention"),
    st.Page(PAGES / "13_Explain.py", title="See why: what moved the score", icon=":material/troubleshoot:",
            url_path="explain"),
    st.Page(PAGES / "6_Evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
    st.Page(PAGES / "12_Story.py", title="Story: did it help?", icon=":material/auto_stories:", url_path="story"),
    st.Page(PAGES / "7_Thresholds.py", title="Score threshold", icon=":material/tune:", url_path="thresholds"),
    st.Page(PAGES / "8_Compare.py", title="Compare configurations", icon=":material/compare_arrows:",
            url_path="compare"),
    st.Page(PAGES / "9_Judge.py", title="Judge", icon=":material/gavel:", url_path="judge"),
    st.Page(PAGES / "14_AI_judge.py", title="AI judge", icon=":material/smart_toy:", url_path="ai-judge"),
    st.Page(PAGES / "10_Snapshots.py", title="Snapshots", icon=":material/photo_library:", url_path="snapshots"),
    st.Page(PAGES / "11_Milvus.py", title="Milvus", icon=":material/database:", url_path="milvus"),
], expanded=True)  # every page listed: none hidden behind "View more"
navigation.run()
