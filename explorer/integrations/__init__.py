"""Plugging a pipeline chosen in the explorer into other frameworks. Each integration is an optional module that
needs its framework installed (``langchain_compressor``: langchain-core); importing this package needs none."""
