"""Signals beyond relevance: freshness, authority, numeric fields and diversity, mixed with the reranker's score.

``dates`` reads date values, ``fields`` describes a corpus's metadata fields, ``config`` holds a signal
configuration (and its command-line and JSON forms), ``ranking`` applies one to a ranked list, ``diversity``
reorders for diversity and measures redundancy, and ``weights`` searches the weights on one split.
"""
