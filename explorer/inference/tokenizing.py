"""One tokenisation at a time per tokenizer: a Hugging Face fast tokenizer is not safe to share between threads.

Its padding and truncation settings live in the shared Rust tokenizer and each call sets them, so one session
counting lengths (no padding) while another prepares a batch (padding) hands the second unpadded rows ("Unable to
create tensor ... expected sequence of length 20 at dim 1 (got 4)"), seen with two browser sessions at once.
Every tokenisation of a shared model goes through ``tokenizing(model)``; the model calls themselves still
overlap. ``preprocessed`` is the engine's tokenisation: the model's own, with its tensors made faster.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

_GUARD = threading.Lock()
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_UNKEYED = threading.Lock()  # for a tokenizer that cannot be a weak dictionary key


def tokenizing(owner: Any) -> threading.Lock:
    """The lock to hold while tokenising with ``owner`` (a model with a ``tokenizer``, or a tokenizer itself)."""
    tokenizer = getattr(owner, "tokenizer", None) or owner
    with _GUARD:
        try:
            lock = _LOCKS.get(tokenizer)
            if lock is None:
                lock = _LOCKS[tokenizer] = threading.Lock()
        except TypeError:
            return _UNKEYED
    return lock


# Transformer tasks whose preprocessing works on the tensors after tokenising (left padding checks, logits kept)
_TENSOR_TASKS = ("text-generation", "any-to-any")


def preprocessed(model: Any, inputs: list[Any]) -> dict[str, Any]:
    """``model.preprocess(inputs)``, the same tensors made faster where the model is a plain text encoder.

    Asked for PyTorch tensors, the Hugging Face tokenizer walks every token id in Python twice (a check that the
    lists are not empty, then ``torch.tensor`` of nested lists): about a third of tokenising 100 (query, document)
    pairs. For a text-only transformer with a fast tokenizer, the tokenizer is asked for its padded lists and numpy
    makes the tensors at once; the ids, masks and shapes are the same (tested). Anything else (chat templates,
    query expansion, generation models, slow tokenizers) goes through ``model.preprocess`` unchanged. Call it under
    ``tokenizing(model)``."""
    if not inputs or not _plain_text_encoder(model):
        return model.preprocess(inputs)
    import torch

    features = dict(model.preprocess(inputs, processing_kwargs={"common": {"return_tensors": None}}))
    for key, value in features.items():
        if isinstance(value, list):
            try:
                array = np.asarray(value)
            except ValueError:  # rows of different lengths: not padded
                return model.preprocess(inputs)
            if array.dtype.kind not in "iub" or array.ndim != 2:
                return model.preprocess(inputs)  # not a padded table of ids or flags: let the model make its tensors
            features[key] = torch.from_numpy(array.astype(np.int64, copy=False))
    return features


def _plain_text_encoder(model: Any) -> bool:
    """Whether ``model``'s first module is a sentence-transformers Transformer reading text alone with a fast
    tokenizer, whose preprocessing does nothing to the tokenizer's output but add its modality."""
    try:
        first = model[0]
    except (TypeError, IndexError, KeyError):
        return False
    processor = getattr(first, "processor", None)
    return (type(first).__name__ == "Transformer" and bool(getattr(processor, "is_fast", False))
            and getattr(first, "transformer_task", None) not in _TENSOR_TASKS
            and getattr(first, "query_expansion", None) is None
            and set(getattr(first, "modality_config", None) or ()) == {"text"})
