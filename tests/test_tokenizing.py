"""A shared model's tokenizer used by several sessions at once: every call gets the settings it asked for."""

from __future__ import annotations

import threading

from explorer.retrieval.embedding import query_length
from explorer.retrieval.passages import count_over_length


def test_sessions_tokenising_at_once_do_not_change_each_others_padding(bi_encoder):
    """Seen with two browser sessions: one counting lengths (no padding) while another embedded (padding) gave
    the second unpadded rows and a ValueError. Here batches, counts and query lengths run in four threads."""
    texts = [" ".join(["word"] * (i % 40 + 1)) for i in range(48)]
    errors: list[str] = []

    def guarded(work) -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - collected, so every failure is reported
            errors.append(repr(exc)[:200])

    def embed() -> None:
        for _ in range(12):
            guarded(lambda: bi_encoder.engine.run(texts, "sentence_embedding"))

    def count() -> None:
        for _ in range(150):
            guarded(lambda: count_over_length(texts, bi_encoder.model.tokenizer, 16))
            guarded(lambda: query_length(bi_encoder, "how do I rotate the database password"))

    threads = [threading.Thread(target=work) for work in (embed, count, embed, count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
