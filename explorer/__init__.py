"""The relevance explorer's engine: data, models, first stage, reranking, pipeline and charts.

Nothing in this package imports streamlit; the pages in ``app.py`` and ``pages/`` call into it.
Heavy libraries (torch, sentence-transformers, faiss) are imported inside the modules that use them.
"""

__version__ = "0.1.0"
