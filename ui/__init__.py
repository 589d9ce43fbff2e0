"""Streamlit glue shared by app.py and the pages: cached engine loaders and the sidebar."""
