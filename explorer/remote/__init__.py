"""Rerankers behind an HTTP API: Cohere, Voyage AI, Jina AI, and any service speaking the rerank API
(``rerank-api:URL``, this project's own ``python -m explorer serve`` among them).

A remote reranker loads like any other (``explorer.models.resolution.load_reranker("cohere:rerank-v3.5", ...)``)
and runs through the same scoring path: its engine (``explorer.remote.engine.RemoteEngine``) sends one request per
query and maps the answer back to the candidates. Keys come from environment variables only (through
``explorer.settings.Settings``) and are never shown, logged, saved or put into an error message.
"""
