"""A shared model's tokenizer used by several sessions at once: every call gets the settings it asked for."""

from __future__ import annotations

import threading

import pytest
import torch

from explorer.inference.tokenizing import preprocessed
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


LONG = "Flutter of a swept wing at transonic speed. " * 120  # far past either model's token limit


@pytest.mark.parametrize("which", ["reranker", "bi_encoder"])
def test_the_engines_tokenising_gives_the_models_own_tensors(which, request, sample):
    """``preprocessed`` makes the tensors with numpy rather than the tokenizer's Python loops: the same keys, ids,
    masks, dtypes and shapes as ``model.preprocess``, for pairs and single texts, padded, cut at the limit, empty and
    accented."""
    model = request.getfixturevalue(which).model
    texts = [doc.full_text for doc in list(sample.documents)[:12]] + [LONG, "", "Étude de l'écoulement — naïve"]
    inputs = [("what is flutter", text) for text in texts] if which == "reranker" else texts
    expected = model.preprocess(inputs)
    made = preprocessed(model, inputs)
    assert made.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert made[key].dtype == value.dtype and torch.equal(made[key], value), key
        else:
            assert made[key] == value, key
    assert expected["input_ids"].shape[1] == model.max_seq_length  # LONG was cut at the limit, and padded to
    assert preprocessed(model, inputs[:1])["input_ids"].shape == model.preprocess(inputs[:1])["input_ids"].shape


def test_a_model_that_is_not_a_plain_text_encoder_gets_its_own_preprocessing():
    """Anything but a text-only sentence-transformers Transformer first (here a stand-in with no modules) is handed
    to ``model.preprocess`` as it is, with its own arguments."""
    calls = []

    class Other:
        def preprocess(self, inputs, **kwargs):
            calls.append(kwargs)
            return {"input_ids": torch.zeros((len(inputs), 3), dtype=torch.int64)}

    assert preprocessed(Other(), ["a", "b"])["input_ids"].shape == (2, 3)
    assert calls == [{}]
