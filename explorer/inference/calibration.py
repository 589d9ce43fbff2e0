"""Typical inputs for int8 calibration: the scales of a quantised model are set on what it will read.

The pairs come from the project's own sample data (its train queries, each with the documents judged for
it and a few others), so they are the same on every machine and for every corpus: a quantised model is
built once per reranker and reused. They never include the sample data's test queries.
"""

from __future__ import annotations

import random
from pathlib import Path

from explorer.loading import load_beir
from explorer.settings import SAMPLE_DATA

CALIBRATION_PAIRS = 384
CALIBRATION_BATCH = 16
_SPLIT = "train"


def calibration_pairs(folder: Path = SAMPLE_DATA, count: int = CALIBRATION_PAIRS,
                      seed: int = 0) -> list[tuple[str, str]]:
    """(query, document) pairs as a reranker meets them: judged documents and unrelated ones, mixed."""
    data = load_beir(folder)
    rng = random.Random(seed)
    documents = list(data.documents)
    pairs: list[tuple[str, str]] = []
    for query_id, labels in sorted(data.qrels_by_split.get(_SPLIT, {}).items()):
        query = data.queries.get(query_id)
        if query is None:
            continue
        judged = [data.document(doc_id).full_text for doc_id in sorted(labels)][:3]
        others = [doc.full_text for doc in rng.sample(documents, k=min(2, len(documents)))]
        pairs += [(query.text, text) for text in judged + others]
    rng.shuffle(pairs)
    return pairs[:count]
